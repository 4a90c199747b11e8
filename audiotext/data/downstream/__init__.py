"""Downstream (frozen-encoder probing) data sets read from their official on-disk layouts.

``PREPARERS[name](corpus_dir, output_dir, **options) -> {split: path}`` writes one Lhotse
CutSet per split (``cuts_<split>.jsonl.gz``) and ``prepare_summary.json`` (clip counts,
label counts, skipped clips by reason) into ``output_dir``. Each cut has one supervision
spanning the clip whose ``custom`` holds ``label`` (multi-class) or ``labels``
(multi-label), ``fold`` where the data set has folds, ``domain``, ``task`` and extras; see
:mod:`audiotext.data.downstream.common`. ``DATASETS[name]`` says how each is evaluated.

Cuts keep the files' own sampling rate (pass ``sampling_rate`` for a lazy resample);
multi-channel files become lhotse MultiCuts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Tuple

from .common import (
    SUMMARY_NAME, DownstreamError, Item, LayoutError, MissingFileError, SkipLog, read_summary, write_splits,
)
from .music import prepare_gtzan, prepare_mtat, prepare_nsynth, select_top_tags
from .sound import prepare_esc50, prepare_fsd50k, prepare_urbansound8k, prepare_vggsound
from .speech import crema_d_fold, prepare_crema_d, prepare_speech_commands, prepare_voxceleb1


@dataclass(frozen=True)
class DatasetInfo:
    """How a prepared data set is probed.

    ``protocol``: ``"folds"`` (cross-validation over the ``fold<k>`` splits, one held out
    at a time) or ``"splits"`` (fixed train/valid/test, or train/test where there is no
    valid split). ``label_key``: the ``custom`` key to predict.
    """

    domain: str
    protocol: str
    label_key: str
    multilabel: bool
    splits: Tuple[str, ...]


PREPARERS: Dict[str, Callable[..., Dict[str, Path]]] = {
    "esc50": prepare_esc50,
    "urbansound8k": prepare_urbansound8k,
    "fsd50k": prepare_fsd50k,
    "vggsound": prepare_vggsound,
    "voxceleb1": prepare_voxceleb1,
    "crema_d": prepare_crema_d,
    "speech_commands": prepare_speech_commands,
    "nsynth": prepare_nsynth,
    "gtzan": prepare_gtzan,
    "mtat": prepare_mtat,
}


def _folds(n: int) -> Tuple[str, ...]:
    return tuple(f"fold{k}" for k in range(1, n + 1))


DATASETS: Dict[str, DatasetInfo] = {
    "esc50": DatasetInfo("sound", "folds", "label", False, _folds(5)),
    "urbansound8k": DatasetInfo("sound", "folds", "label", False, _folds(10)),
    "fsd50k": DatasetInfo("sound", "splits", "labels", True, ("train", "valid", "test")),
    "vggsound": DatasetInfo("sound", "splits", "label", False, ("train", "test")),
    "voxceleb1": DatasetInfo("speech", "splits", "label", False, ("train", "valid", "test")),
    "crema_d": DatasetInfo("speech", "folds", "label", False, _folds(5)),
    "speech_commands": DatasetInfo("speech", "splits", "label", False, ("train", "valid", "test")),
    # also probe custom['pitch'] for the NSynth pitch task
    "nsynth": DatasetInfo("music", "splits", "label", False, ("train", "valid", "test")),
    # default: folds; prepare_gtzan(split_dir=...) writes the filtered train/valid/test split instead
    "gtzan": DatasetInfo("music", "folds", "label", False, _folds(10)),
    "mtat": DatasetInfo("music", "splits", "labels", True, ("train", "valid", "test")),
}


def prepare(name: str, corpus_dir, output_dir, **options) -> Dict[str, Path]:
    """Run the preparer called ``name``; unknown names raise ``KeyError`` listing the valid ones."""
    if name not in PREPARERS:
        raise KeyError(f"unknown downstream data set {name!r}; choose from {', '.join(sorted(PREPARERS))}")
    return PREPARERS[name](corpus_dir, output_dir, **options)


__all__ = [
    "DATASETS", "PREPARERS", "SUMMARY_NAME", "DatasetInfo", "DownstreamError", "Item", "LayoutError",
    "MissingFileError", "SkipLog", "crema_d_fold", "prepare", "read_summary", "select_top_tags", "write_splits",
    *(f"prepare_{name}" for name in PREPARERS),
]
