"""What makes audio unusable, decided once for every entry point.

* :func:`load_checked_audio`: one cut's samples, or the reason they cannot be used.
* :func:`sample_problem`: the checks on the samples themselves (``non_finite``, ``out_of_range``).
* :func:`min_input_samples`: the shortest input an encoder accepts, from its declared frame geometry.
* :func:`checked_features`: fbank of checked samples, or ``too_short`` / ``out_of_range``.
* :func:`measured_frames`: how many frames a file really holds (its header may promise more).

The table of what each entry point does with each kind of bad input is in docs/architecture.md.
"""
from __future__ import annotations

import io
import logging
import os
import struct
import warnings
from typing import Optional, Tuple

import numpy as np
import soundfile as sf
from lhotse.audio.utils import get_audio_duration_mismatch_tolerance, set_audio_duration_mismatch_tolerance

from audiotext.data.features import FbankConfig, samples_for_fbank_frames

log = logging.getLogger(__name__)

# a file may be a few samples shorter than its manifest says (resampling, codec padding)
LENGTH_TOLERANCE_S = 0.025
# samples are in [-1, 1]; float files may overshoot a little (mixing headroom), but a magnitude 40 dB
# above full scale is not audio at this scale (e.g. int16 values stored as float, or garbage) and
# far enough above it the fbank overflows to inf/NaN
MAX_ABS_SAMPLE = 100.0


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
    ``non_finite`` (NaN/inf), ``out_of_range`` (beyond ``MAX_ABS_SAMPLE``).
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
    problem = sample_problem(audio)
    if problem:
        return None, problem
    return audio, None


def sample_problem(audio) -> Optional[str]:
    """``non_finite`` (a NaN or inf sample), ``out_of_range`` (a sample beyond ``MAX_ABS_SAMPLE``) or None."""
    audio = np.asarray(audio)
    if not np.isfinite(audio).all():
        return "non_finite"
    if audio.size and float(np.abs(audio).max()) > MAX_ABS_SAMPLE:
        return "out_of_range"
    return None


def unusable_inputs_error(problems, what: str = "sounds") -> ValueError:
    """The error of an API that must answer for every input it was given (HEAR, caption_waveforms):
    ``problems`` maps an input's index to its :func:`sample_problem`; the message names them all."""
    by_reason = {}
    for index, reason in sorted(problems.items()):
        by_reason.setdefault(reason, []).append(index)
    text = {"non_finite": "hold NaN or inf samples",
            "out_of_range": f"hold samples beyond +-{MAX_ABS_SAMPLE:g} (audio is expected in [-1, 1])"}
    parts = []
    for reason, indices in by_reason.items():
        shown = ", ".join(map(str, indices[:20])) + (f", ... ({len(indices)} in all)" if len(indices) > 20 else "")
        parts.append(f"{what} {shown} {text.get(reason, reason)}")
    return ValueError("; ".join(parts))


def min_input_samples(encoder, fbank_conf: FbankConfig) -> int:
    """The shortest input (samples at ``fbank_conf.sample_rate``) ``encoder`` turns into one frame.

    The one source of "too short": an encoder (class or instance) declares ``min_input_frames``
    fbank frames; this gives the samples those need. Shorter audio is padded with silence up to it
    where the contract is one answer per input (HEAR, embed, caption) and skipped as ``too_short``
    where clips come from a manifest (training, evaluation, preparation).
    """
    return samples_for_fbank_frames(encoder.min_input_frames, fbank_conf)


def default_min_input_seconds(fbank_conf: Optional[FbankConfig] = None) -> float:
    """:func:`min_input_samples` of the default encoder and fbank, in seconds: what the preparers
    (which know no model) hold a clip to."""
    from audiotext.experiment import ExperimentConfig
    from audiotext.models.encoders import ENCODERS

    conf = fbank_conf or FbankConfig()
    return min_input_samples(ENCODERS.get(ExperimentConfig.encoder), conf) / conf.sample_rate


def checked_features(fbank, audio: np.ndarray, min_samples: int):
    """(fbank (frames, mels), None) or (None, reason) for checked samples.

    ``too_short``: fewer than ``min_samples`` samples; ``out_of_range``: the features are not all
    finite (whatever the samples looked like, such features would poison statistics and the loss).
    """
    import torch

    if len(audio) < min_samples:
        return None, "too_short"
    feat = fbank(audio)
    if not bool(torch.isfinite(feat).all()):
        return None, "out_of_range"
    return feat, None


def measured_frames(path, declared: int) -> Tuple[Optional[int], str]:
    """(frames the file really holds, "") or (None, why not) for a file whose header says ``declared``.

    A truncated file keeps the header it was written with. For WAV the real count comes from the
    file size and the data chunk's offset (no samples decoded: preparing a big corpus reads only
    headers); for other formats soundfile reads, one frame at the very end, what the header
    promises (seeking decodes one block; a file cut short fails). Formats soundfile cannot open
    are taken at their header's word.
    """
    path = os.fspath(path)
    try:
        wav = _wav_data_frames(path)
    except OSError as err:
        return None, f"cannot read: {err}"
    if wav is not None:
        return min(declared, wav), ""
    try:
        with sf.SoundFile(path) as f:
            if declared <= 0 or f.frames != declared:
                return declared, ""
            f.seek(declared - 1)
            if len(f.read(1)) == 1:
                return declared, ""
    except sf.LibsndfileError as err:
        return None, f"header promises {declared} frames; reading the last one fails ({err})"
    except Exception:  # not a format soundfile reads (mp3 through ffmpeg, ...): header only
        return declared, ""
    return None, f"header promises {declared} frames; the last one cannot be read"


def _wav_data_frames(path: str) -> Optional[int]:
    """Whole frames in a RIFF/WAVE file's data chunk as far as the file really extends; None if not
    such a file (RF64 and friends included: their size fields live elsewhere)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = os.fstat(f.fileno()).st_size
        block_align = 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            ident, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if ident == b"fmt ":
                fmt = f.read(min(length, 16))
                if len(fmt) < 14:
                    return None
                block_align = struct.unpack("<H", fmt[12:14])[0]
                f.seek(length - len(fmt) + (length & 1), os.SEEK_CUR)
            elif ident == b"data":
                if block_align <= 0:
                    return None
                return min(length, size - f.tell()) // block_align
            else:
                f.seek(length + (length & 1), os.SEEK_CUR)


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
    """Read a cut of a single-file (or in-memory: a Shar tar's member), untransformed mono recording
    straight with soundfile.

    lhotse's general loader probes backends on every call; for the common case of
    one WAV/FLAC file per recording this direct read is markedly cheaper.
    Returns None where the fast path does not apply.
    """
    recording = getattr(cut, "recording", None)
    if (type(cut).__name__ != "MonoCut" or recording is None or len(recording.sources) != 1
            or recording.sources[0].type not in ("file", "memory") or recording.transforms
            or recording.num_channels != 1):
        return None
    path = name = recording.sources[0].source
    if recording.sources[0].type == "memory":
        if not isinstance(path, (bytes, bytearray)):
            return None
        path, name = io.BytesIO(path), f"in-memory audio of cut {cut.id}"
    try:
        f = sf.SoundFile(path)
    except Exception as err:  # missing file, not an audio file, unsupported format
        raise UnusableAudio("unreadable", f"{name}: {err}") from None
    with f:
        if f.samplerate != recording.sampling_rate:
            raise UnusableAudio("wrong_rate", f"{name}: {f.samplerate} Hz, manifest says {recording.sampling_rate}")
        if f.frames == 0:
            raise UnusableAudio("empty", name)
        start = int(round(cut.start * f.samplerate))
        if start >= f.frames:
            raise UnusableAudio("truncated", f"{name}: {f.frames} samples, cut starts at {start}")
        try:
            f.seek(start)
            data = f.read(frames=cut.num_samples, dtype="float32", always_2d=True)
        except Exception as err:
            raise UnusableAudio("unreadable", f"{name}: {err}") from None
    return data[:, 0] if data.shape[1] == 1 else data.mean(axis=1)
