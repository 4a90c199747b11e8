"""Byte-level fallback tokenizer: needs no training and no model file."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

from audiotext.tokenizers.base import Tokenizer, register_tokenizer


@register_tokenizer("byte")
class ByteTokenizer(Tokenizer):
    @dataclass
    class Config:
        pass

    SPECIALS = 4  # pad, unk (unused), bos, eos come before the 256 bytes

    def __init__(self, conf=None):
        self.vocab_size = 256 + self.SPECIALS
        self.pad_id, self.bos_id, self.eos_id = 0, 2, 3

    def encode(self, text: str) -> List[int]:
        return [b + self.SPECIALS for b in text.encode("utf-8")]

    def decode(self, ids: Sequence[int]) -> str:
        data = bytes(int(i) - self.SPECIALS for i in ids if int(i) >= self.SPECIALS)
        return data.decode("utf-8", errors="replace")
