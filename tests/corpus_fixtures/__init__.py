"""Fixtures in the official layouts of the caption corpora, built by the tests themselves.

Each module ``tests/corpus_fixtures/<corpus>.py`` has ``build(root: Path) -> dict``: it writes a
small copy of that corpus's distributed layout under ``root`` (metadata files in their real
format, short generated audio), with planted defects (missing audio, empty and duplicate
captions, quoted commas, ...), and returns what the preparer must report:
``{"summary": {"total": {...}, "splits": {...}}, "ids": {split: [cut ids]}, ...}``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_audio(path: Path, seconds: float = 1.5, sample_rate: int = 16000, seed: int = 0, fmt: str = None) -> Path:
    """A short noise-plus-tone clip (WAV, or FLAC/OGG by the suffix)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    x = 0.1 * np.sin(2 * np.pi * (200 + 50 * (seed % 20)) * t) + 0.02 * rng.standard_normal(n)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), sample_rate, format=fmt)
    return path


def write_corrupt(path: Path) -> Path:
    """A file with an audio extension that holds no audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not audio")
    return path
