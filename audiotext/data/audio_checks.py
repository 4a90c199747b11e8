"""Loading one cut's audio with the checks that keep a bad file from stopping a run."""
from __future__ import annotations

import logging
import warnings
from typing import Optional, Tuple

import numpy as np
import soundfile as sf
from lhotse.audio.utils import get_audio_duration_mismatch_tolerance, set_audio_duration_mismatch_tolerance

log = logging.getLogger(__name__)

# a file may be a few samples shorter than its manifest says (resampling, codec padding)
LENGTH_TOLERANCE_S = 0.025


class UnusableAudio(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def load_checked_audio(cut, sample_rate: int) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """Return (mono float32 samples, None) or (None, reason) for a file that cannot be used.

    A cut at another rate is resampled on load (lhotse's lazy resampling transform): corpora are
    distributed at 16 to 48 kHz and their manifests describe the files as they are.
    Reasons: ``unreadable`` (missing/corrupt file), ``wrong_rate`` (the file's rate is not the
    one its manifest gives), ``empty``, ``truncated`` (fewer samples than the manifest promises),
    ``non_finite`` (NaN/inf).
    """
    if cut.sampling_rate != sample_rate:
        cut = cut.resample(sample_rate)
    expected = cut.num_samples
    try:
        audio = _read_plain_file(cut)
        if audio is None:  # anything but one plain file: lhotse's general loader
            audio = _read_with_lhotse(cut)
    except UnusableAudio as err:
        return None, err.reason
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


def _read_with_lhotse(cut) -> np.ndarray:
    # lhotse pads a file up to 0.5 s short by default; hold it to our tolerance instead
    if get_audio_duration_mismatch_tolerance() != LENGTH_TOLERANCE_S:
        with warnings.catch_warnings():  # lhotse warns that augmentation may need slack; we use none
            warnings.simplefilter("ignore")
            set_audio_duration_mismatch_tolerance(LENGTH_TOLERANCE_S)
    try:
        return cut.load_audio()
    except Exception as err:  # lhotse wraps soundfile/ffmpeg errors in many types
        message = str(err)
        if "diverged" in message or "exceed" in message or "shorter" in message:
            raise UnusableAudio("truncated", message) from None
        raise UnusableAudio("unreadable", message) from None


def _read_plain_file(cut) -> Optional[np.ndarray]:
    """Read a cut of a single-file, untransformed mono recording straight with soundfile.

    lhotse's general loader probes backends on every call; for the common case of
    one WAV/FLAC file per recording this direct read is markedly cheaper.
    Returns None where the fast path does not apply.
    """
    recording = getattr(cut, "recording", None)
    if (type(cut).__name__ != "MonoCut" or recording is None or len(recording.sources) != 1
            or recording.sources[0].type != "file" or recording.transforms or recording.num_channels != 1):
        return None
    path = recording.sources[0].source
    try:
        f = sf.SoundFile(path)
    except Exception as err:  # missing file, not an audio file, unsupported format
        raise UnusableAudio("unreadable", f"{path}: {err}") from None
    with f:
        if f.samplerate != recording.sampling_rate:
            raise UnusableAudio("wrong_rate", f"{path}: {f.samplerate} Hz, manifest says {recording.sampling_rate}")
        if f.frames == 0:
            raise UnusableAudio("empty", path)
        start = int(round(cut.start * f.samplerate))
        if start >= f.frames:
            raise UnusableAudio("truncated", f"{path}: {f.frames} samples, cut starts at {start}")
        try:
            f.seek(start)
            data = f.read(frames=cut.num_samples, dtype="float32", always_2d=True)
        except Exception as err:
            raise UnusableAudio("unreadable", f"{path}: {err}") from None
    return data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
