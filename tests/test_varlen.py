"""Varlen packing (PackedBatch through the blocks) against the padded path, on CPU.

flash-attn is not installed here and needs CUDA, so its varlen entry point is replaced
by ``standin_varlen_func``: plain torch with flash-attn's signature, looping over the
packed sequences. ``flash_usable`` is patched to say yes, which makes the "flash" path
(and "auto") selectable with CPU fp32 tensors. What this checks: the packing, the
cu_seqlens/max_seqlen arguments, the causal alignment, that the models stay packed
through all layers, and that outputs and gradients equal the padded SDPA path. What it
cannot check: the real flash-attn kernel.
"""
import math

import pytest
import torch
from torch import nn
from torch.utils import _pytree as pytree

from audiotext.decoding import DecodeConfig, decode
from audiotext.models import attention as attn_mod
from audiotext.models.attention import PackedBatch, attention, compute_dtype, uses_packing, varlen_attention
from audiotext.models.encoders.transformer import TransformerAudioEncoder
from audiotext.models.pooling import AttentionPooling
from audiotext.models.text_decoder import TextDecoder, TextDecoderConfig
from audiotext.models.text_encoders.transformer import TransformerTextEncoder
from audiotext.models.transformer import lengths_to_mask

TOL = 1e-5


def standin_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                        softmax_scale=None, causal=False, window_size=(-1, -1), softcap=0.0, alibi_slopes=None,
                        deterministic=False, return_attn_probs=False, block_table=None):
    """flash_attn.flash_attn_varlen_func in plain torch (no dropout, no window, no alibi).

    q (total_q, heads, d), k/v (total_k, heads, d); sequence b is rows cu[b]:cu[b+1].
    Causal is bottom-right aligned per sequence; a query that sees no key gives 0.
    """
    assert q.dim() == 3 and k.shape == v.shape and q.shape[1:] == k.shape[1:]
    assert q.dtype == k.dtype == v.dtype and q.stride(-1) == k.stride(-1) == v.stride(-1) == 1
    for cu, total, max_len in ((cu_seqlens_q, q.shape[0], max_seqlen_q), (cu_seqlens_k, k.shape[0], max_seqlen_k)):
        assert cu.dtype == torch.int32 and cu.device == q.device and cu.dim() == 1
        assert int(cu[0]) == 0 and int(cu[-1]) == total
        assert isinstance(max_len, int) and max_len == int((cu[1:] - cu[:-1]).max())
    assert cu_seqlens_q.shape == cu_seqlens_k.shape
    assert dropout_p == 0.0 and window_size == (-1, -1) and softcap == 0.0 and alibi_slopes is None
    assert not return_attn_probs and block_table is None
    scale = 1.0 / math.sqrt(q.shape[-1]) if softmax_scale is None else softmax_scale
    cq, ck = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    outs = []
    for b in range(len(cq) - 1):
        qs, ks, vs = q[cq[b]:cq[b + 1]], k[ck[b]:ck[b + 1]], v[ck[b]:ck[b + 1]]
        lq, lk = qs.shape[0], ks.shape[0]
        scores = torch.einsum("qhd,khd->hqk", qs, ks) * scale
        allowed = torch.ones(lq, lk, dtype=torch.bool)
        if causal:
            allowed = torch.arange(lk)[None, :] <= torch.arange(lq)[:, None] + (lk - lq)
        probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1)
        probs = torch.nan_to_num(probs, nan=0.0)  # rows that see no key
        outs.append(torch.einsum("hqk,khd->qhd", probs, vs))
    return torch.cat(outs, 0)


class Recorder:
    """Counts the stand-in's calls and what each was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, **kw):
        self.calls.append(dict(total_q=q.shape[0], total_k=k.shape[0], max_q=max_seqlen_q, max_k=max_seqlen_k,
                               causal=kw.get("causal", False), cu_q=cu_seqlens_q.tolist(),
                               cu_k=cu_seqlens_k.tolist()))
        return standin_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, **kw)


@pytest.fixture
def flash(monkeypatch):
    """The stand-in as flash-attn, and flash usable on CPU/fp32 (this test only)."""
    rec = Recorder()
    monkeypatch.setattr(attn_mod, "flash_attn_varlen_func", rec)
    monkeypatch.setattr(attn_mod, "flash_usable", lambda x, dtype=None: True)
    return rec


@pytest.fixture
def pack_counts(monkeypatch):
    """How often the models pack (from_padded) and unpack (to_padded)."""
    counts = {"from_padded": 0, "to_padded": 0}
    orig_from, orig_to = PackedBatch.from_padded.__func__, PackedBatch.to_padded

    def from_padded(cls, x, lengths):
        counts["from_padded"] += 1
        return orig_from(cls, x, lengths)

    def to_padded(self, total_time=None):
        counts["to_padded"] += 1
        return orig_to(self, total_time)

    monkeypatch.setattr(PackedBatch, "from_padded", classmethod(from_padded))
    monkeypatch.setattr(PackedBatch, "to_padded", to_padded)
    return counts


def linear_rows(module):
    """Forward hooks on every nn.Linear under ``module``: name -> leading dims of its inputs."""
    seen, handles = {}, []
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Linear):
            handles.append(sub.register_forward_hook(
                lambda m, inp, out, name=name: seen.setdefault(name, []).append(tuple(inp[0].shape[:-1]))))
    return seen, handles


def max_diff(a, b):
    return (a - b).abs().max().item()


def rand(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- PackedBatch

def test_packed_batch_round_trip_and_layout():
    x = rand(3, 5, 2, 4, seed=0).requires_grad_(True)
    lengths = torch.tensor([5, 2, 0])
    p = PackedBatch.from_padded(x, lengths)
    assert p.values.shape == (7, 2, 4)
    assert p.cu_seqlens.dtype == torch.int32 and p.cu_seqlens.tolist() == [0, 5, 7, 7]
    assert p.max_len == 5 and isinstance(p.max_len, int) and p.batch_size == 3
    assert p.lengths.tolist() == [5, 2, 0]
    assert torch.equal(p.values[:5], x[0].detach()) and torch.equal(p.values[5:], x[1, :2].detach())
    back = p.to_padded()
    assert back.shape == (3, 5, 2, 4)
    assert torch.equal(back[0], x[0].detach()) and torch.equal(back[1, :2], x[1, :2].detach())
    assert (back[1, 2:] == 0).all() and (back[2] == 0).all()
    assert p.to_padded(8).shape == (3, 8, 2, 4) and (p.to_padded(8)[:, 5:] == 0).all()
    with pytest.raises(ValueError, match="shorter"):
        p.to_padded(4)
    # gradients flow to the valid positions only
    back.sum().backward()
    assert torch.equal(x.grad, lengths_to_mask(lengths, 5)[:, :, None, None].float().expand_as(x))
    # with_values / map keep the sequence layout; a wrong row count is refused
    q = p.map(lambda t: t.sum(-1))
    assert q.values.shape == (7, 2) and q.cu_seqlens is p.cu_seqlens and q.max_len == 5
    with pytest.raises(ValueError, match="rows"):
        p.with_values(torch.zeros(6, 2))
    with pytest.raises(ValueError, match="do not fit"):
        PackedBatch.from_padded(x, torch.tensor([6, 1, 1]))
    # a pytree node: tree-mapping hooks (FSDP2) see the tensors inside
    leaves, spec = pytree.tree_flatten(p)
    assert len(leaves) == 2 and leaves[0] is p.values and leaves[1] is p.cu_seqlens
    rebuilt = pytree.tree_unflatten(leaves, spec)
    assert isinstance(rebuilt, PackedBatch) and rebuilt.max_len == 5


# ---------------------------------------------------------------- varlen_attention

def padded_qkv(b, h, tq, tk, d, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, h, tq, d, generator=g), torch.randn(b, h, tk, d, generator=g),
            torch.randn(b, h, tk, d, generator=g))


def pack_heads(t, lengths):
    """(B, H, T, D) -> PackedBatch of (total, H, D)."""
    return PackedBatch.from_padded(t.transpose(1, 2), lengths)


def varlen_vs_padded(q, k, v, q_lens, k_lens, causal, backend="flash", seed=0):
    """varlen_attention on packed q/k/v against padded SDPA; returns (out diff, grad diffs)."""
    qmask, kmask = lengths_to_mask(q_lens, q.shape[2]), lengths_to_mask(k_lens, k.shape[2])
    grad_out = rand(*q.shape, seed=seed + 1)
    # padded reference
    qq, kk, vv = (t.clone().requires_grad_(True) for t in (q, k, v))
    ref = attention(qq, kk, vv, key_mask=kmask, query_mask=qmask, causal=causal, backend="sdpa")
    ref.backward(grad_out)
    # packed
    pq, pk, pv = pack_heads(q, q_lens), pack_heads(k, k_lens), pack_heads(v, k_lens)
    leaves = [t.values.clone().requires_grad_(True) for t in (pq, pk, pv)]
    out = varlen_attention(*leaves, pq.cu_seqlens, pk.cu_seqlens, pq.max_len, pk.max_len,
                           causal=causal, backend=backend)
    assert out.shape == pq.values.shape
    out.backward(pack_heads(grad_out, q_lens).values)
    diffs = {"out": max_diff(out, pack_heads(ref.detach(), q_lens).values)}
    for name, leaf, full, lens in zip("qkv", leaves, (qq, kk, vv), (q_lens, k_lens, k_lens)):
        assert torch.isfinite(leaf.grad).all()
        diffs["d" + name] = max_diff(leaf.grad, pack_heads(full.grad, lens).values)
    return out.detach(), diffs


CASES = {
    # name: (q_lens, k_lens, Tq, Tk, causal)
    "self": ([9, 4, 1, 7], [9, 4, 1, 7], 9, 9, False),
    "causal_self": ([9, 4, 1, 7], [9, 4, 1, 7], 9, 9, True),
    # unequal q/k lengths, the same offset in every row (lk - lq == Tk - Tq): the padded path's
    # bottom-right alignment on the padded axes is then flash-attn's per sequence
    "causal_fewer_queries": ([3, 5, 1, 2], [7, 9, 5, 6], 5, 9, True),
    "causal_more_queries": ([6, 4, 8, 4], [3, 1, 5, 1], 8, 5, True),
    "cross": ([7, 3, 1, 5], [2, 11, 6, 1], 7, 11, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_varlen_standin_equals_padded_sdpa(flash, case):
    q_lens, k_lens, tq, tk, causal = CASES[case]
    q_lens, k_lens = torch.tensor(q_lens), torch.tensor(k_lens)
    if causal and tq != tk:
        assert ((k_lens - q_lens) == tk - tq).all()
    q, k, v = padded_qkv(len(q_lens), 3, tq, tk, 8, seed=len(case))
    _, diffs = varlen_vs_padded(q, k, v, q_lens, k_lens, causal)
    assert len(flash.calls) == 1
    call = flash.calls[0]
    assert call["total_q"] == int(q_lens.sum()) and call["total_k"] == int(k_lens.sum())
    assert call["max_q"] == int(q_lens.max()) and call["max_k"] == int(k_lens.max()) and call["causal"] == causal
    assert max(diffs.values()) <= TOL, diffs


def per_sequence_reference(pq, pk, pv, causal):
    """Each sequence on its own, unpadded, through the math path (bottom-right = its own lengths)."""
    outs = []
    cq, ck = pq.cu_seqlens.tolist(), pk.cu_seqlens.tolist()
    for b in range(pq.batch_size):
        qs, ks, vs = (t.values[c[b]:c[b + 1]].transpose(0, 1)[None] for t, c in ((pq, cq), (pk, ck), (pv, ck)))
        out = attention(qs, ks, vs, causal=causal, backend="math")[0].transpose(0, 1)
        if causal:  # rows that see no key: 0
            out[: max(0, qs.shape[2] - ks.shape[2])] = 0.0
        outs.append(out)
    return torch.cat(outs)


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
def test_varlen_paths_agree_with_per_row_offsets(flash, causal):
    """lk - lq differs from row to row (and is negative in some): all three varlen paths
    align causal masks per sequence, as flash-attn does."""
    q_lens, k_lens = torch.tensor([4, 6, 1, 5, 3]), torch.tensor([7, 2, 3, 5, 1])
    q, k, v = padded_qkv(5, 2, 6, 7, 8, seed=11)
    pq, pk, pv = pack_heads(q, q_lens), pack_heads(k, k_lens), pack_heads(v, k_lens)
    ref = per_sequence_reference(pq, pk, pv, causal)
    results = {}
    for backend in ("flash", "sdpa", "math"):
        leaves = [t.values.clone().requires_grad_(True) for t in (pq, pk, pv)]
        out = varlen_attention(*leaves, pq.cu_seqlens, pk.cu_seqlens, pq.max_len, pk.max_len,
                               causal=causal, backend=backend)
        out.backward(torch.ones_like(out))
        assert torch.isfinite(out).all() and all(torch.isfinite(t.grad).all() for t in leaves)
        assert max_diff(out, ref) <= TOL, backend
        results[backend] = [out.detach()] + [t.grad for t in leaves]
    assert len(flash.calls) == 1  # only the flash path called it
    for backend in ("sdpa", "math"):
        for a, b in zip(results["flash"], results[backend]):
            assert max_diff(a, b) <= TOL, backend
    if causal:  # row 1 has 6 queries and 2 keys: its first 4 queries see nothing -> 0
        row1 = results["flash"][0][4:10]
        assert (row1[:4] == 0).all() and (row1[4:].abs().sum(-1) > 0).all()


def test_padded_flash_path_uses_standin_and_equals_sdpa(flash):
    """attention(backend='flash') for padded callers packs by the masks for that one call."""
    lengths = torch.tensor([9, 4, 1, 7])
    mask = lengths_to_mask(lengths, 9)
    q, k, v = padded_qkv(4, 2, 9, 9, 8, seed=3)
    for causal in (False, True):
        out = attention(q, k, v, key_mask=mask, causal=causal, backend="flash")
        ref = attention(q, k, v, key_mask=mask, causal=causal, backend="sdpa")
        assert max_diff(out, ref) <= TOL
        assert (out.masked_select(~mask[:, None, :, None].expand_as(out)) == 0).all()
    assert len(flash.calls) == 2
    # a causal call whose per-row offsets differ from the padded axes' is refused, not misaligned
    with pytest.raises(ValueError, match="causal flash"):
        attention(q[:, :, :5], k, v, key_mask=mask, query_mask=lengths_to_mask(torch.tensor([5, 4, 1, 2]), 5),
                  causal=True, backend="flash")


def test_uses_packing_decides_with_autocast_dtype(monkeypatch):
    x = torch.zeros(2, 3)
    assert compute_dtype(x) == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert compute_dtype(x) == torch.bfloat16
    seen = []
    monkeypatch.setattr(attn_mod, "flash_usable", lambda t, dtype=None: seen.append(dtype) or dtype == torch.bfloat16)
    assert uses_packing("auto", x) is False
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert uses_packing("auto", x) is True
    assert seen == [torch.float32, torch.bfloat16]
    monkeypatch.undo()
    # without flash-attn (this machine) nothing packs, and "flash" is a clear error
    assert uses_packing("auto", x) is False and uses_packing("sdpa", x) is False
    with pytest.raises(RuntimeError, match="CUDA"):
        uses_packing("flash", x)


# ---------------------------------------------------------------- whole models

def params_grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def compare_grads(g_packed, g_padded):
    assert g_packed.keys() == g_padded.keys()
    worst = 0.0
    for name in g_padded:
        scale = max(1.0, g_padded[name].abs().max().item())
        worst = max(worst, max_diff(g_packed[name], g_padded[name]) / scale)
    return worst


def audio_encoder(backend):
    torch.manual_seed(0)
    conf = TransformerAudioEncoder.Config(input_dim=80, d_model=32, num_layers=3, num_heads=4, d_ff=64,
                                          subsampling_channels=8, dropout=0.1, attention_backend=backend)
    return TransformerAudioEncoder(conf).eval()


def test_audio_encoder_packed_equals_padded(flash, pack_counts):
    packed, padded = audio_encoder("flash"), audio_encoder("sdpa")
    padded.load_state_dict(packed.state_dict())
    lens_in = torch.tensor([61, 23, 9, 40, 57])
    feats = rand(5, 61, 80, seed=1)
    for i, n in enumerate(lens_in.tolist()):
        feats[i, n:] = 3.0  # garbage in the padding
    rows, handles = linear_rows(packed.blocks)
    outs, grads, feat_grads = [], [], []
    for enc in (packed, padded):
        f = feats.clone().requires_grad_(True)
        out, lens = enc(f, lens_in)
        (out * rand(*out.shape, seed=2)).sum().backward()
        outs.append((out.detach(), lens))
        grads.append(params_grads(enc))
        feat_grads.append(f.grad)
    for h in handles:
        h.remove()
    (out_p, lens_p), (out_s, lens_s) = outs
    assert torch.equal(lens_p, lens_s) and out_p.shape == out_s.shape == (5, 14, 32)
    total = int(lens_p.sum())
    # one flash call per layer, all on the packed valid frames; packed once, unpacked once
    assert len(flash.calls) == 3
    assert all(c["total_q"] == c["total_k"] == total and not c["causal"] for c in flash.calls)
    assert pack_counts == {"from_padded": 1, "to_padded": 1}
    # every Linear in the blocks (q, kv, out, FFN) saw total_tokens rows, not B * T'
    assert rows and all(shape == (total,) for shapes in rows.values() for shape in shapes), rows
    diff = max_diff(out_p, out_s)
    mask = lengths_to_mask(lens_p, 14)
    assert (out_p[~mask] == 0).all() and (out_s[~mask] == 0).all()
    assert diff <= TOL, diff
    assert compare_grads(*grads) <= TOL
    assert max_diff(*feat_grads) <= TOL


def text_encoder(backend):
    torch.manual_seed(0)
    conf = TransformerTextEncoder.Config(d_model=32, num_layers=2, num_heads=4, d_ff=64, max_length=16,
                                         dropout=0.1, attention_backend=backend)
    return TransformerTextEncoder(conf, vocab_size=50).eval()


def test_text_encoder_packed_equals_padded(flash, pack_counts):
    packed, padded = text_encoder("flash"), text_encoder("sdpa")
    padded.load_state_dict(packed.state_dict())
    lens = torch.tensor([12, 3, 1, 7])
    tokens = torch.randint(1, 50, (4, 12), generator=torch.Generator().manual_seed(3))
    tokens[~lengths_to_mask(lens, 12)] = 0
    rows, handles = linear_rows(packed.blocks)
    outs, grads = [], []
    for enc in (packed, padded):
        out, out_lens = enc(tokens, lens)
        assert torch.equal(out_lens, lens)
        (out * rand(*out.shape, seed=4)).sum().backward()
        outs.append(out.detach())
        grads.append(params_grads(enc))
    for h in handles:
        h.remove()
    assert len(flash.calls) == 2 and pack_counts == {"from_padded": 1, "to_padded": 1}
    assert all(shape == (23,) for shapes in rows.values() for shape in shapes)
    assert outs[0].shape == (4, 12, 32)
    assert max_diff(*outs) <= TOL
    assert (outs[0][~lengths_to_mask(lens, 12)] == 0).all()
    assert compare_grads(*grads) <= TOL


def text_decoder(backend, tie=True):
    torch.manual_seed(0)
    conf = TextDecoderConfig(d_model=32, num_layers=2, num_heads=4, d_ff=64, max_length=16, dropout=0.1,
                             tie_embeddings=tie, attention_backend=backend)
    return TextDecoder(conf, vocab_size=30, memory_dim=24).eval()


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "parallel"])
def test_text_decoder_packed_equals_padded(flash, pack_counts, causal, tie):
    packed, padded = text_decoder("flash", tie), text_decoder("sdpa", tie)
    padded.load_state_dict(packed.state_dict())
    token_lens, frame_lens = torch.tensor([9, 2, 5, 1]), torch.tensor([4, 11, 1, 7])
    tokens = torch.randint(4, 30, (4, 9), generator=torch.Generator().manual_seed(5))
    tokens[~lengths_to_mask(token_lens, 9)] = 0
    frames = rand(4, 11, 24, seed=6)
    rows, handles = linear_rows(packed)
    outs, grads, frame_grads = [], [], []
    for dec in (packed, padded):
        f = frames.clone().requires_grad_(True)
        memory = dec.prepare_memory(f)
        logits = dec(tokens, token_lens, memory, frame_lens, causal=causal)
        (logits * rand(*logits.shape, seed=7)).sum().backward()
        outs.append(logits.detach())
        grads.append(params_grads(dec))
        frame_grads.append(f.grad)
    for h in handles:
        h.remove()
    total_q, total_k = int(token_lens.sum()), int(frame_lens.sum())
    # per layer one self-attention (causal or not) and one cross-attention to the packed memory
    assert [(c["total_q"], c["total_k"], c["causal"]) for c in flash.calls] == \
        [(total_q, total_q, causal), (total_q, total_k, False)] * 2
    assert flash.calls[1]["cu_k"] == [0, 4, 15, 16, 23] and flash.calls[1]["max_k"] == 11
    # tokens and memory packed once each, logits unpacked once
    assert pack_counts == {"from_padded": 2, "to_padded": 1}
    for name, shapes in rows.items():
        if name == "memory_proj":
            continue  # prepare_memory projects the padded frames before forward
        expected = total_k if name.endswith("cross.kv_proj") else total_q
        assert all(shape == (expected,) for shape in shapes), (name, shapes)
    if not tie:
        assert rows["out_proj"] == [(total_q,)]
    assert outs[0].shape == outs[1].shape == (4, 9, 30)
    mask = lengths_to_mask(token_lens, 9)
    assert (outs[0][~mask] == 0).all() and (outs[1][~mask] == 0).all()
    assert max_diff(*outs) <= TOL
    assert compare_grads(*grads) <= TOL
    assert max_diff(*frame_grads) <= TOL


def test_decoding_packed_equals_padded(flash):
    """Greedy and beam decoding re-run the decoder over the prefix: same captions packed or padded."""
    packed, padded = text_decoder("flash"), text_decoder("sdpa")
    padded.load_state_dict(packed.state_dict())
    frames, frame_lens = rand(3, 10, 24, seed=8), torch.tensor([10, 3, 6])
    for beam in (1, 3):
        conf = DecodeConfig(beam_size=beam, max_length=8)
        a = decode(packed, frames, frame_lens, bos_id=2, eos_id=3, conf=conf)
        b = decode(padded, frames, frame_lens, bos_id=2, eos_id=3, conf=conf)
        assert a == b and all(len(row) > 0 for row in a)
    assert len(flash.calls) > 0


def test_attention_pooling_packed_equals_padded(flash, pack_counts):
    torch.manual_seed(0)
    pool = AttentionPooling(AttentionPooling.Config(num_heads=4), 32)
    with torch.no_grad():
        pool.query.normal_()  # a query that does not attend nearly uniformly
    frames, lengths = rand(5, 13, 32, seed=9), torch.tensor([13, 1, 6, 9, 2])
    frames[~lengths_to_mask(lengths, 13)] = 7.0
    rows, handles = linear_rows(pool)
    outs, grads, frame_grads = [], [], []
    for backend in ("auto", "sdpa"):  # auto -> flash (patched usable) -> packed
        pool.attn.backend = backend
        pool.zero_grad()
        f = frames.clone().requires_grad_(True)
        out = pool(f, lengths)
        (out * rand(*out.shape, seed=10)).sum().backward()
        outs.append(out.detach())
        grads.append(params_grads(pool))
        frame_grads.append(f.grad)
    for h in handles:
        h.remove()
    assert len(flash.calls) == 1
    call = flash.calls[0]
    assert call["cu_q"] == [0, 1, 2, 3, 4, 5] and call["max_q"] == 1
    assert call["total_k"] == 31 and call["max_k"] == 13 and not call["causal"]
    assert pack_counts == {"from_padded": 1, "to_padded": 0}
    assert rows["attn.q_proj"][0] == (5,) and rows["attn.kv_proj"][0] == (31,)
    assert outs[0].shape == (5, 32)
    assert max_diff(*outs) <= TOL
    assert compare_grads(*grads) <= TOL
    assert max_diff(*frame_grads) <= TOL
    assert (frame_grads[0][~lengths_to_mask(lengths, 13)] == 0).all()


def test_block_rejects_mixed_layouts(flash):
    dec = text_decoder("flash")
    block = dec.blocks[0]
    x = PackedBatch.from_padded(rand(2, 3, 32, seed=0), torch.tensor([3, 1]))
    with pytest.raises(TypeError, match="pack both"):
        block(x, memory=rand(2, 4, 32, seed=1))
    with pytest.raises(ValueError, match="no masks"):
        block(x, mask=torch.ones(2, 3, dtype=torch.bool), memory=x)
    with pytest.raises(TypeError, match="pack both"):
        block(rand(2, 3, 32, seed=0), memory=x)


def test_models_do_not_pack_without_flash(pack_counts):
    """On this machine (no flash-attn) auto stays padded; an explicit 'flash' is a clear error."""
    enc = audio_encoder("auto")
    out, _ = enc(rand(2, 30, 80, seed=0), torch.tensor([30, 12]))
    assert pack_counts == {"from_padded": 0, "to_padded": 0}
    with pytest.raises(RuntimeError, match="flash"):
        audio_encoder("flash")(rand(2, 30, 80, seed=0), torch.tensor([30, 12]))


def test_packed_blocks_under_fsdp2(flash, tmp_path):
    """FSDP2 reshards a block's parameters after its forward and unshards them in its backward
    pre-hook, which it registers on the tensors it finds in the block's output: PackedBatch
    must be a pytree node for that (without it, backward fails on freed parameter storage)."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from audiotext.models.transformer import TransformerBlock

    assert not dist.is_initialized()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        plain, sharded = audio_encoder("flash"), audio_encoder("flash")
        sharded.load_state_dict(plain.state_dict())
        mesh = init_device_mesh("cpu", (1,))
        for module in sharded.modules():
            if isinstance(module, TransformerBlock):
                fully_shard(module, mesh=mesh)
        fully_shard(sharded, mesh=mesh)
        feats, lens = rand(3, 61, 80, seed=1), torch.tensor([61, 20, 40])
        grads = []
        for enc in (plain, sharded):
            out, _ = enc(feats, lens)
            (out * rand(*out.shape, seed=2)).sum().backward()
            grads.append({n.replace("_fsdp_wrapped_module.", ""): getattr(p.grad, "full_tensor", lambda g=p.grad: g)()
                          for n, p in enc.named_parameters()})
        assert len(flash.calls) == 6  # both ran packed
        assert grads[0].keys() == grads[1].keys()
        assert max(max_diff(grads[0][n], grads[1][n]) for n in grads[0]) <= TOL
    finally:
        dist.destroy_process_group()
