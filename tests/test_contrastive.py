"""Contrastive InfoNCE: value against a hand-written reference, gradients under torchrun (gloo), clamp."""
import math
import os
import socket
import time
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from audiotext.objectives.base import ObjectiveContext
from audiotext.objectives.contrastive import ContrastiveObjective, contrastive_loss

N, D = 8, 6
WORLD = 2
SPLITS = {"equal": [4, 4], "unequal": [5, 3]}
SCALE = 7.5


def global_batch(dtype=torch.float64):
    g = torch.Generator().manual_seed(1234)
    audio = F.normalize(torch.randn(N, D, generator=g, dtype=torch.float64), dim=-1)
    text = F.normalize(torch.randn(N, D, generator=g, dtype=torch.float64), dim=-1)
    return audio.to(dtype), text.to(dtype)


def reference_rows_loss(audio, text, scale, rows):
    """Hand-written symmetric InfoNCE of ``rows`` (global indices) against the whole batch, in numpy.

    For each row i: 0.5 * (-log softmax_j(s * a_i.t_j)[i] - log softmax_j(s * t_i.a_j)[i]),
    averaged over ``rows``.
    """
    a = np.asarray(audio, dtype=np.float64)
    t = np.asarray(text, dtype=np.float64)
    n = a.shape[0]
    total = 0.0
    for i in rows:
        for x, y in ((a, t), (t, a)):
            logits = [scale * float(np.dot(x[i], y[j])) for j in range(n)]
            m = max(logits)
            log_z = m + math.log(sum(math.exp(l - m) for l in logits))
            total += 0.5 * (log_z - logits[i])
    return total / len(rows)


def test_single_process_equals_reference_float64():
    audio, text = global_batch()
    for scale in (1.0, SCALE, 100.0):
        loss = contrastive_loss(audio, text, torch.tensor(scale, dtype=torch.float64))
        ref = reference_rows_loss(audio, text, scale, range(N))
        assert loss.dim() == 0
        assert abs(loss.item() - ref) <= 1e-6, scale


def test_single_process_float32_close_to_reference():
    audio, text = global_batch(torch.float32)
    loss = contrastive_loss(audio, text, torch.tensor(SCALE))
    assert loss.dtype == torch.float32
    assert abs(loss.item() - reference_rows_loss(audio, text, SCALE, range(N))) <= 1e-5


def test_perfect_alignment_gives_low_loss_and_symmetric():
    audio, _ = global_batch()
    low = contrastive_loss(audio, audio.clone(), torch.tensor(100.0, dtype=torch.float64)).item()
    assert low < 0.05
    a, t = global_batch()
    # swapping the modalities leaves the symmetric loss unchanged
    s = torch.tensor(SCALE, dtype=torch.float64)
    assert abs(contrastive_loss(a, t, s).item() - contrastive_loss(t, a, s).item()) <= 1e-12


def test_single_process_gradient_matches_reference_autograd():
    """Gradients of the library loss equal those of an independent torch formulation."""
    audio, text = global_batch()
    a1, t1, s1 = audio.clone().requires_grad_(), text.clone().requires_grad_(), torch.tensor(SCALE, dtype=torch.float64, requires_grad=True)
    contrastive_loss(a1, t1, s1).backward()
    a2, t2, s2 = audio.clone().requires_grad_(), text.clone().requires_grad_(), torch.tensor(SCALE, dtype=torch.float64, requires_grad=True)
    sim = s2 * a2 @ t2.t()
    ref = 0.5 * (-torch.diagonal(torch.log_softmax(sim, 1)).mean() - torch.diagonal(torch.log_softmax(sim.t(), 1)).mean())
    ref.backward()
    for x, y in ((a1, a2), (t1, t2), (s1, s2)):
        assert (x.grad - y.grad).abs().max().item() <= 1e-10


# ---------------------------------------------------------------- two gloo processes

def _worker(rank, world, port, outdir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    import torch.distributed as dist

    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        audio, text = global_batch()
        results = {}
        for case, sizes in SPLITS.items():
            start = sum(sizes[:rank])
            rows = slice(start, start + sizes[rank])
            a = audio[rows].clone().requires_grad_(True)
            t = text[rows].clone().requires_grad_(True)
            s = torch.tensor(SCALE, dtype=torch.float64, requires_grad=True)
            loss = contrastive_loss(a, t, s)
            loss.backward()
            results[case] = {"loss": loss.item(), "grad_audio": a.grad.clone(), "grad_text": t.grad.clone(),
                             "grad_scale": s.grad.clone(), "start": start, "n": sizes[rank]}
        torch.save(results, os.path.join(outdir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run both splits on 2 gloo ranks once; per-rank results loaded back in the parent."""
    import torch.multiprocessing as mp

    outdir = str(tmp_path_factory.mktemp("ddp"))
    ctx = mp.spawn(_worker, args=(WORLD, _free_port(), outdir), nprocs=WORLD, join=False)
    deadline = time.time() + 120
    while not ctx.join(timeout=5):
        if time.time() > deadline:
            for p in ctx.processes:
                if p.is_alive():
                    p.kill()
            pytest.fail("gloo workers did not finish within 120 s")
    return [torch.load(os.path.join(outdir, f"rank{r}.pt"), weights_only=True) for r in range(WORLD)]


def global_loss_and_grads():
    audio, text = global_batch()
    a, t = audio.clone().requires_grad_(), text.clone().requires_grad_()
    s = torch.tensor(SCALE, dtype=torch.float64, requires_grad=True)
    loss = contrastive_loss(a, t, s)  # one process: the plain global loss
    loss.backward()
    return loss.item(), a.grad, t.grad, s.grad


def test_equal_split_mean_of_local_losses_is_global_loss(ranks):
    audio, text = global_batch()
    local = [r["equal"]["loss"] for r in ranks]
    loss, *_ = global_loss_and_grads()
    assert abs(loss - reference_rows_loss(audio, text, SCALE, range(N))) <= 1e-6
    assert abs(sum(local) / WORLD - loss) <= 1e-6
    # the ranks' losses really are different parts of the batch
    assert abs(local[0] - local[1]) > 1e-3


def test_equal_split_ddp_averaged_gradients_equal_global_gradients(ranks):
    """All-gather's backward sums every rank's loss gradient into the owner's rows:
    grad on rank r's rows = sum_s dL_s/dx_r = W * dL_global/dx_r (equal rows). DDP divides by W,
    so the averaged gradient is exactly the global-batch gradient."""
    _, g_audio, g_text, g_scale = global_loss_and_grads()
    for r, res in enumerate(ranks):
        c = res["equal"]
        rows = slice(c["start"], c["start"] + c["n"])
        assert (c["grad_audio"] / WORLD - g_audio[rows]).abs().max().item() <= 1e-10, r
        assert (c["grad_text"] / WORLD - g_text[rows]).abs().max().item() <= 1e-10, r
        # not just the local term: the other rank's loss contributes to this rank's rows
        assert (c["grad_audio"] - g_audio[rows]).abs().max().item() > 1e-4
    # the temperature is replicated, not gathered: DDP's average of the local grads is the global grad
    mean_scale_grad = sum(res["equal"]["grad_scale"] for res in ranks) / WORLD
    assert abs(mean_scale_grad.item() - g_scale.item()) <= 1e-10


def test_unequal_split_local_loss_uses_global_logits(ranks):
    """With 5 and 3 rows, each rank's loss is the reference loss of its own rows against all 8,
    weighted by the rank's share of rows (n_r * W / N) so that DDP's average is the global mean."""
    audio, text = global_batch()
    for r, res in enumerate(ranks):
        c = res["unequal"]
        assert c["n"] == SPLITS["unequal"][r]
        ref = reference_rows_loss(audio, text, SCALE, range(c["start"], c["start"] + c["n"]))
        assert abs(c["loss"] - ref * c["n"] * WORLD / N) <= 1e-6, r
        # and differs from a loss computed on the local rows alone (no gather)
        a, t = audio[c["start"]:c["start"] + c["n"]], text[c["start"]:c["start"] + c["n"]]
        local_only = contrastive_loss(a, t, torch.tensor(SCALE, dtype=torch.float64)).item()
        assert abs(c["loss"] - local_only) > 1e-3
    # the plain average of the (weighted) local losses is the global loss
    loss, *_ = global_loss_and_grads()
    assert abs(sum(res["unequal"]["loss"] for res in ranks) / WORLD - loss) <= 1e-6


def test_unequal_split_gradients_are_sum_of_all_ranks_losses(ranks):
    """grad on rank r's rows after each rank's backward = d(sum_s L_s)/dx_r, L_s = rank s's local
    (row-share weighted) loss."""
    audio, text = global_batch()
    a, t = audio.clone().requires_grad_(), text.clone().requires_grad_()
    s = torch.tensor(SCALE, dtype=torch.float64, requires_grad=True)
    sim = s * a @ t.t()
    total = 0
    for res in ranks:
        c = res["unequal"]
        rows = slice(c["start"], c["start"] + c["n"])
        targets = torch.arange(c["start"], c["start"] + c["n"])
        weight = c["n"] * WORLD / N
        total = total + weight * 0.5 * (F.cross_entropy(sim[rows], targets) + F.cross_entropy(sim.t()[rows], targets))
    total.backward()
    for res in ranks:
        c = res["unequal"]
        rows = slice(c["start"], c["start"] + c["n"])
        assert (c["grad_audio"] - a.grad[rows]).abs().max().item() <= 1e-10
        assert (c["grad_text"] - t.grad[rows]).abs().max().item() <= 1e-10
    assert abs(sum(res["unequal"]["grad_scale"] for res in ranks).item() - s.grad.item()) <= 1e-10


def test_unequal_split_ddp_averaged_gradients_equal_global_gradients(ranks):
    _, g_audio, _, _ = global_loss_and_grads()
    for res in ranks:
        c = res["unequal"]
        rows = slice(c["start"], c["start"] + c["n"])
        assert (c["grad_audio"] / WORLD - g_audio[rows]).abs().max().item() <= 1e-8


# ---------------------------------------------------------------- the objective module

def tiny_objective(**conf):
    ctx = ObjectiveContext(audio_dim=12, vocab_size=20, pad_id=0, bos_id=2, eos_id=3,
                           text_encoder_conf={"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32,
                                              "max_length": 16, "dropout": 0.0})
    torch.manual_seed(0)
    return ContrastiveObjective(ContrastiveObjective.Config(embed_dim=8, **conf), ctx)


def test_logit_scale_clamped_at_max():
    obj = tiny_objective(temperature_init=0.001, max_logit_scale=100.0)  # exp(log 1000) = 1000
    assert obj.logit_scale.exp().item() == pytest.approx(1000.0, rel=1e-5)
    assert obj.scale().item() == pytest.approx(100.0)
    scale = obj.scale()
    scale.backward()
    assert obj.logit_scale.grad.item() == 0.0  # clamped: no gradient pushes it further
    obj = tiny_objective(temperature_init=0.1, max_logit_scale=50.0)
    assert obj.scale().item() == pytest.approx(10.0, rel=1e-5)  # below the clamp: 1/temperature
    with torch.no_grad():
        obj.logit_scale.fill_(math.log(80.0))
    assert obj.scale().item() == pytest.approx(50.0)
    assert not tiny_objective(learn_temperature=False).logit_scale.requires_grad


def test_objective_forward_reports_clamped_scale_and_matches_loss():
    obj = tiny_objective(temperature_init=0.001, max_logit_scale=30.0).eval()
    g = torch.Generator().manual_seed(3)
    frames = torch.randn(3, 5, 12, generator=g)
    frame_lens = torch.tensor([5, 2, 4])
    tokens = torch.tensor([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0], [2, 8, 9, 10, 3]])
    token_lens = torch.tensor([4, 3, 5])
    loss, report = obj(frames, frame_lens, {"tokens": tokens, "token_lens": token_lens})
    assert report["logit_scale"].item() == pytest.approx(30.0)
    audio = obj.embed_audio(frames, frame_lens)
    text = obj.embed_text(tokens, token_lens)
    assert torch.allclose(audio.norm(dim=-1), torch.ones(3), atol=1e-5)
    expected = reference_rows_loss(audio.detach().double(), text.detach().double(), 30.0, range(3))
    assert abs(loss.item() - expected) <= 1e-4
    acc = ((audio @ text.t()).argmax(-1) == torch.arange(3)).float().mean().item()
    assert report["acc_a2t_local"].item() == pytest.approx(acc)
