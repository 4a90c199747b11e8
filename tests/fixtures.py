"""Test fixtures made on the spot: tone/noise clips with captions as real Lhotse manifests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

SR = 16000
KINDS = {
    "low": "a low humming tone",
    "high": "a high pitched whistle",
    "noise": "static noise hisses",
    "chirp": "a rising chirp sweeps upward",
}


def synth(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    if kind == "low":
        x = np.sin(2 * np.pi * rng.uniform(100, 200) * t)
    elif kind == "high":
        x = np.sin(2 * np.pi * rng.uniform(2000, 4000) * t)
    elif kind == "noise":
        x = rng.standard_normal(t.size)
    else:
        x = np.sin(2 * np.pi * (300 + 1500 * t / seconds) * t)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def make_corpus(root: Path, num_clips: int = 32, seed: int = 0, name: str = "toy") -> Path:
    """Write WAVs + a cuts manifest; returns the manifest path. Labels go in ``custom['label']``."""
    rng = np.random.default_rng(seed)
    wav_dir = root / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    recordings, sups = [], []
    kinds = list(KINDS)
    for i in range(num_clips):
        kind = kinds[i % len(kinds)]
        audio = synth(kind, float(rng.uniform(1.0, 2.0)), rng)
        path = wav_dir / f"{name}-{i:04d}.wav"
        sf.write(path, audio, SR, subtype="PCM_16")
        rec = Recording.from_file(path, recording_id=f"{name}-{i:04d}")
        recordings.append(rec)
        sups.append(SupervisionSegment(
            id=f"{rec.id}-0", recording_id=rec.id, start=0.0, duration=rec.duration,
            custom={"caption": KINDS[kind], "style": "description", "domain": "sound", "source": "test/synth",
                    "label": kind},
        ))
    cuts = CutSet.from_manifests(RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(sups))
    out = root / f"{name}_cuts.jsonl.gz"
    cuts.to_file(out)
    return out


def tiny_train_config(cuts: Path, max_steps: int, save_interval: int) -> str:
    """A YAML experiment config for a few CPU steps of a tiny contrastive model on ``cuts``."""
    return (
        "tokenizer: byte\n"
        "encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8}\n"
        "text_encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}\n"
        "objective_conf: {embed_dim: 16}\n"
        f"data: {{train_cuts: {cuts}, valid_cuts: {cuts}, max_duration: 8, num_buckets: 2, num_workers: 0, "
        "feature_stats_clips: 4}\n"
        f"trainer: {{max_steps: {max_steps}, save_interval: {save_interval}, valid_interval: {save_interval}, "
        "log_interval: 1, progress_bar: false}\n"
    )
