"""Caption corpora as distributed -> Lhotse manifests: one module per source, registered by name.

Each module registers a :class:`~audiotext.data.corpora.base.CorpusPreparer` subclass with
``@register_corpus("name")``; every module of this package is imported here, so adding a source
is adding a file. Users register their own from a plugin module (``--user-dir``).
``python -m audiotext.bin.prepare_corpus NAME CORPUS_DIR OUT_DIR`` runs one.
"""
import importlib
import pkgutil

from audiotext.data.corpora.base import (  # noqa: F401
    CORPORA, SPLITS, SUMMARY_NAME, AudioIndex, CaptionAccounting, ClipEntry, CorpusPreparer, SplitCounts,
    prepare_corpus, register_corpus,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "common"):
        importlib.import_module(f"{__name__}.{_module.name}")
