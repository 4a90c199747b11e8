"""Whole-set validation metrics: the tagging task's mAP, computed from outputs gathered over the
validation set (not a mean of per-batch values), and the trainer calling the hook."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

from audiotext.data.features import fbank_frames
from audiotext.experiment import build_task, resolve
from audiotext.tasks.tagging import AudioTaggingTask

VOCAB = ["a", "b", "c", "d"]
DURATIONS = (1.0, 1.3, 1.6, 1.9)  # distinct lengths: the patched head tells the clips apart by them
LABELS = (["a"], ["b"], ["a", "b"], ["c"])  # "d" has no positive clip
SCORES = np.array([[0.9, 0.2, 0.1, 0.5],
                   [0.8, 0.7, 0.3, 0.5],
                   [0.3, 0.6, 0.4, 0.5],
                   [0.1, 0.5, 0.2, 0.5]])
# By hand, classes ranked by score:
#   a: clip0 + (P 1/1), clip1 -, clip2 + (P 2/3), clip3 -  -> AP (1 + 2/3) / 2 = 5/6
#   b: clip1 + (1/1), clip2 + (2/2), clip3 -, clip0 -      -> AP 1
#   c: clip2 -, clip1 -, clip3 + (1/3), clip0 -            -> AP 1/3
#   d: no positive: left out (as AudioSet evaluation does)
# mAP = (5/6 + 1 + 1/3) / 3 = 13/18
EXPECTED_MAP = 13 / 18


def _clips(root):
    recordings, sups = [], []
    for i, (duration, labels) in enumerate(zip(DURATIONS, LABELS)):
        path = root / f"clip{i}.wav"
        t = np.arange(int(duration * 16000)) / 16000
        sf.write(path, (0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t)).astype(np.float32), 16000, subtype="PCM_16")
        rec = Recording.from_file(path, recording_id=f"clip{i}")
        recordings.append(rec)
        sups.append(SupervisionSegment(id=f"clip{i}-0", recording_id=rec.id, start=0.0, duration=rec.duration,
                                       custom={"labels": labels}))
    out = root / "cuts.jsonl.gz"
    CutSet.from_manifests(RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(sups)).to_file(out)
    return out


def _config(cuts, max_steps=1):
    return {
        "task": "tagging", "task_conf": {"labels": VOCAB, "dropout": 0.0}, "tokenizer": "byte",
        "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32, "subsampling_channels": 4},
        "data": {"train_cuts": str(cuts), "valid_cuts": str(cuts), "max_duration": 3.0, "num_buckets": 1,
                 "num_workers": 0, "feature_stats_clips": 4},
        "scheduler_conf": {"warmup_steps": 1},
        "trainer": {"max_steps": max_steps, "save_interval": 100, "valid_interval": 1, "log_interval": 1,
                    "progress_bar": False},
    }


def test_validation_metrics_is_map_over_classes_with_a_positive(tmp_path):
    task = build_task(resolve(_config(tmp_path / "unused.jsonl.gz")))
    targets = np.zeros((4, 4), dtype=np.float32)
    for row, labels in enumerate(LABELS):
        targets[row, [VOCAB.index(x) for x in labels]] = 1.0
    metrics = task.validation_metrics({"scores": torch.tensor(SCORES, dtype=torch.float32),
                                       "targets": torch.tensor(targets)})
    assert metrics == {"mAP": pytest.approx(EXPECTED_MAP, abs=1e-7)}
    # counting the class without a positive as AP 0 would give 13/24: it is left out
    assert not math.isclose(metrics["mAP"], 13 / 24)
    assert task.validation_metrics({}) == {}


def test_trainer_validate_reports_the_map_of_the_whole_set(tmp_path, monkeypatch):
    """Fixed scores through the real trainer: the logged mAP is the hand-computed one over the four
    clips, which come in batches of at most 3 s of audio (a mean of per-batch mAPs would differ)."""
    from audiotext.bin import train as train_cli

    cuts = _clips(tmp_path)
    logits_table = torch.logit(torch.tensor(SCORES, dtype=torch.float32))

    def fixed_logits(self, features, feature_lens):
        frames = {fbank_frames(int(d * 16000), self.fbank.conf): i for i, d in enumerate(DURATIONS)}
        rows = torch.stack([logits_table[frames[int(n)]] for n in feature_lens])
        return rows + 0.0 * self.head.bias.sum()  # a path to a parameter, so the training step runs

    monkeypatch.setattr(AudioTaggingTask, "logits", fixed_logits)
    calls = []
    original = AudioTaggingTask.validation_metrics
    monkeypatch.setattr(AudioTaggingTask, "validation_metrics",
                        lambda self, outputs: calls.append({k: tuple(v.shape) for k, v in outputs.items()})
                        or original(self, outputs))
    config = tmp_path / "tagging.yaml"
    config.write_text(yaml.safe_dump(_config(cuts)))
    assert train_cli.main(["--config", str(config), "--exp-dir", str(tmp_path / "exp")]) == 0
    summary = json.loads((tmp_path / "exp" / "train_summary.json").read_text())
    assert calls == [{"scores": (4, 4), "targets": (4, 4)}]  # once, over all four clips
    assert summary["last_valid"]["mAP"] == pytest.approx(EXPECTED_MAP, abs=1e-6)
    assert set(summary["last_valid"]) == {"loss", "label_acc", "mAP"}


def _gather_worker(rank, port, queue):
    import torch.distributed as dist

    from audiotext.train import distributed

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        rows = {0: 3, 1: 1}[rank]
        local = torch.arange(rows * 2, dtype=torch.float32).reshape(rows, 2) + 100 * rank
        empty = torch.zeros(0, 2) if rank == 0 else torch.ones(2, 2)
        queue.put((rank, distributed.all_gather_rows(local).tolist(), distributed.all_gather_rows(empty).tolist()))
    finally:
        dist.destroy_process_group()


def test_all_gather_rows_pads_unequal_ranks_and_cuts_the_padding():
    import multiprocessing as mp
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_gather_worker, args=(rank, port, queue)) for rank in (0, 1)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    expected = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [100.0, 101.0]]  # rank 0's three rows, then rank 1's one
    assert results == [(0, expected, [[1.0, 1.0], [1.0, 1.0]]), (1, expected, [[1.0, 1.0], [1.0, 1.0]])]



def test_two_ranks_validate_every_clip_when_the_batches_do_not_fill_the_last_round(tmp_path):
    """Three validation batches on two ranks under torchrun (rank 1 has none in the second round):
    rank 1 stands in with its previous batch and discards it, so the mAP is still the hand-computed
    one of all four clips (leaving the round out would score three clips)."""
    import subprocess
    import sys
    from pathlib import Path

    cuts = _clips(tmp_path)
    config = tmp_path / "tagging.yaml"
    # 3 s per batch over 1.0, 1.3, 1.6, 1.9 s clips in manifest order: [0, 1], [2], [3]
    config.write_text(yaml.safe_dump(_config(cuts, max_steps=1)))
    script = Path(__file__).with_name("validate_rank_check.py")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(config), str(tmp_path / "exp")], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((tmp_path / "exp" / "train_summary.json").read_text())
    assert summary["last_valid"]["mAP"] == pytest.approx(EXPECTED_MAP, abs=1e-6)
