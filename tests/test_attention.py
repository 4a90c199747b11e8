"""Attention dispatch: SDPA and math paths agree (values, padding, gradients); encoder invariances."""
import pytest
import torch

from audiotext.models import attention as attn_mod
from audiotext.models.attention import attention, math_attention
from audiotext.models.encoders.transformer import TransformerAudioEncoder
from audiotext.models.transformer import lengths_to_mask

TOL = 1e-5


def rand_qkv(b, h, tq, tk, d, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, h, tq, d, generator=g)
    k = torch.randn(b, h, tk, d, generator=g)
    v = torch.randn(b, h, tk, d, generator=g)
    return q, k, v


def reference_attention(q, k, v, key_mask=None, query_mask=None, causal=False):
    """Per-(batch, head, query) loop: softmax over the keys this query may see; padded queries -> 0."""
    b, h, tq, d = q.shape
    tk = k.shape[2]
    out = torch.zeros_like(q, dtype=torch.float64)
    for bi in range(b):
        for i in range(tq):
            if query_mask is not None and not query_mask[bi, i]:
                continue
            keys = [j for j in range(tk)
                    if (key_mask is None or key_mask[bi, j]) and (not causal or j <= i + tk - tq)]
            if not keys:
                continue
            for hi in range(h):
                s = torch.stack([(q[bi, hi, i].double() * k[bi, hi, j].double()).sum() for j in keys]) / d ** 0.5
                p = torch.softmax(s, 0)
                out[bi, hi, i] = (p[:, None] * v[bi, hi, keys].double()).sum(0)
    return out.to(q.dtype)


def run_both(q, k, v, grad_out=None, **kw):
    """Outputs and input gradients of both paths."""
    results = {}
    for backend in ("sdpa", "math"):
        qq, kk, vv = (t.clone().requires_grad_(True) for t in (q, k, v))
        out = attention(qq, kk, vv, backend=backend, **kw)
        g = grad_out if grad_out is not None else torch.ones_like(out)
        out.backward(g)
        results[backend] = (out.detach(), qq.grad, kk.grad, vv.grad)
    return results


def assert_paths_agree(results):
    (o1, *g1), (o2, *g2) = results["sdpa"], results["math"]
    assert torch.isfinite(o1).all() and torch.isfinite(o2).all()
    assert (o1 - o2).abs().max().item() <= TOL
    for name, a, b in zip("qkv", g1, g2):
        assert torch.isfinite(a).all() and torch.isfinite(b).all(), name
        assert (a - b).abs().max().item() <= TOL, f"grad of {name} differs"


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_attention_sdpa_equals_math_with_padding(causal, seed):
    g = torch.Generator().manual_seed(100 + seed)
    b, h, t, d = 5, 3, 13, 16
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    lengths[0] = t  # one full row
    lengths[1] = 1  # one very short row
    lengths[2] = 2
    mask = lengths_to_mask(lengths, t)
    q, k, v = rand_qkv(b, h, t, t, d, seed)
    grad_out = torch.randn(b, h, t, d, generator=g)
    results = run_both(q, k, v, grad_out, key_mask=mask, causal=causal)
    assert_paths_agree(results)
    ref = reference_attention(q, k, v, mask, mask, causal)
    for backend in ("sdpa", "math"):
        out = results[backend][0]
        assert (out - ref).abs().max().item() <= 1e-5, backend
        # padded query rows are exactly zero on both paths
        assert (out.masked_select(~mask[:, None, :, None].expand_as(out)) == 0).all(), backend
        # and padded rows get no gradient into q (their output is zeroed)
        gq = results[backend][1]
        assert (gq.masked_select(~mask[:, None, :, None].expand_as(gq)) == 0).all(), backend
    # the masked keys receive no gradient at all
    for backend in ("sdpa", "math"):
        for gkv in results[backend][2:]:
            assert (gkv.masked_select(~mask[:, None, :, None].expand_as(gkv)) == 0).all(), backend


@pytest.mark.parametrize("seed", [0, 1])
def test_cross_attention_sdpa_equals_math(seed):
    g = torch.Generator().manual_seed(200 + seed)
    b, h, tq, tk, d = 4, 2, 7, 11, 8
    q_lens = torch.tensor([7, 3, 1, 5])
    k_lens = torch.tensor([2, 11, 6, 1])
    qmask, kmask = lengths_to_mask(q_lens, tq), lengths_to_mask(k_lens, tk)
    q, k, v = rand_qkv(b, h, tq, tk, d, seed)
    grad_out = torch.randn(b, h, tq, d, generator=g)
    results = run_both(q, k, v, grad_out, key_mask=kmask, query_mask=qmask)
    assert_paths_agree(results)
    ref = reference_attention(q, k, v, kmask, qmask)
    for backend in ("sdpa", "math"):
        out = results[backend][0]
        assert out.shape == (b, h, tq, d)
        assert (out - ref).abs().max().item() <= 1e-5
        assert (out.masked_select(~qmask[:, None, :, None].expand_as(out)) == 0).all()
        assert out[qmask[:, None, :, None].expand_as(out).logical_and(out != 0)].numel() > 0


def test_cross_attention_without_query_mask_keeps_all_rows():
    b, h, tq, tk, d = 2, 2, 4, 6, 8
    kmask = lengths_to_mask(torch.tensor([6, 3]), tk)
    q, k, v = rand_qkv(b, h, tq, tk, d, 5)
    results = run_both(q, k, v, key_mask=kmask)
    assert_paths_agree(results)
    # no query mask and tq != tk: nothing is zeroed
    assert (results["sdpa"][0].abs().sum(-1) > 0).all()
    ref = reference_attention(q, k, v, kmask, None)
    assert (results["math"][0] - ref).abs().max().item() <= 1e-5


def test_no_mask_bidirectional_and_causal_square():
    q, k, v = rand_qkv(2, 2, 9, 9, 8, 7)
    for causal in (False, True):
        assert_paths_agree(run_both(q, k, v, causal=causal))
        ref = reference_attention(q, k, v, causal=causal)
        assert (attention(q, k, v, causal=causal, backend="sdpa") - ref).abs().max().item() <= 1e-5


def test_causal_mask_blocks_future():
    q, k, v = rand_qkv(1, 1, 6, 6, 4, 8)
    base = attention(q, k, v, causal=True, backend="math")
    v2 = v.clone()
    v2[..., 4:, :] += 100.0  # change the future of query 3
    changed = attention(q, k, v2, causal=True, backend="math")
    assert torch.equal(base[..., :4, :], changed[..., :4, :])
    assert (base[..., 4:, :] - changed[..., 4:, :]).abs().min() > 1.0


def test_query_that_sees_no_key_is_zero_not_nan():
    b, h, tq, tk, d = 2, 1, 3, 4, 4
    kmask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    qmask = torch.ones(b, tq, dtype=torch.bool)
    q, k, v = rand_qkv(b, h, tq, tk, d, 9)
    out_math = math_attention(q, k, v, kmask)
    assert torch.isfinite(out_math).all() and (out_math[1] == 0).all()
    for backend in ("sdpa", "math"):
        out = attention(q, k, v, key_mask=kmask, query_mask=qmask, backend=backend)
        assert torch.isfinite(out).all()
        assert (out[1] == 0).all()


def test_causal_rectangular_without_mask_agrees():
    q, k, v = rand_qkv(2, 2, 3, 5, 8, 11)
    a = attention(q, k, v, causal=True, backend="sdpa")
    b = attention(q, k, v, causal=True, backend="math")
    assert (a - b).abs().max().item() <= TOL


def test_flash_on_cpu_raises_clear_error():
    q, k, v = rand_qkv(1, 1, 4, 4, 8, 0)
    with pytest.raises(RuntimeError) as info:
        attention(q, k, v, backend="flash")
    msg = str(info.value)
    assert "flash" in msg and "CUDA" in msg and "cpu" in msg
    # auto on CPU silently uses SDPA and matches it exactly
    assert attn_mod.resolve_backend("auto", q) == "sdpa"
    assert torch.equal(attention(q, k, v, backend="auto"), attention(q, k, v, backend="sdpa"))


def test_unknown_backend_raises_value_error():
    q, k, v = rand_qkv(1, 1, 4, 4, 8, 0)
    with pytest.raises(ValueError) as info:
        attention(q, k, v, backend="xformers")
    assert "xformers" in str(info.value) and "sdpa" in str(info.value) and "math" in str(info.value)


# ---------------------------------------------------------------- the audio encoder

def tiny_encoder(backend, seed=0):
    torch.manual_seed(seed)
    conf = TransformerAudioEncoder.Config(input_dim=80, d_model=32, num_layers=2, num_heads=2, d_ff=64,
                                          subsampling_channels=8, dropout=0.1, attention_backend=backend)
    return TransformerAudioEncoder(conf).eval()


def padded_batch(lengths, seed=0, pad_value=None):
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    feats = torch.randn(len(lengths), t, 80, generator=g)
    for i, n in enumerate(lengths):
        feats[i, n:] = 0.0 if pad_value is None else pad_value
    return feats, torch.tensor(lengths)


def test_encoder_sdpa_equals_math():
    enc_sdpa = tiny_encoder("sdpa", seed=1)
    enc_math = tiny_encoder("math", seed=2)
    assert any((a - b).abs().max() > 0 for a, b in zip(enc_sdpa.state_dict().values(),
                                                      enc_math.state_dict().values()) if a.is_floating_point())
    enc_math.load_state_dict(enc_sdpa.state_dict())
    feats, lens = padded_batch([61, 23, 9, 40], seed=3)
    with torch.no_grad():
        out_s, lens_s = enc_sdpa(feats, lens)
        out_m, lens_m = enc_math(feats, lens)
    assert torch.equal(lens_s, lens_m)
    assert lens_s.tolist() == [((n - 1) // 2 - 1) // 2 for n in [61, 23, 9, 40]]
    assert out_s.shape == (4, 14, 32)
    assert (out_s - out_m).abs().max().item() <= TOL
    mask = lengths_to_mask(lens_s, out_s.shape[1])
    assert (out_s[~mask] == 0).all() and (out_m[~mask] == 0).all()
    assert (out_s[mask].abs().sum(-1) > 0).all()


def test_encoder_gradients_sdpa_equal_math():
    enc_sdpa = tiny_encoder("sdpa", seed=4)
    enc_math = tiny_encoder("math", seed=5)
    enc_math.load_state_dict(enc_sdpa.state_dict())
    feats, lens = padded_batch([33, 17, 50], seed=6)
    grads = []
    for enc in (enc_sdpa, enc_math):
        enc.zero_grad()
        out, _ = enc(feats, lens)
        (out ** 2).sum().backward()
        grads.append({n: p.grad.clone() for n, p in enc.named_parameters()})
    for name in grads[0]:
        assert (grads[0][name] - grads[1][name]).abs().max().item() <= 1e-4 * max(1.0, grads[0][name].abs().max().item()), name


@pytest.mark.parametrize("backend", ["sdpa", "math"])
def test_encoder_output_independent_of_batch_mates(backend):
    enc = tiny_encoder(backend, seed=7)
    g = torch.Generator().manual_seed(8)
    short = torch.randn(1, 29, 80, generator=g)
    long = torch.randn(1, 71, 80, generator=g)
    with torch.no_grad():
        alone, alone_lens = enc(short, torch.tensor([29]))
        # padding filled with garbage: the valid frames must not see it
        batch = torch.cat([torch.cat([short, 5 * torch.randn(1, 42, 80, generator=g)], 1), long], 0)
        together, together_lens = enc(batch, torch.tensor([29, 71]))
        long_alone, _ = enc(long, torch.tensor([71]))
    n = int(alone_lens[0])
    assert n == 6 and int(together_lens[0]) == n
    assert together.shape[1] == 17
    assert (together[0, :n] - alone[0, :n]).abs().max().item() <= TOL
    assert (together[0, n:] == 0).all()
    assert (together[1] - long_alone[0]).abs().max().item() <= TOL


def test_encoder_rejects_too_short_input():
    enc = tiny_encoder("math")
    with pytest.raises(ValueError, match="too short"):
        enc(torch.randn(1, 6, 80), torch.tensor([6]))
