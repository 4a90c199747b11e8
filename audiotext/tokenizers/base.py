from __future__ import annotations

from typing import List, Sequence

from audiotext.registry import Registry


class Tokenizer:
    """Base of every tokenizer. Ids: ``pad_id`` pads, ``bos_id``/``eos_id`` frame a caption."""

    vocab_size: int
    pad_id: int
    bos_id: int
    eos_id: int

    def encode(self, text: str) -> List[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def encode_with_specials(self, text: str, max_length: int) -> List[int]:
        """[bos] + pieces + [eos], the pieces cut so that the whole fits in ``max_length``."""
        pieces = self.encode(text)[: max(0, max_length - 2)]
        return [self.bos_id, *pieces, self.eos_id]


TOKENIZERS: Registry[Tokenizer] = Registry("tokenizer", Tokenizer)
register_tokenizer = TOKENIZERS.register
