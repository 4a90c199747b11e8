"""Audio files named on a command line: find them, read them as mono at a model's rate."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

AUDIO_SUFFIXES = {".wav", ".flac"}


def find_audio(inputs: List[str]) -> Tuple[List[Path], List[dict]]:
    """Files to embed (directories searched recursively, duplicates dropped) and inputs that do not exist."""
    files, missing, seen = [], [], set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        elif path.is_file():
            found = [path]
        else:
            missing.append({"path": str(path), "reason": "not_found", "detail": "no such file or directory"})
            continue
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                files.append(p)
    return files, missing


def read_audio(path: Path, sample_rate: int) -> Tuple[Optional[np.ndarray], Optional[str], str]:
    """(mono float32 samples at ``sample_rate``, None, "") or (None, reason, detail).

    Reasons: ``unreadable``, ``empty``, ``non_finite`` (NaN/inf), ``out_of_range`` (a sample beyond
    ``audio_checks.MAX_ABS_SAMPLE``). Short audio is returned as it is: the caller pads it to its
    encoder's minimum input.
    """
    import soundfile as sf

    from audiotext.data.audio_checks import MAX_ABS_SAMPLE, sample_problem

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # corrupt, truncated header, unsupported format, permissions
        return None, "unreadable", str(err)
    audio = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
    if audio.size == 0:
        return None, "empty", "no samples"
    problem = sample_problem(audio)
    if problem == "non_finite":
        return None, problem, "NaN or inf samples"
    if problem:
        return None, problem, f"peak {float(np.abs(audio).max()):.3g}, beyond +-{MAX_ABS_SAMPLE:g}"
    if rate != sample_rate:
        import torch
        import torchaudio.functional as AF

        audio = AF.resample(torch.from_numpy(np.ascontiguousarray(audio)), rate, sample_rate).numpy()
    return np.ascontiguousarray(audio, dtype=np.float32), None, ""
