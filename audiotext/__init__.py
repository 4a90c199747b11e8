"""audiotext: audio-language pretraining (contrastive, captioning) of one audio encoder.

The public decorators register user components; see docs/extending.md.
``audiotext.load_pretrained(dir)`` loads an exported model (or a checkpoint directory).
"""
from audiotext.models.encoders import register_encoder  # noqa: F401
from audiotext.models.pooling import register_pooling  # noqa: F401
from audiotext.models.text_encoders import register_text_encoder  # noqa: F401
from audiotext.objectives import register_objective  # noqa: F401
from audiotext.tasks import register_task  # noqa: F401
from audiotext.tokenizers import register_tokenizer  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name):
    # ``audiotext.load_pretrained`` without importing the export module (and its deps) up front
    if name == "load_pretrained":
        from audiotext.export import load_pretrained

        return load_pretrained
    raise AttributeError(f"module 'audiotext' has no attribute {name!r}")
