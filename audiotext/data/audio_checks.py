"""Loading one cut's audio with the checks that keep a bad file from stopping a run."""
from __future__ import annotations

import logging
from typing import Optional, Tuple

import numpy as np

log = logging.getLogger(__name__)

# a file may be a few samples shorter than its manifest says (resampling, codec padding)
LENGTH_TOLERANCE_S = 0.025


def load_checked_audio(cut, sample_rate: int) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """Return (mono float32 samples, None) or (None, reason) for a file that cannot be used.

    Reasons: ``unreadable`` (missing/corrupt file), ``wrong_rate``, ``empty``,
    ``truncated`` (fewer samples than the manifest promises), ``non_finite`` (NaN/inf).
    """
    if cut.sampling_rate != sample_rate:
        return None, "wrong_rate"
    expected = cut.num_samples
    try:
        audio = cut.load_audio()
    except Exception as err:  # lhotse wraps soundfile/ffmpeg errors in many types
        message = str(err)
        if "diverged" in message or "exceed" in message or "shorter" in message:
            return None, "truncated"
        return None, "unreadable"
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    if audio.size == 0:
        return None, "empty"
    if expected and audio.size < expected - int(LENGTH_TOLERANCE_S * sample_rate):
        return None, "truncated"
    if not np.isfinite(audio).all():
        return None, "non_finite"
    return audio, None
