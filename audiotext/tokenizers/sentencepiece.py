"""SentencePiece tokenizer, trained on the training captions by a recipe stage."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Sequence

import sentencepiece as spm

from audiotext.tokenizers.base import Tokenizer, register_tokenizer

# fixed ids so that padding is 0 for every model
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


@register_tokenizer("sentencepiece")
class SentencePieceTokenizer(Tokenizer):
    @dataclass
    class Config:
        model: str = ""  # path to a trained .model file

    def __init__(self, conf: "SentencePieceTokenizer.Config"):
        path = Path(conf.model)
        if not conf.model or not path.is_file():
            raise FileNotFoundError(
                f"tokenizer_conf.model: sentencepiece model not found: {conf.model!r} "
                "(train one with `python -m audiotext.bin.train_tokenizer`)"
            )
        self.model_path = path
        self.sp = spm.SentencePieceProcessor(model_file=str(path))
        self.vocab_size = self.sp.get_piece_size()
        self.pad_id, self.bos_id, self.eos_id = self.sp.pad_id(), self.sp.bos_id(), self.sp.eos_id()
        if min(self.pad_id, self.bos_id, self.eos_id) < 0:
            raise ValueError(f"{path}: the model needs pad, bos and eos pieces (train it with train_sentencepiece)")

    def encode(self, text: str) -> List[int]:
        return self.sp.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        specials = {self.pad_id, self.bos_id, self.eos_id}
        return self.sp.decode([int(i) for i in ids if int(i) not in specials])


def train_sentencepiece(captions: Iterable[str], model_prefix: str, vocab_size: int = 1000,
                        model_type: str = "unigram") -> Path:
    """Train a model on ``captions``; writes ``<model_prefix>.model`` (atomically)."""
    captions = [c.strip() for c in captions if c and c.strip()]
    if not captions:
        raise ValueError("no captions to train the tokenizer on")
    Path(model_prefix).parent.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(captions),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        hard_vocab_limit=False,  # small corpora may not support the requested size
        num_threads=2,
        minloglevel=2,
    )
    out = Path(f"{model_prefix}.model")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(model.getvalue())
    tmp.replace(out)
    return out
