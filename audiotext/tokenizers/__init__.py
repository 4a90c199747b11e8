"""Tokenizers: text <-> token ids, registered by name."""
from audiotext.tokenizers.base import TOKENIZERS, Tokenizer, register_tokenizer  # noqa: F401
from audiotext.tokenizers import sentencepiece, byte  # noqa: F401  (register built-ins)
