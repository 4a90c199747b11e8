"""audiotext: audio-language pretraining (contrastive, captioning) of one audio encoder.

The public decorators register user components; see docs/extending.md.
``audiotext.load_pretrained(dir)`` loads an exported model (or a checkpoint directory).
Names are resolved on first use, so data tools (preparers, curation) run without importing torch.
"""
import importlib

__version__ = "0.1.0"

_LAZY = {
    "register_encoder": "audiotext.models.encoders",
    "register_pooling": "audiotext.models.pooling",
    "register_text_encoder": "audiotext.models.text_encoders",
    "register_objective": "audiotext.objectives",
    "register_task": "audiotext.tasks",
    "register_tokenizer": "audiotext.tokenizers",
    "register_corpus": "audiotext.data.corpora",
    "load_pretrained": "audiotext.export",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'audiotext' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
