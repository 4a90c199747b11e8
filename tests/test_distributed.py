"""Multi-node and multi-process training equals one process on the whole batch: two "nodes" of two
processes meet through c10d rendezvous on 127.0.0.1; gradient accumulation equals one large batch;
FSDP2 trains, saves and resumes on CPU."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dist_grad_check import loss_and_grads
from fixtures import make_corpus

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
needs_torchrun = pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found beside the interpreter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("dist") / "data", num_clips=8, seed=4)


@needs_torchrun
def test_two_nodes_of_two_processes_equal_one_process_on_the_whole_batch(cuts, tmp_path):
    from lhotse import CutSet

    port = free_port()
    out = tmp_path / "rank0.pt"
    nodes = []
    for is_host in (1, 0):
        nodes.append(subprocess.Popen(
            [TORCHRUN, "--nnodes", "2", "--nproc_per_node", "2", "--rdzv-backend", "c10d",
             "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "grad-check", "--rdzv-conf", f"is_host={is_host}",
             str(ROOT / "tests" / "dist_grad_check.py"), str(cuts), str(out), "8"],
            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err[-3000:]
    distributed = torch.load(out, weights_only=True)
    assert distributed["world_size"] == 4
    loss, grads = loss_and_grads(list(CutSet.from_file(cuts))[:8], slice(0, 8))
    assert abs(float(distributed["loss"]) - float(loss)) <= 1e-5
    assert distributed["grads"].keys() == grads.keys() and "objective.logit_scale" in grads
    for name, grad in grads.items():
        torch.testing.assert_close(distributed["grads"][name], grad, atol=1e-5, rtol=0, msg=name)


def tiny_task(objective="contrastive", objective_conf=None):
    from audiotext.experiment import build_task, resolve

    exp = resolve({
        "tokenizer": "byte",
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8,
                         "dropout": 0.0},
        "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "dropout": 0.0},
        "objective": objective,
        "objective_conf": objective_conf or {"embed_dim": 16, "learn_temperature": True},
        "data": {"specaug": {"enabled": False}},
        "trainer": {"progress_bar": False},
    })
    torch.manual_seed(0)
    return build_task(exp), exp


@pytest.mark.parametrize("objective, objective_conf", [
    ("contrastive", {"embed_dim": 16, "learn_temperature": True}),
    ("contrastive", {"embed_dim": 16, "loss": "sigmoid", "learn_temperature": True}),
    ("captioning", {"parallel_fraction": 0.0, "decoder": {"d_model": 32, "num_layers": 1, "num_heads": 2,
                                                          "d_ff": 64, "dropout": 0.0}}),
])
def test_gradient_accumulation_equals_one_large_batch(cuts, tmp_path, objective, objective_conf):
    """Three micro-batches (3, 2, 3 clips) accumulate to the gradient of the 8-clip batch: through the
    contrastive embedding cache, and through token-count weighting for captioning."""
    from lhotse import CutSet

    from audiotext.train.trainer import Trainer

    clips = list(CutSet.from_file(cuts))[:8]
    grads = []
    for parts in ([slice(0, 8)], [slice(0, 3), slice(3, 5), slice(5, 8)]):
        task, exp = tiny_task(objective, objective_conf)
        trainer = Trainer(task, str(tmp_path / f"exp{len(parts)}"), exp, torch.device("cpu"))
        dataset = task.build_dataset(exp.data, train=False)
        report = trainer._backward_steps([dataset.make_batch(clips[rows]) for rows in parts])
        grads.append(({n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}, report))
    (large, large_report), (accumulated, accumulated_report) = grads
    assert large.keys() == accumulated.keys() and len(large) > 10
    for name in large:
        torch.testing.assert_close(accumulated[name], large[name], atol=1e-5, rtol=0, msg=name)
    assert abs(accumulated_report["loss"] - large_report["loss"]) <= 1e-5


@needs_torchrun
def test_fsdp2_trains_saves_and_resumes_on_cpu(cuts, tmp_path):
    config = tmp_path / "exp.yaml"
    config.write_text(
        "tokenizer: byte\n"
        "encoder_conf: {d_model: 32, num_layers: 2, num_heads: 2, d_ff: 64, subsampling_channels: 8}\n"
        "text_encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}\n"
        "objective_conf: {embed_dim: 16, learn_temperature: true}\n"
        f"data: {{train_cuts: {cuts}, max_duration: 4, num_buckets: 1, num_workers: 0, feature_stats_clips: 8}}\n"
        "trainer: {max_steps: 4, save_interval: 2, log_interval: 1, progress_bar: false, strategy: fsdp2}\n")
    exp = tmp_path / "exp"
    base = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "audiotext.bin.train", "--config", str(config),
            "--exp-dir", str(exp)]
    first = subprocess.run(base, env=ENV, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "strategy fsdp2" in first.stderr
    from safetensors.torch import load_file

    full = load_file(str(exp / "checkpoints" / "step-00000004" / "model.safetensors"))
    # a full (unsharded) state dict: every tensor at its model shape
    task, _ = tiny_task()
    assert full["encoder.subsampling.proj.weight"].shape == task.encoder.subsampling.proj.weight.shape
    second = subprocess.run(base + ["--resume", "trainer.max_steps=6"], env=ENV, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "at step 4" in second.stderr
    assert json.loads((exp / "train_summary.json").read_text())["steps"] == 6
    assert (exp / "checkpoints" / "LATEST").read_text().strip() == "step-00000006"
