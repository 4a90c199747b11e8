"""Exact resume: a run killed with SIGKILL and resumed ends with the same weights, bit for bit, as a
run never interrupted, with 0 and 2 loader workers, on 1 and 2 processes; a crash in the middle of a
save leaves the previous checkpoint; torchrun's restarts resume by themselves."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from fixtures import make_corpus

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
STEPS = 10
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def config(root: Path, cuts: Path, workers: int) -> Path:
    # dropout and SpecAugment on: the per-step and per-batch seeds are what keeps the runs equal
    path = root / f"exp_w{workers}.yaml"
    path.write_text(
        "tokenizer: byte\n"
        "encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8, dropout: 0.1}\n"
        "text_encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, dropout: 0.1}\n"
        "objective_conf: {embed_dim: 16}\n"
        f"data: {{train_cuts: {cuts}, max_duration: 5, num_buckets: 2, num_workers: {workers}, "
        "feature_stats_clips: 8}\n"
        f"trainer: {{max_steps: {STEPS}, save_interval: 2, log_interval: 1, progress_bar: false}}\n")
    return path


def command(cfg: Path, exp: Path, procs: int, *extra: str):
    if procs == 1:
        return [sys.executable, "-m", "audiotext.bin.train", "--config", str(cfg), "--exp-dir", str(exp), *extra]
    return [TORCHRUN, "--standalone", "--nproc_per_node", str(procs), "-m", "audiotext.bin.train",
            "--config", str(cfg), "--exp-dir", str(exp), *extra]


def final_weights(exp: Path):
    return load_file(str(exp / "checkpoints" / f"step-{STEPS:08d}" / "model.safetensors"))


def assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert differing == [], f"{len(differing)} of {len(a)} tensors differ: {differing[:5]}"


def wait_for(path: Path, process, timeout: float = 240.0) -> None:
    end = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, f"the run ended before {path.name} appeared"
        assert time.time() < end, f"no {path} after {timeout} s"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    return root, make_corpus(root / "data", num_clips=24, seed=2)


# one process without loader workers, and two processes with two workers each: the mixed cases
# (1, 2) and (2, 0) run no code these two do not, and cost ~70 s of CI
@pytest.mark.parametrize("procs, workers", [(1, 0), (2, 2)])
def test_killed_and_resumed_run_ends_bitwise_equal(corpus, procs, workers):
    if procs > 1 and TORCHRUN is None:
        pytest.skip("torchrun not found beside the interpreter")
    root, cuts = corpus
    cfg = config(root, cuts, workers)
    whole = root / f"whole_p{procs}_w{workers}"
    run = subprocess.run(command(cfg, whole, procs), env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]

    killed = root / f"killed_p{procs}_w{workers}"
    process = subprocess.Popen(command(cfg, killed, procs), env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(killed / "checkpoints" / "step-00000002", process)
    time.sleep(random.Random(procs * 10 + workers).uniform(0.0, 1.5))  # anywhere: mid-step, mid-save
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (killed / "checkpoints" / "LATEST").is_file()
    resumed = subprocess.run(command(cfg, killed, procs, "--resume"), env=ENV, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    assert_bitwise_equal(final_weights(whole), final_weights(killed))


def test_crash_in_the_middle_of_a_save_leaves_the_previous_checkpoint(corpus, monkeypatch, tmp_path):
    """The save at step 4 dies after writing the weights into its temporary directory (a full disk):
    LATEST still names step 2, which loads, and resuming from it ends equal to an uninterrupted run."""
    from audiotext.bin import train as train_cli
    from audiotext.train import trainer as trainer_module

    root, cuts = corpus
    cfg = config(root, cuts, 0)
    whole = tmp_path / "whole"
    assert train_cli.main(["--config", str(cfg), "--exp-dir", str(whole)]) == 0

    crashed = tmp_path / "crashed"
    real_write_weights = trainer_module.write_weights

    def failing_write_weights(path, state):
        real_write_weights(path, state)
        if path.parent.name == "step-00000004.tmp":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer_module, "write_weights", failing_write_weights)
    with pytest.raises(OSError, match="No space left"):
        train_cli.main(["--config", str(cfg), "--exp-dir", str(crashed)])
    monkeypatch.undo()
    ckroot = crashed / "checkpoints"
    assert (ckroot / "LATEST").read_text().strip() == "step-00000002"
    assert (ckroot / "step-00000004.tmp" / "model.safetensors").is_file()  # the half-written one
    assert not (ckroot / "step-00000004").exists()
    assert train_cli.main(["--config", str(cfg), "--exp-dir", str(crashed), "--resume"]) == 0
    assert_bitwise_equal(final_weights(whole), final_weights(crashed))
    assert not (ckroot / "step-00000004.tmp").exists()  # the next save at step 4 replaced it


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found beside the interpreter")
def test_torchrun_restarts_a_killed_rank_and_the_job_completes(corpus):
    """``torchrun --max-restarts 3``: rank 1 is killed mid-run; torchrun restarts the workers, they
    resume from the newest checkpoint by themselves and end equal to an uninterrupted run."""
    root, cuts = corpus
    cfg = config(root, cuts, 0)
    whole = root / "whole_p2_w0"  # the uninterrupted 2-process run, when the test above made it
    if not (whole / "checkpoints" / f"step-{STEPS:08d}").is_dir():
        run = subprocess.run(command(cfg, whole, 2), env=ENV, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
    exp = root / "elastic"
    launch = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "--max-restarts", "3", "-m", "audiotext.bin.train",
              "--config", str(cfg), "--exp-dir", str(exp)]
    process = subprocess.Popen(launch, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    wait_for(exp / "checkpoints" / "step-00000004", process)
    workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    rank1 = [pid for pid in workers if "RANK=1" in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")]
    assert rank1, f"no rank-1 worker among {workers}"
    os.kill(int(rank1[0]), signal.SIGKILL)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    assert "resumed from" in err
    assert_bitwise_equal(final_weights(whole), final_weights(exp))
