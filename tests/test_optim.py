"""Optimizers and schedulers: ScaledAdam's scale-relative updates, learned scale, scalars and median
clipping; Eden's factor against hand-computed values; exact state round trips through
torch.load(weights_only=True); a small regression trained with scaled_adam + eden; a real run of
the trainer with them, resumed exactly; ScaledAdam on FSDP2's sharded parameters (2 processes)
equal to one process, and resumed exactly."""
from __future__ import annotations

import copy
import io
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from audiotext.config import ConfigError
from audiotext.train.optim import OPTIMIZERS, SCHEDULERS, Eden, ScaledAdam, eden_factor

LR, BETA1 = 0.045, 0.9
ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


class Params(torch.nn.Module):
    """A module holding the given tensors as parameters p0, p1, ..."""

    def __init__(self, *tensors):
        super().__init__()
        for i, t in enumerate(tensors):
            self.register_parameter(f"p{i}", torch.nn.Parameter(t.clone()))


def roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def rms(t: torch.Tensor) -> float:
    return t.double().pow(2).mean().sqrt().item()


# ------------------------------------------------------------------ registry
def test_built_from_config_dicts_with_defaults():
    model = torch.nn.Linear(3, 2)
    opt = OPTIMIZERS.build("scaled_adam", {"lr": 0.02, "clipping_scale": 0}, model, where="optim_conf")
    assert isinstance(opt, ScaledAdam)
    group = opt.param_groups[0]
    assert group["lr"] == 0.02 and group["clipping_scale"] == 0.0 and group["betas"] == (0.9, 0.98)
    assert (group["eps"], group["scalar_lr_scale"], group["param_min_rms"], group["param_max_rms"]) == \
        (1e-8, 0.1, 1e-5, 3.0)
    assert (group["scalar_max"], group["size_update_period"], group["clipping_update_period"]) == (10.0, 4, 100)
    assert OPTIMIZERS.make_config("scaled_adam").lr == 0.045
    sched = SCHEDULERS.build("eden", {"lr_batches": 100}, opt, 10, where="scheduler_conf")
    assert isinstance(sched, Eden)
    assert (sched.lr_batches, sched.lr_epochs, sched.warmup_batches, sched.warmup_start) == (100.0, 3.5, 500.0, 0.5)


def test_unknown_key_names_the_field():
    model = torch.nn.Linear(3, 2)
    with pytest.raises(ConfigError, match=r"optim_conf\.weight_decay"):  # ScaledAdam has none
        OPTIMIZERS.build("scaled_adam", {"weight_decay": 0.1}, model, where="optim_conf")
    opt = OPTIMIZERS.build("scaled_adam", {}, model)
    with pytest.raises(ConfigError, match=r"scheduler_conf\.lr_batchs"):
        SCHEDULERS.build("eden", {"lr_batchs": 10}, opt, 10, where="scheduler_conf")


@pytest.mark.parametrize("conf, message", [
    ({"param_min_rms": 3.0}, "param_min_rms < param_max_rms"),
    ({"size_update_period": 0}, "size_update_period must be >= 1"),
    ({"beta2": 1.0}, r"beta2 must be in \[0, 1\)"),
    ({"clipping_scale": -1.0}, "clipping_scale must be >= 0"),
])
def test_bad_settings_are_named(conf, message):
    with pytest.raises(ValueError, match=message):
        OPTIMIZERS.build("scaled_adam", conf, torch.nn.Linear(3, 2))


# ------------------------------------------------------------------ ScaledAdam
def test_first_update_is_lr_times_the_parameters_rms():
    """Step 1: v = (1 - beta2) g^2, bias-corrected to g^2, so the direction is g / (|g| + eps)
    and the change, through momentum without bias correction, (1 - beta1) lr rms(p) g/(|g|+eps)."""
    torch.manual_seed(0)
    w = torch.randn(8, 16) * 0.3
    g = torch.randn(8, 16)
    model = Params(w)
    opt = OPTIMIZERS.build("scaled_adam", {}, model)
    model.p0.grad = g.clone()
    opt.step()
    expected = w.double() - (1 - BETA1) * LR * rms(w) * g.double() / (g.double().abs() + 1e-8)
    assert torch.allclose(model.p0.double(), expected, rtol=0, atol=1e-7)
    # relative change per step: (1 - beta1) lr times the direction's RMS (1 here, up to eps)
    assert rms(model.p0.detach() - w) / rms(w) == pytest.approx((1 - BETA1) * LR, rel=1e-5)


def test_updates_are_relative_to_the_parameters_scale():
    """p and 100 p, with gradients of the same loss of p / 100 (g / 100), follow the same path
    up to the factor 100 over 9 steps: two scale updates (steps 4 and 8) included. (Both RMS, 0.01
    and 1, are inside [param_min_rms, param_max_rms]: outside, the clamped RMS sets the step.)
    eps is 1e-20 here so that only float32 rounding separates the two (with 1e-8 against the large
    copy's gradients of ~1e-2 the paths differ by ~3e-5 of the RMS)."""
    torch.manual_seed(0)
    w = torch.randn(6, 5) * 0.01
    small, large = Params(w), Params(w * 100)
    opt_small = OPTIMIZERS.build("scaled_adam", {"eps": 1e-20}, small)
    opt_large = OPTIMIZERS.build("scaled_adam", {"eps": 1e-20}, large)
    for _ in range(9):
        g = torch.randn(6, 5)
        small.p0.grad, large.p0.grad = g.clone(), g / 100
        before = small.p0.detach().clone()
        opt_small.step()
        opt_large.step()
        difference = (large.p0.detach() / 100 - small.p0.detach()).abs().max().item()
        assert difference < 2e-6 * rms(small.p0.detach())
        relative = rms(small.p0.detach() - before) / rms(before)
        assert relative == pytest.approx(rms(large.p0.detach() - before * 100) / rms(before * 100), rel=1e-4)
        assert relative < 2 * LR  # a small step relative to the tensor
    assert opt_small.state[small.p0]["step"] == 9


def test_learned_scale_grows_a_tensor_whose_loss_wants_it_larger():
    """L = -sum(p) for p = c * ones: every gradient is along p, so the Adam direction is a pure
    scale change; at the 4th step the scale update adds lr * scalar_lr_scale * (sum of the
    clamped-at-0.1 relative step) on top."""
    p = torch.full((4, 4), 0.5)
    model = Params(p)
    opt = OPTIMIZERS.build("scaled_adam", {"clipping_scale": 0}, model)
    values = []
    for _ in range(4):
        model.p0.grad = torch.full((4, 4), -1.0)
        opt.step()
        values.append(model.p0[0, 0].item())
    # steps 1-3: m_t = beta1 m + (1 - beta1) lr rms (|g|/(|g|+eps) ~ 1), rms read from p each step
    x, m = 0.5, 0.0
    for step in range(4):
        delta = LR * x
        if step == 3:  # the scale update: s = lr * 0.1 * sum(scale grads) / sqrt(v_hat), v_hat = mean(sg^2)
            # scale grads sum(p * g) = -16 x_k at each step k; s = 0.0045 * sum / rms-over-period
            sg = [-16 * v for v in [0.5] + values[:3]]
            mean_sq = sum(a * a for a in sg) / 4
            s = min(0.1, LR * 0.1 * -sum(sg) / math.sqrt(mean_sq))
            delta += x * s
        m = BETA1 * m + (1 - BETA1) * delta
        x += m
        assert values[step] == pytest.approx(x, rel=1e-5)
    assert values[3] > values[2]


def test_scale_update_keeps_the_rms_below_param_max_rms():
    model = Params(torch.full((3, 3), 2.9))
    opt = OPTIMIZERS.build("scaled_adam", {"clipping_scale": 0, "lr": 1.0, "param_max_rms": 3.0}, model)
    for _ in range(4):
        model.p0.grad = torch.full((3, 3), -1.0)
        before = model.p0.detach().clone()
        opt.step()
    # the 4th step adds (1 - beta1) p s through momentum, s capped so that (1 + s) rms(p) = 3.0 (the
    # cap is below the +-0.1 clamp here); the same run without a scale update has the rest
    model2 = Params(torch.full((3, 3), 2.9))
    opt2 = OPTIMIZERS.build("scaled_adam", {"clipping_scale": 0, "lr": 1.0, "size_update_period": 1000}, model2)
    for _ in range(4):
        model2.p0.grad = torch.full((3, 3), -1.0)
        opt2.step()
    rms_before = rms(before)
    capped = (3.0 - rms_before) / rms_before  # the largest relative scale step allowed
    extra = model.p0[0, 0].item() - model2.p0[0, 0].item()
    assert extra == pytest.approx((1 - BETA1) * before[0, 0].item() * capped, rel=1e-4)


def test_scalars_move_by_adam_at_scalar_lr_and_are_clamped():
    model = Params(torch.tensor([0.5]), torch.tensor(9.9))
    opt = OPTIMIZERS.build("scaled_adam", {"lr": 10.0, "clipping_scale": 0}, model)
    model.p0.grad = torch.tensor([2.0])
    model.p1.grad = torch.tensor(-3.0)
    opt.step()
    # (1 - beta1) * lr * scalar_lr_scale * g / (|g| + eps) = 0.1 * 10 * 0.1 * (~1) = 0.1, whatever |g|
    assert model.p0.item() == pytest.approx(0.5 - 0.1 * 2.0 / (2.0 + 1e-8), abs=1e-7)
    assert model.p1.item() == pytest.approx(10.0, abs=1e-6)  # 9.9 + 0.1 = 10.0: at the bound
    for _ in range(3):
        model.p0.grad = torch.tensor([2.0])
        model.p1.grad = torch.tensor(-3.0)
        opt.step()
    assert model.p1.item() == 10.0  # clamped to scalar_max
    assert "scale_grads" not in opt.state[model.p0]  # no learned scale for scalars


def test_clipping_to_clipping_scale_times_the_median_of_recent_norms():
    """Gradients of known norm along a fixed direction; the norm the optimizer measures is
    |g| * rms(p). The window holds the last 5 norms (this step's included); a norm above 2 x
    their lower median is scaled down to exactly that."""
    torch.manual_seed(0)
    w = torch.randn(5, 4)
    model = Params(w, torch.tensor(1.0))
    opt = OPTIMIZERS.build("scaled_adam", {"clipping_update_period": 5}, model)
    u = torch.randn(5, 4, dtype=torch.float64)
    u /= u.norm()
    window, clipped = [], 0
    for k, size in enumerate([1.0, 2.0, 3.0, 4.0, 5.0, 100.0, 3.5, 40.0, 0.5]):
        model.p0.grad = (u * size).float()
        model.p1.grad = torch.tensor(0.3)
        g0 = model.p0.grad.double().clone()
        measured_p0 = g0.norm().item() * rms(model.p0.detach())
        norm = math.hypot(measured_p0, 0.3 * 0.1)  # a scalar's gradient counts times scalar_lr_scale
        window = (window + [norm])[-5:]
        threshold = 2.0 * sorted(window)[(len(window) - 1) // 2]
        opt.step()
        stats = opt.clip_stats()
        assert stats["grad_norm"] == pytest.approx(norm, rel=1e-6)
        assert stats["threshold"] == pytest.approx(threshold, rel=1e-6)
        if norm > threshold:
            clipped += 1
            # the gradients are scaled in place: their measured norm is now the threshold
            after = math.hypot(model.p0.grad.double().norm().item() * measured_p0 / g0.norm().item(),
                               model.p1.grad.item() * 0.1)
            assert after == pytest.approx(threshold, rel=1e-6)
        else:
            assert torch.equal(model.p0.grad.double(), g0)
        assert stats["clipped"] == clipped
    assert clipped == 2  # 100 (window 2..5,100: threshold 2 x 4 x rms) and 40 (window 4,5,100,3.5,40)
    assert stats["steps"] == 9


def test_a_nonfinite_gradient_changes_nothing_and_is_counted():
    model = Params(torch.randn(3, 3), torch.tensor(0.5))
    opt = OPTIMIZERS.build("scaled_adam", {}, model)
    model.p0.grad, model.p1.grad = torch.randn(3, 3), torch.tensor(1.0)
    opt.step()
    before = [p.detach().clone() for p in model.parameters()]
    state = copy.deepcopy(opt.state_dict())
    model.p0.grad = torch.full((3, 3), float("inf"))
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert opt.clip_stats()["nonfinite_steps"] == 1
    assert opt.state[model.p0]["step"] == state["state"][0]["step"] == 1


def test_state_round_trips_through_weights_only_load_bit_for_bit():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    model.register_parameter("gain", torch.nn.Parameter(torch.tensor(1.0)))
    opt = OPTIMIZERS.build("scaled_adam", {"clipping_update_period": 4}, model)
    sched = SCHEDULERS.build("eden", {"lr_batches": 10, "warmup_batches": 3}, opt, 20)
    data = [(torch.randn(16, 4), torch.randn(16, 1)) for _ in range(14)]

    def train(m, o, s, batches, epoch_at=None):
        for i, (x, y) in enumerate(batches):
            if i == epoch_at:
                s.set_epoch(1)
            loss = ((m(x) * m.gain - y) ** 2).mean()
            loss.backward()
            o.step()
            o.zero_grad()
            s.step()

    train(model, opt, sched, data[:7])
    saved = roundtrip({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()})
    twin = copy.deepcopy(model)
    twin.load_state_dict(saved["model"])
    # the trainer's order: both built, then both loaded
    twin_opt = OPTIMIZERS.build("scaled_adam", {"clipping_update_period": 4}, twin)
    twin_sched = SCHEDULERS.build("eden", {"lr_batches": 10, "warmup_batches": 3}, twin_opt, 20)
    twin_opt.load_state_dict(saved["optimizer"])
    twin_sched.load_state_dict(saved["scheduler"])
    train(model, opt, sched, data[7:], epoch_at=2)
    train(twin, twin_opt, twin_sched, data[7:], epoch_at=2)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))
    assert opt.clip_stats() == twin_opt.clip_stats() and opt.clip_stats()["steps"] == 14
    assert twin_sched.get_last_lr() == sched.get_last_lr() and twin_sched.train_epoch == 1


def test_a_two_layer_mlp_learns_with_scaled_adam_and_eden():
    """Regression onto a random teacher MLP, 256 points, full batch, 50 steps at the defaults
    (lr 0.045; Eden still in its warmup): the loss falls about 76-fold (0.132 -> 0.00174)."""
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    teacher = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    with torch.no_grad():
        y = teacher(x)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    opt = OPTIMIZERS.build("scaled_adam", {}, model)
    sched = SCHEDULERS.build("eden", {}, opt, 50)
    first = None
    for _ in range(50):
        loss = (model(x) - y).pow(2).mean()
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    last = (model(x) - y).pow(2).mean().item()
    assert first == pytest.approx(0.13205, rel=1e-3)
    assert first / last > 50


# ------------------------------------------------------------------ Eden
def test_eden_factor_equals_the_formula():
    """lr_batches 100, lr_epochs 2, warmup 10 steps from 0.5; by hand:
    step 0: warmup 0.5; step 5: 0.75 * 1.0025^-0.25; step 10: 1.01^-0.25 (warmup over);
    step 100: 2^-0.25; step 100 at epoch 2: 2^-0.25 * 2^-0.25 = 2^-0.5; step 5 at epoch 1:
    0.75 * 1.0025^-0.25 * 1.25^-0.25."""
    args = dict(lr_batches=100.0, lr_epochs=2.0, warmup_batches=10.0, warmup_start=0.5)
    expected = {(0, 0): 0.5, (5, 0): 0.7495319810513676, (10, 0): 0.9975155087566253,
                (100, 0): 0.8408964152537145, (100, 2): 0.7071067811865475, (5, 1): 0.7088635817588582}
    for (step, epoch), value in expected.items():
        assert eden_factor(step, epoch, **args) == pytest.approx(value, rel=1e-15, abs=0)

    model = torch.nn.Linear(2, 2)
    opt = OPTIMIZERS.build("scaled_adam", {"lr": 2.0}, model)
    sched = SCHEDULERS.build("eden", {"lr_batches": 100, "lr_epochs": 2, "warmup_batches": 10}, opt, 0)
    seen = {0: opt.param_groups[0]["lr"]}
    for step in range(1, 101):
        opt.step()  # no gradients: nothing moves
        sched.step()
        seen[step] = opt.param_groups[0]["lr"]
    for step in (0, 5, 10, 100):
        assert seen[step] == pytest.approx(2.0 * expected[(step, 0)], rel=1e-15, abs=0)
    sched.set_epoch(2)  # the trainer's hook: the lr changes at once, and is saved with the state
    assert opt.param_groups[0]["lr"] == pytest.approx(2.0 * expected[(100, 2)], rel=1e-15, abs=0)
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
    assert roundtrip(sched.state_dict())["train_epoch"] == 2


def test_eden_settings_are_checked():
    opt = OPTIMIZERS.build("scaled_adam", {}, torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="lr_batches and lr_epochs must be > 0"):
        SCHEDULERS.build("eden", {"lr_epochs": 0}, opt, 10)
    with pytest.raises(ValueError, match="0 <= warmup_start <= 1"):
        SCHEDULERS.build("eden", {"warmup_start": 1.5}, opt, 10)


# ------------------------------------------------------------------ the trainer
def test_a_trainer_run_with_scaled_adam_and_eden_resumes_exactly(tmp_path, capsys):
    """A tiny contrastive run (8 clips: one step per epoch, so every step crosses an epoch
    boundary and the trainer passes the epoch to Eden): the saved scheduler state holds the
    epoch, the lr is Eden's at (step, epoch), and a run resumed from step 2 ends, bit for bit,
    with the weights of the run never interrupted."""
    import shutil

    from safetensors.torch import load_file

    from audiotext.bin import train as train_cli
    from audiotext.train.checkpoint import write_latest
    from fixtures import make_corpus

    cuts = make_corpus(tmp_path / "data", num_clips=8, seed=2)
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "tokenizer: byte\n"
        "encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8}\n"
        "text_encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}\n"
        "objective_conf: {embed_dim: 16}\n"
        "optim: scaled_adam\noptim_conf: {clipping_update_period: 4}\n"
        "scheduler: eden\nscheduler_conf: {lr_batches: 4, lr_epochs: 1, warmup_batches: 2}\n"
        f"data: {{train_cuts: {cuts}, max_duration: 5, num_buckets: 2, num_workers: 0, feature_stats_clips: 4}}\n"
        "trainer: {max_steps: 4, save_interval: 2, log_interval: 1, progress_bar: false, grad_clip: 0}\n")
    # the trainer's fixed-norm clipping on top of ScaledAdam's own is refused, naming the fix
    twice = tmp_path / "twice.yaml"
    twice.write_text(cfg.read_text().replace("grad_clip: 0", "grad_clip: 1.0"))
    assert train_cli.main(["--config", str(twice), "--exp-dir", str(tmp_path / "twice")]) == 2
    assert "set trainer.grad_clip: 0 (it is 1.0)" in capsys.readouterr().err
    exp = tmp_path / "exp"
    assert train_cli.main(["--config", str(cfg), "--exp-dir", str(exp)]) == 0
    ckpts = exp / "checkpoints"
    state = torch.load(ckpts / "step-00000004" / "trainer_state.pt", weights_only=True)
    assert state["step"] == 4 and state["epoch"] == 3 == state["scheduler"]["train_epoch"]
    # the lr of the next step: base lr x Eden at step 4, epoch 3
    assert state["scheduler"]["_last_lr"] == [pytest.approx(LR * eden_factor(4, 3, 4.0, 1.0, 2.0, 0.5), rel=1e-15)]
    assert state["optimizer"]["state"][0]["clip_steps"] == 4
    whole = load_file(str(ckpts / "step-00000004" / "model.safetensors"))

    shutil.rmtree(ckpts / "step-00000004")  # as if killed after the save at step 2
    write_latest(ckpts, "step-00000002")
    assert train_cli.main(["--config", str(cfg), "--exp-dir", str(exp), "--resume"]) == 0
    resumed = load_file(str(ckpts / "step-00000004" / "model.safetensors"))
    assert whole.keys() == resumed.keys()
    assert [k for k in whole if not torch.equal(whole[k], resumed[k])] == []


# ------------------------------------------------------------------ FSDP2
@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found beside the interpreter")
def test_on_fsdp2_shards_it_equals_one_process_and_resumes_exactly(tmp_path):
    """tests/optim_fsdp2_check.py on 2 processes (a 7-row matrix: uneven shards; a one-element
    parameter; a clipped step): 12 steps end where one process ends (up to float summation order
    over the shards), the clipping counts agree, and the run reloaded from its full state at step 7
    ends bit for bit where it ended."""
    sys.path.insert(0, str(ROOT / "tests"))
    import optim_fsdp2_check as check

    out = tmp_path / "fsdp2.pt"
    script = ROOT / "tests" / "optim_fsdp2_check.py"
    run = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "2", str(script), str(out)],
                         env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    sharded = torch.load(out, weights_only=True)
    task, model, opt = check.make(None)
    check.train(model, opt, check.batches(12))
    single = task.state_dict()
    assert sharded["end"].keys() == single.keys()
    for name, value in single.items():
        torch.testing.assert_close(sharded["end"][name], value, rtol=0, atol=1e-6, msg=name)
        assert torch.equal(sharded["resumed"][name], sharded["end"][name]), name
    assert sharded["stats"]["clipped"] == opt.clip_stats()["clipped"] == 1
    assert sharded["stats"]["steps"] == 12
    # the saved state is full: moments at the parameter's whole shape
    assert sharded["state"]["state"]["block.linear.weight"]["exp_avg_sq"].shape == (7, 6)
