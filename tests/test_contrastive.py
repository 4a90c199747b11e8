"""Contrastive objective: InfoNCE and SigLIP values against hand-written references, gradients
under torchrun (gloo), fixed and learned temperature, the embedding cache for exact gradient
accumulation."""
import math
import os
import socket
import time
from datetime import timedelta
from typing import List

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from audiotext.data.batch import Batch
from audiotext.objectives import OBJECTIVES
from audiotext.objectives.base import ObjectiveContext
from audiotext.objectives.contrastive import (ContrastiveObjective, contrastive_loss, sigmoid_loss,
                                              sigmoid_loss_sum)

N, D = 8, 6
WORLD = 2
SPLITS = {"equal": [4, 4], "unequal": [5, 3]}
SCALE = 7.5
BIAS = -2.0  # SigLIP's -10 would make every off-diagonal term ~0 at this scale; -2 keeps them all in play


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
            a = audio[rows].clone().requires_grad_(True)
            t = text[rows].clone().requires_grad_(True)
            s = torch.tensor(SCALE, dtype=torch.float64, requires_grad=True)
            b = torch.tensor(BIAS, dtype=torch.float64, requires_grad=True)
            loss = sigmoid_loss(a, t, s, b)
            loss.backward()
            results["sigmoid_" + case] = {"loss": loss.item(), "grad_audio": a.grad.clone(),
                                          "grad_text": t.grad.clone(), "grad_scale": s.grad.clone(),
                                          "grad_bias": b.grad.clone(), "start": start, "n": sizes[rank]}
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


# ---------------------------------------------------------------- SigLIP (sigmoid) loss

def reference_sigmoid_rows_sum(audio, text, scale, bias, rows):
    """Hand-written SigLIP sum over audio ``rows`` (global indices) against every text row, in numpy:
    sum_j log(1 + exp(-z_ij (s a_i.t_j + b))), z_ij = +1 if i == j else -1."""
    a = np.asarray(audio, dtype=np.float64)
    t = np.asarray(text, dtype=np.float64)
    total = 0.0
    for i in rows:
        for j in range(t.shape[0]):
            z = 1.0 if i == j else -1.0
            total += math.log1p(math.exp(-z * (scale * float(np.dot(a[i], t[j])) + bias)))
    return total


def test_sigmoid_loss_hand_computed_3x3():
    audio = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=torch.float64)
    text = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=torch.float64)
    # s = 2, b = -1: logits 2 a.t - 1 = [[1, .2, -1], [-1, .6, 1], [.2, 1, .6]]; margins z * logit:
    margins = [1.0, 0.6, 0.6,  # the pairs
               -0.2, 1.0, 1.0, -1.0, -0.2, -1.0]  # the six negatives
    expected = sum(math.log1p(math.exp(-m)) for m in margins) / 3
    assert expected == pytest.approx(2.0125206924420227, abs=1e-15)
    s, b = torch.tensor(2.0, dtype=torch.float64), torch.tensor(-1.0, dtype=torch.float64)
    loss = sigmoid_loss(audio, text, s, b)
    assert loss.dim() == 0
    assert abs(loss.item() - expected) <= 1e-12
    assert abs(sigmoid_loss_sum(audio, text, s, b, offset=0).item() - 3 * expected) <= 1e-12
    # one rank's view: audio row 2 alone, global row 2 of the same three text rows
    last = sum(math.log1p(math.exp(-m)) for m in (0.6, -0.2, -1.0))
    assert abs(sigmoid_loss_sum(audio[2:], text, s, b, offset=2).item() - last) <= 1e-12
    with pytest.raises(ValueError, match="outside the 3 text rows"):
        sigmoid_loss_sum(audio[1:], text, s, b, offset=2)


@pytest.mark.parametrize("case", sorted(SPLITS))
def test_sigmoid_local_rows_against_global_text_combine_to_global_loss(case):
    """Each simulated rank scores its audio rows against all text rows at its offset; with the
    rank weighting (world / N) the mean of the ranks' losses is the single-process global loss."""
    audio, text = global_batch()
    s, b = torch.tensor(SCALE, dtype=torch.float64), torch.tensor(BIAS, dtype=torch.float64)
    glob = sigmoid_loss(audio, text, s, b).item()
    assert abs(glob - reference_sigmoid_rows_sum(audio, text, SCALE, BIAS, range(N)) / N) <= 1e-12
    local = []
    for r, n in enumerate(SPLITS[case]):
        start = sum(SPLITS[case][:r])
        part = sigmoid_loss_sum(audio[start:start + n], text, s, b, offset=start)
        assert abs(part.item() - reference_sigmoid_rows_sum(audio, text, SCALE, BIAS, range(start, start + n))) <= 1e-12
        local.append(part.item() * WORLD / N)
    assert abs(sum(local) / WORLD - glob) <= 1e-12
    assert abs(local[0] - local[1]) > 1e-3  # the halves really are different parts


def test_sigmoid_ranks_losses_average_to_global_loss(ranks):
    audio, text = global_batch()
    s, b = torch.tensor(SCALE, dtype=torch.float64), torch.tensor(BIAS, dtype=torch.float64)
    glob = sigmoid_loss(audio, text, s, b).item()
    for case in SPLITS:
        losses = [res["sigmoid_" + case]["loss"] for res in ranks]
        assert abs(sum(losses) / WORLD - glob) <= 1e-10, case
        for res in ranks:
            c = res["sigmoid_" + case]
            ref = reference_sigmoid_rows_sum(audio, text, SCALE, BIAS, range(c["start"], c["start"] + c["n"]))
            assert abs(c["loss"] - ref * WORLD / N) <= 1e-10, case


def test_sigmoid_ddp_averaged_gradients_equal_global_gradients(ranks):
    audio, text = global_batch()
    a, t = audio.clone().requires_grad_(), text.clone().requires_grad_()
    s = torch.tensor(SCALE, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(BIAS, dtype=torch.float64, requires_grad=True)
    sigmoid_loss(a, t, s, b).backward()
    for case in SPLITS:
        for res in ranks:
            c = res["sigmoid_" + case]
            rows = slice(c["start"], c["start"] + c["n"])
            assert (c["grad_audio"] / WORLD - a.grad[rows]).abs().max().item() <= 1e-10, case
            assert (c["grad_text"] / WORLD - t.grad[rows]).abs().max().item() <= 1e-10, case
        for name, full in (("grad_scale", s.grad), ("grad_bias", b.grad)):
            mean = sum(res["sigmoid_" + case][name] for res in ranks) / WORLD
            assert abs(mean.item() - full.item()) <= 1e-10, (case, name)
    assert abs(b.grad.item()) > 1e-3 and abs(s.grad.item()) > 1e-3


# ---------------------------------------------------------------- the objective module

CTX = dict(audio_dim=12, vocab_size=20, pad_id=0, bos_id=2, eos_id=3,
           text_encoder_conf={"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32,
                              "max_length": 16, "dropout": 0.0})


def tiny_objective(**conf):
    torch.manual_seed(0)
    return ContrastiveObjective(ContrastiveObjective.Config(embed_dim=8, **conf), ObjectiveContext(**CTX))


def tiny_batch(n=3, seed=3, width=6, frames_dim=12):
    g = torch.Generator().manual_seed(seed)
    frames = torch.randn(n, 5, frames_dim, generator=g)
    frame_lens = torch.randint(2, 6, (n,), generator=g)
    token_lens = torch.randint(3, width + 1, (n,), generator=g)
    tokens = torch.zeros(n, width, dtype=torch.long)
    for i, k in enumerate(token_lens.tolist()):
        tokens[i, 0], tokens[i, k - 1] = 2, 3
        tokens[i, 1:k - 1] = torch.randint(4, 20, (k - 2,), generator=g)
    return frames, frame_lens, Batch(cut_ids=[str(i) for i in range(n)], tokens=tokens, token_lens=token_lens)


def test_default_temperature_is_fixed_at_007_and_forward_matches_reference():
    obj = tiny_objective().eval()
    assert obj.conf.loss == "infonce" and obj.conf.learn_temperature is False
    assert not obj.logit_scale.requires_grad
    assert obj.scale().item() == pytest.approx(1 / 0.07, rel=1e-6)
    assert obj.logit_bias is None
    frames, frame_lens, batch = tiny_batch()
    loss, report = obj(frames, frame_lens, batch)
    assert report["logit_scale"].item() == pytest.approx(1 / 0.07, rel=1e-6)
    audio = obj.embed_audio(frames, frame_lens)
    text = obj.embed_text(batch.tokens, batch.token_lens)
    assert torch.allclose(audio.norm(dim=-1), torch.ones(3), atol=1e-5)
    expected = reference_rows_loss(audio.detach().double(), text.detach().double(), 1 / 0.07, range(3))
    assert abs(loss.item() - expected) <= 1e-5
    acc = ((audio @ text.t()).argmax(-1) == torch.arange(3)).float().mean().item()
    assert report["acc_a2t_local"].item() == pytest.approx(acc)
    loss.backward()
    assert obj.logit_scale.grad is None  # fixed: no gradient, nothing for the optimizer
    obj.after_optimizer_step()
    assert obj.scale().item() == pytest.approx(1 / 0.07, rel=1e-6)
    # a fixed temperature is not bound by the learned scale's cap
    assert tiny_objective(temperature=0.005).scale().item() == pytest.approx(200.0, rel=1e-6)


def test_sigmoid_objective_defaults_and_forward_matches_reference():
    obj = tiny_objective(loss="sigmoid").eval()
    assert obj.scale().item() == pytest.approx(10.0, rel=1e-6)  # SigLIP's init, log 10
    assert obj.logit_bias.item() == -10.0 and obj.logit_bias.requires_grad
    assert not obj.logit_scale.requires_grad
    assert tiny_objective(loss="sigmoid", temperature=0.05).scale().item() == pytest.approx(20.0, rel=1e-6)
    obj = tiny_objective(loss="sigmoid", temperature=0.25, sigmoid_bias_init=-1.5).eval()
    frames, frame_lens, batch = tiny_batch()
    loss, report = obj(frames, frame_lens, batch)
    audio = obj.embed_audio(frames, frame_lens).detach().double()
    text = obj.embed_text(batch.tokens, batch.token_lens).detach().double()
    expected = reference_sigmoid_rows_sum(audio, text, 4.0, -1.5, range(3)) / 3
    assert abs(loss.item() - expected) <= 1e-5
    assert report["logit_bias"].item() == -1.5 and report["logit_scale"].item() == pytest.approx(4.0)
    loss.backward()
    assert obj.logit_bias.grad.abs().item() > 1e-4


def test_learned_temperature_keeps_its_gradient_at_the_cap_and_is_clamped_after_the_step():
    obj = tiny_objective(learn_temperature=True, temperature=0.1, max_logit_scale=100.0)
    assert obj.logit_scale.requires_grad
    assert obj.scale().item() == pytest.approx(10.0, rel=1e-6)
    with torch.no_grad():
        obj.logit_scale.fill_(math.log(150.0))  # above the cap, as an optimizer step can leave it
    frames, frame_lens, batch = tiny_batch()
    loss, report = obj(frames, frame_lens, batch)
    assert report["logit_scale"].item() == pytest.approx(150.0, rel=1e-6)  # no clamp in forward
    loss.backward()
    assert obj.logit_scale.grad.abs().item() > 1e-6  # a clamp in forward would make this 0
    obj.after_optimizer_step()
    assert obj.logit_scale.item() == torch.tensor(math.log(100.0)).item()
    assert obj.logit_scale.grad is not None and obj.logit_scale.requires_grad  # in place: still the same leaf
    with torch.no_grad():
        obj.logit_scale.fill_(-0.5)
    obj.after_optimizer_step()
    assert obj.logit_scale.item() == 0.0  # temperature never above 1
    with torch.no_grad():
        obj.logit_scale.fill_(math.log(20.0))
    obj.after_optimizer_step()
    assert obj.logit_scale.item() == torch.tensor(math.log(20.0)).item()  # inside the range: untouched


def test_bad_options_are_errors():
    with pytest.raises(ValueError, match="loss must be one of infonce, sigmoid, got 'softmax'"):
        tiny_objective(loss="softmax")
    with pytest.raises(ValueError, match="temperature must be > 0, got 0.0"):
        tiny_objective(temperature=0.0)
    with pytest.raises(ValueError, match=r"must start in \[1/max_logit_scale, 1\] = \[0.01, 1\], got 0.001"):
        tiny_objective(temperature=0.001, learn_temperature=True)
    with pytest.raises(ValueError, match="got 2.0"):
        tiny_objective(temperature=2.0, learn_temperature=True)
    # one name for the key: the old one is unknown
    with pytest.raises(Exception, match="unknown key objective_conf.temperature_init"):
        OBJECTIVES.build("contrastive", {"temperature_init": 0.07}, ObjectiveContext(**CTX), where="objective_conf")


def test_embeddings_are_row_aligned_and_forward_is_their_loss():
    for loss_name, keys in (("infonce", {"audio", "text", "logit_scale"}),
                            ("sigmoid", {"audio", "text", "logit_scale", "logit_bias"})):
        obj = tiny_objective(loss=loss_name).eval()
        frames, frame_lens, batch = tiny_batch()
        emb = obj.embeddings(frames, frame_lens, batch)
        assert set(emb) == keys
        assert emb["audio"].shape == (3, 8) and emb["text"].shape == (3, 8)
        assert all(emb[k].shape == (3, 1) for k in keys - {"audio", "text"})
        assert obj.loss_from_embeddings(emb)[0].item() == obj(frames, frame_lens, batch)[0].item()


def test_capabilities_and_joint_forwards_the_step_hook():
    from audiotext.objectives import Objective

    assert Objective.supports_embedding_cache is False and ContrastiveObjective.supports_embedding_cache is True
    Objective().after_optimizer_step()  # the base hook is a no-op
    dec = {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32, "dropout": 0.0, "max_length": 16}
    torch.manual_seed(0)
    joint = OBJECTIVES.build("joint", {"contrastive": {"embed_dim": 8, "learn_temperature": True},
                                       "captioning": {"decoder": dec}}, ObjectiveContext(**CTX))
    assert joint.supports_embedding_cache is False
    with torch.no_grad():
        joint.contrastive.logit_scale.fill_(math.log(500.0))
    joint.after_optimizer_step()
    assert joint.contrastive.logit_scale.item() == torch.tensor(math.log(100.0)).item()


# ---------------------------------------------------------------- gradient accumulation through the cache

@pytest.mark.parametrize("loss_name", ["infonce", "sigmoid"])
def test_embedding_cache_accumulation_equals_large_batch_gradients(loss_name):
    """open_clip's accum_freq: pass 1 caches every micro-batch's embeddings without grad; pass 2
    recomputes micro-batch j with grad, splices it into the cache and backpropagates the loss of
    the whole concatenation. The summed gradients are those of the large batch, temperature and
    bias included."""
    obj = tiny_objective(loss=loss_name, learn_temperature=True, temperature=0.2)
    torch.manual_seed(1)
    encoder = nn.Linear(7, 12)  # stands in for the audio encoder's output
    params = [p for p in list(encoder.parameters()) + list(obj.parameters()) if p.requires_grad]
    micro = [tiny_batch(n, seed=10 + n, frames_dim=7) for n in (3, 2, 4)]

    def grads():
        out = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]
        for p in params:
            p.grad = None
        return out

    big_frames = torch.cat([m[0] for m in micro])
    big_lens = torch.cat([m[1] for m in micro])
    big_batch = Batch(cut_ids=[c for m in micro for c in m[2].cut_ids],
                      tokens=torch.cat([m[2].tokens for m in micro]),
                      token_lens=torch.cat([m[2].token_lens for m in micro]))
    big_loss, _ = obj(encoder(big_frames), big_lens, big_batch)
    big_loss.backward()
    expected = grads()

    with torch.no_grad():
        cache = [obj.embeddings(encoder(f), lens, b) for f, lens, b in micro]
    for j, (f, lens, b) in enumerate(micro):
        live = obj.embeddings(encoder(f), lens, b)
        parts = cache[:j] + [live] + cache[j + 1:]
        loss, _ = obj.loss_from_embeddings({k: torch.cat([p[k] for p in parts]) for k in live})
        assert abs(loss.item() - big_loss.item()) <= 1e-6
        loss.backward()
    accumulated = grads()
    for p, got, want in zip(params, accumulated, expected):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    by_id = {id(p): g for p, g in zip(params, expected)}
    assert by_id[id(obj.logit_scale)].abs().item() > 1e-5  # the scalars' gradients are really compared
    if loss_name == "sigmoid":
        assert by_id[id(obj.logit_bias)].abs().item() > 1e-5

    # what the cache buys: the mean of the micro-batches' own losses has other gradients
    sum(obj(encoder(f), lens, b)[0] * len(f) / len(big_frames) for f, lens, b in micro).backward()
    assert (grads()[0] - expected[0]).abs().max().item() > 1e-4
