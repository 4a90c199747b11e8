"""A real torchrun launch: two CPU processes (gloo) train, checkpoint and resume."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import make_corpus, tiny_train_config

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found beside the interpreter")
def test_two_process_training_and_resume(tmp_path):
    cuts = make_corpus(tmp_path / "data", num_clips=24)
    config = tmp_path / "exp.yaml"
    config.write_text(tiny_train_config(cuts, max_steps=4, save_interval=2))
    exp = tmp_path / "exp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "audiotext.bin.train",
            "--config", str(config), "--exp-dir", str(exp)]
    first = subprocess.run(base, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "world size 2" in first.stderr
    summary = json.loads((exp / "train_summary.json").read_text())
    assert summary["steps"] == 4
    assert (exp / "checkpoints" / "LATEST").read_text().strip() == "step-00000004"

    second = subprocess.run(base + ["--resume", "trainer.max_steps=6"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "resumed from" in second.stderr and "at step 4" in second.stderr
    assert json.loads((exp / "train_summary.json").read_text())["steps"] == 6
    assert (exp / "checkpoints" / "LATEST").read_text().strip() == "step-00000006"


def test_shutdown_stops_the_progress_monitor_thread():
    """tqdm starts its monitor thread even for a disabled bar; shutdown() leaves no thread behind it."""
    import threading

    from tqdm import tqdm

    from audiotext.train import distributed

    tqdm(total=1, disable=True).close()
    assert "tqdm_monitor" in [t.name for t in threading.enumerate()]
    distributed.shutdown()
    # other tests of the same process may leave threads of their own; tqdm's must be gone
    assert "tqdm_monitor" not in [t.name for t in threading.enumerate()]
    assert not distributed.is_distributed()
