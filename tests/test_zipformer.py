"""Zipformer encoder: frame geometry, exact padding, the published M size, shared attention weights,
that it trains, config errors, registry."""
import pytest
import torch

from audiotext.models.encoders import ENCODERS
from audiotext.models.encoders.zipformer import (
    BiasNorm,
    RelPositionAttentionWeights,
    ZipformerAudioEncoder,
    limit_in_training,
    relative_to_absolute,
    swoosh_l,
    swoosh_r,
    weighted_downsample,
)
from audiotext.models.transformer import lengths_to_mask

TINY = dict(downsampling_factor=[1, 2, 4, 2], num_encoder_layers=[1, 1, 2, 1], encoder_dim=[32, 48, 64, 48],
            feedforward_dim=[64, 96, 128, 96], num_heads=[2, 2, 2, 2], cnn_module_kernel=[7, 7, 5, 7],
            query_head_dim=8, value_head_dim=4, pos_dim=16, frontend_channels=[4, 8, 16])
TOL = 1e-5


def tiny_encoder(seed=0, **overrides):
    torch.manual_seed(seed)
    return ENCODERS.build("zipformer", {**TINY, **overrides}).eval()


def expected_frames(t):
    return (t - 5) // 4


# ---------------------------------------------------------------- building blocks

def test_swoosh_and_bias_norm_formulas():
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    assert torch.allclose(swoosh_l(x), torch.log1p(torch.exp(x - 4)) - 0.08 * x - 0.035, atol=1e-12)
    assert torch.allclose(swoosh_r(x), torch.log1p(torch.exp(x - 1)) - 0.08 * x - 0.313261687, atol=1e-12)
    assert abs(swoosh_r(torch.zeros(1, dtype=torch.float64)).item()) < 1e-9  # SwooshR(0) = 0
    norm = BiasNorm(6)
    with torch.no_grad():
        norm.bias.copy_(torch.arange(6.0) / 10)
        norm.log_scale.fill_(0.3)
    y = torch.randn(3, 4, 6)
    rms = ((y - norm.bias) ** 2).mean(-1, keepdim=True).sqrt()
    assert torch.allclose(norm(y), y / rms * torch.exp(torch.tensor(0.3)), atol=1e-6)
    with torch.no_grad():
        norm.log_scale.fill_(4.0)  # outside the published range [-1.5, 1.5]: used as it is ...
    norm.train()
    y = -(torch.rand(3, 4, 6) + 0.1)  # all negative: d out.sum() / d log_scale = out.sum() < 0
    rms = ((y - norm.bias) ** 2).mean(-1, keepdim=True).sqrt()
    out = norm(y)
    assert torch.allclose(out, y / rms * torch.exp(torch.tensor(4.0)), atol=1e-4)
    out.sum().backward()
    # ... but a gradient that would raise it further (negative) is reversed: descent brings it back
    plain = out.sum().item()
    assert plain < 0 and norm.log_scale.grad.item() == pytest.approx(-plain, rel=1e-4)


def test_relative_to_absolute_indexes_by_key_minus_query():
    t = 5
    scores = torch.randn(2, 3, t, 2 * t - 1)
    out = relative_to_absolute(scores)
    for i in range(t):
        for j in range(t):
            assert torch.equal(out[..., i, j], scores[..., i, t - 1 - i + j])


def test_attention_weights_gradients_match_finite_differences():
    torch.manual_seed(0)
    module = RelPositionAttentionWeights(dim=8, pos_dim=6, num_heads=2, query_head_dim=4, pos_head_dim=2).double()
    valid = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    x = torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True)
    positions = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, p: module(a, p, valid), (x, positions))


def test_weighted_downsample_completes_each_clip_with_its_own_last_frame():
    x = torch.arange(2 * 8, dtype=torch.float32).view(2, 8, 1)  # clip 0 valid frames 0..4, clip 1 all 8
    logits = torch.tensor([0.1, -0.3, 0.7, 0.2])
    out, lens = weighted_downsample(x, torch.tensor([5, 8]), 4, logits)
    w = logits.softmax(0)
    assert lens.tolist() == [2, 2] and out.shape == (2, 2, 1)
    assert torch.allclose(out[0, 1, 0], torch.tensor(4.0))  # frames 5..7 replaced by copies of frame 4
    assert torch.allclose(out[1, 1, 0], (w * torch.tensor([12.0, 13, 14, 15])).sum())
    alone, _ = weighted_downsample(x[:1, :5], torch.tensor([5]), 4, logits)
    assert torch.allclose(alone[0], out[0])


# ---------------------------------------------------------------- frame geometry

@pytest.mark.parametrize("t", [9, 10, 11, 12, 13, 16, 17, 40, 101])
def test_output_frames_follow_the_lengths_formula(t):
    enc = tiny_encoder()
    with torch.no_grad():
        out, lens = enc(torch.randn(1, t, 80), torch.tensor([t]))
    n = expected_frames(t)
    assert out.shape == (1, n, 64) and lens.tolist() == [n] and enc.output_lengths(torch.tensor([t])).tolist() == [n]
    # the AudioEncoder contract: frames = (T - min_input_frames) // input_stride + 1
    assert n == (t - enc.min_input_frames) // enc.input_stride + 1


def test_frame_times_and_minimum_input():
    enc = tiny_encoder()
    assert (enc.frame_shift_ms, enc.input_stride, enc.min_input_frames) == (40.0, 4, 9)
    cls = ZipformerAudioEncoder
    assert (cls.frame_shift_ms, cls.input_stride, cls.min_input_frames) == (40.0, 4, 9)
    assert enc.output_dim == 64
    with torch.no_grad():
        out, lens = enc(torch.randn(1, 9, 80), torch.tensor([9]))
    assert out.shape == (1, 1, 64) and lens.tolist() == [1]
    with pytest.raises(ValueError, match=r"too short for the encoder: 8 frames \(need >= 9\)"):
        enc(torch.randn(1, 8, 80), torch.tensor([8]))
    with pytest.raises(ValueError, match=r"a clip of 8 frames in the batch \(need >= 9\)"):
        enc(torch.randn(2, 20, 80), torch.tensor([20, 8]))


# ---------------------------------------------------------------- padding is exact

@pytest.mark.parametrize("dtype, tol", [(torch.float32, TOL), (torch.float64, 1e-10)])
def test_padded_batch_equals_clips_one_by_one(dtype, tol):
    """float32: within 1e-5 (measured 1.9e-6); float64 shows it is exact up to rounding (measured ~1e-14)."""
    enc = tiny_encoder(seed=3).to(dtype)
    # 9..13: one 50 Hz frame or a few; 29..32 and 61: every residue of the factor-4 and factor-2 tails
    lengths = [9, 10, 13, 29, 30, 31, 32, 61, 77, 100]
    g = torch.Generator().manual_seed(4)
    t = max(lengths)
    feats = torch.randn(len(lengths), t, 80, generator=g)
    for i, n in enumerate(lengths):
        feats[i, n:] = 5 * torch.randn(t - n, 80, generator=g)  # garbage padding: must not leak
    feats = feats.to(dtype)
    with torch.no_grad():
        batch, batch_lens = enc(feats, torch.tensor(lengths))
        assert batch.shape == (len(lengths), expected_frames(t), 64)
        assert batch_lens.tolist() == [expected_frames(n) for n in lengths]
        worst = 0.0
        for i, n in enumerate(lengths):
            alone, alone_lens = enc(feats[i:i + 1, :n], torch.tensor([n]))
            m = int(alone_lens[0])
            assert m == int(batch_lens[i]) and alone.shape[1] == m
            worst = max(worst, (batch[i, :m] - alone[0]).abs().max().item())
            assert (batch[i, m:] == 0).all()
    assert worst <= tol, worst
    valid = lengths_to_mask(batch_lens, batch.shape[1])
    assert (batch[valid].abs().sum(-1) > 0).all()


# ---------------------------------------------------------------- the published M size

def test_default_config_is_the_published_m_size():
    conf = ZipformerAudioEncoder.Config()
    assert conf.encoder_dim == [192, 256, 384, 512, 384, 256] and conf.downsampling_factor == [1, 2, 4, 8, 4, 2]
    torch.manual_seed(0)
    enc = ENCODERS.build("zipformer", {}).eval()
    params = sum(p.numel() for p in enc.parameters())
    # icefall's encoder (zipformer recipe, M) has these plus 5,760 unused per-layer `bypass_scale` weights
    assert params == 63_988_343
    assert abs(params - 66e6) / 66e6 < 0.05
    assert enc.output_dim == 512
    with torch.no_grad():
        out, lens = enc(torch.randn(1, 21, 80), torch.tensor([21]))
    assert out.shape == (1, 4, 512) and lens.tolist() == [4] and torch.isfinite(out).all()


def test_attention_weights_are_computed_once_per_layer_and_shared():
    enc = tiny_encoder()
    layers = [layer for stack in enc.stacks for layer in stack.layers]
    assert len(layers) == sum(TINY["num_encoder_layers"])
    assert sum(isinstance(m, RelPositionAttentionWeights) for m in enc.modules()) == len(layers)
    seen = {}
    hooks = []
    for k, layer in enumerate(layers):
        def keep(name, k=k):
            return lambda module, args, output: seen.setdefault((k, name), []).append((args, output))
        hooks.append(layer.attention_weights.register_forward_hook(keep("weights")))
        for name in ("nonlinear_attention", "self_attention1", "self_attention2"):
            hooks.append(getattr(layer, name).register_forward_hook(keep(name)))
    with torch.no_grad():
        enc(torch.randn(2, 60, 80), torch.tensor([60, 41]))
    for hook in hooks:
        hook.remove()
    for k in range(len(layers)):
        assert len(seen[(k, "weights")]) == 1
        weights = seen[(k, "weights")][0][1]
        assert seen[(k, "self_attention1")][0][0][1] is weights
        assert seen[(k, "self_attention2")][0][0][1] is weights
        assert torch.equal(seen[(k, "nonlinear_attention")][0][0][1], weights[:, :1])
        assert torch.allclose(weights.sum(-1), torch.ones(()))


# ---------------------------------------------------------------- training

def test_gradients_are_finite_and_reach_every_parameter():
    enc = tiny_encoder(seed=5).train()
    feats = torch.randn(3, 57, 80)
    out, lens = enc(feats, torch.tensor([57, 30, 12]))
    (out ** 2).mean().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        # every parameter learns from the first step, the range-held bypass scales (init 0.5, under
        # the 0.9 floor) and BiasNorm scales too
        assert p.grad.abs().sum() > 0, name


def test_short_training_run_learns_a_fixed_task():
    """30 AdamW steps on 8 clips whose class is which quarter of the mel bands is louder:
    cross-entropy falls from ~1.7 to ~0.004 (measured); asserted: by a factor of 20."""
    enc = tiny_encoder(seed=6, dropout=0.0).train()
    head = torch.nn.Linear(64, 4)
    g = torch.Generator().manual_seed(7)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    feats = torch.randn(8, 45, 80, generator=g)
    for i, c in enumerate(labels.tolist()):
        feats[i, :, 20 * c: 20 * c + 20] += 1.0
    lens = torch.tensor([45, 40, 33, 25, 45, 38, 30, 21])
    opt = torch.optim.AdamW(list(enc.parameters()) + list(head.parameters()), lr=2e-3)
    losses = []
    for _ in range(30):
        out, out_lens = enc(feats, lens)
        loss = torch.nn.functional.cross_entropy(head(out.sum(1) / out_lens[:, None]), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert int(enc.trained_batches) == 30
    assert losses[0] > 1.0 and losses[-1] < losses[0] / 20, losses


def test_limit_in_training_reverses_only_the_gradients_that_push_out_of_range():
    x = torch.tensor([0.1, 0.1, 0.5, 0.5, 1.2, 1.2], requires_grad=True)
    y = limit_in_training(x, torch.tensor(0.3), 1.0, training=True)
    assert torch.equal(y, x)  # the forward pass uses the parameter as it is
    # descent moves x against its gradient: +g below the floor and -g above the ceiling push outward
    y.backward(torch.tensor([2.0, -2.0, 3.0, -3.0, -4.0, 4.0]))
    assert x.grad.tolist() == [-2.0, -2.0, 3.0, -3.0, 4.0, 4.0]
    assert limit_in_training(x, 0.3, 1.0, training=False) is x


def test_bypass_scales_below_the_floor_are_pushed_up_not_frozen():
    enc = tiny_encoder(seed=2, bypass_warmup_batches=100).train()
    out, _ = enc(torch.randn(2, 40, 80), torch.tensor([40, 33]))
    (out ** 2).mean().backward()
    scales = {n: p for n, p in enc.named_parameters() if n.endswith("bypass.scale")}
    assert len(scales) == 2 * 5 + 3  # two per layer (5 layers), one per downsampled stack (3)
    for name, p in scales.items():  # all start at 0.5, under the floor (~0.9): descent raises them
        assert (p.grad <= 0).all() and p.grad.abs().sum() > 0, name


def test_bypass_floor_schedule_counts_training_batches_only():
    enc = tiny_encoder(bypass_warmup_batches=10)
    assert enc.bypass_min().item() == pytest.approx(0.9)
    with torch.no_grad():
        enc(torch.randn(1, 20, 80), torch.tensor([20]))
    assert int(enc.trained_batches) == 0  # eval does not advance it
    enc.train()
    for _ in range(5):
        enc(torch.randn(1, 20, 80), torch.tensor([20]))
    assert int(enc.trained_batches) == 5 and enc.bypass_min().item() == pytest.approx(0.55)
    enc.trained_batches.fill_(1000)
    assert enc.bypass_min().item() == pytest.approx(0.2)
    assert "trained_batches" in enc.state_dict()


# ---------------------------------------------------------------- config and registry

@pytest.mark.parametrize("override, message", [
    ({"num_heads": [4, 4]}, r"num_heads has 2 entries but downsampling_factor has 4"),
    ({"encoder_dim": [32, 48, 0, 48]}, r"encoder_dim must hold positive integers"),
    ({"cnn_module_kernel": [7, 8, 5, 7]}, r"cnn_module_kernel must be odd"),
    ({"pos_dim": 15}, r"pos_dim must be even"),
    ({"input_dim": 6}, r"input_dim must be >= 7"),
    ({"downsampling_factor": []}, r"downsampling_factor is empty"),
    ({"frontend_channels": [8, 32]}, r"frontend_channels must be 3 positive"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
])
def test_config_errors_name_the_field(override, message):
    with pytest.raises(ValueError, match=message):
        ENCODERS.build("zipformer", {**TINY, **override})


def test_registry_builds_from_a_yaml_like_mapping():
    assert "zipformer" in ENCODERS and ENCODERS.get("zipformer") is ZipformerAudioEncoder
    enc = ENCODERS.build("zipformer", {**TINY, "input_dim": 64})
    assert isinstance(enc, ZipformerAudioEncoder) and enc.conf.input_dim == 64
    assert enc.conf.encoder_dim == [32, 48, 64, 48]
    with pytest.raises(ValueError, match="encoder_conf.nope"):
        ENCODERS.build("zipformer", {"nope": 1}, where="encoder_conf")
    with pytest.raises(ValueError, match="expected a list"):
        ENCODERS.build("zipformer", {"num_heads": 4})


def test_the_documented_small_config_builds_from_its_yaml():
    import yaml

    from audiotext.models.encoders import zipformer

    doc = zipformer.__doc__
    block = doc[doc.index("    encoder: zipformer"):].split("\n\"\"\"")[0]
    parsed = yaml.safe_load("\n".join(line[4:] for line in block.splitlines()))
    assert parsed["encoder"] == "zipformer"
    torch.manual_seed(0)
    enc = ENCODERS.build("zipformer", parsed["encoder_conf"], where="encoder_conf").eval()
    assert sum(p.numel() for p in enc.parameters()) == 1_790_336  # the number the docstring states
    with torch.no_grad():
        out, lens = enc(torch.randn(2, 37, 80), torch.tensor([37, 20]))
    assert out.shape == (2, 8, 128) and lens.tolist() == [8, 3]


def test_an_experiment_builds_it_with_the_fbank_width():
    from audiotext.embedding import build_audio_encoder
    from audiotext.experiment import resolve

    exp = resolve({"encoder": "zipformer", "encoder_conf": dict(TINY), "data": {"fbank": {"num_mel_bins": 64}}})
    enc = build_audio_encoder(exp)
    assert isinstance(enc, ZipformerAudioEncoder) and enc.conf.input_dim == 64
    assert enc.front_end.proj.in_features == 16 * (((64 - 1) // 2 - 1) // 2)  # 16 channels x 15 bins
