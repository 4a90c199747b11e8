"""Shared pieces of the CaptionStew-mini generators: constants, seeding, audio helpers, tool checks."""
from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
MIN_DURATION = 1.0
MAX_DURATION = 6.0
SPLITS = ("train", "valid", "test")
# Stable integers mixed into every seed so the three domains never share a random stream.
DOMAIN_CODES = {"speech": 1, "music": 2, "sound": 3}

INSTALL_HINT = "run tools/install.sh (it apt-installs every package CaptionStew-mini reads)"
# FluidR3 GM (fluid-soundfont-gm): sampled instruments; the GM soundfont the build renders with
SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2",)
SONIC_PI_CANDIDATES = ("/usr/share/sonic-pi/samples", "/usr/lib/sonic-pi/etc/samples")


class MissingToolError(RuntimeError):
    """A Debian tool or data package the generator needs is not installed."""


def clip_rng(seed: int, domain: str, index: int, *extra: int) -> np.random.Generator:
    """Per-clip generator: a pure function of (seed, domain, clip index), never of worker order."""
    return np.random.default_rng([seed, DOMAIN_CODES[domain], index, *extra])


def plan_rng(seed: int, domain: str) -> np.random.Generator:
    """Generator for corpus-level planning decisions of one domain (split sizes, label balance)."""
    return np.random.default_rng([seed, DOMAIN_CODES[domain], 10**9])


def split_counts(n: int, fractions: Sequence[float]) -> Dict[str, int]:
    """Clips per split; every split with a non-zero fraction gets at least one clip."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"splits must be three non-negative fractions, got {fractions}")
    total = float(sum(fractions))
    counts = {}
    for name, frac in zip(SPLITS[1:], fractions[1:]):
        counts[name] = max(1, int(round(n * frac / total))) if frac > 0 else 0
    counts["train"] = n - counts["valid"] - counts["test"]
    if counts["train"] < (1 if fractions[0] > 0 else 0):
        raise ValueError(f"{n} clips are too few for splits {fractions}")
    return {name: counts[name] for name in SPLITS}


def split_list(counts: Dict[str, int]) -> List[str]:
    """Split name of each clip index: contiguous blocks train, valid, test."""
    return [name for name in SPLITS for _ in range(counts[name])]


def balanced(values: Sequence, n: int, rng: np.random.Generator) -> list:
    """n labels cycling through values, shuffled: marginals differ by at most one."""
    out = [values[i % len(values)] for i in range(n)]
    order = rng.permutation(n)
    return [out[i] for i in order]


def fix_articles(text: str) -> str:
    """'a' -> 'an' before a vowel, so templates can write 'a {adjective}' freely."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def resample(x: np.ndarray, orig_sr: int, new_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling by FFT truncation; padding avoids wrap-around at the ends."""
    if orig_sr == new_sr or len(x) == 0:
        return x.astype(np.float32)
    pad = 256
    xp = np.concatenate([x, np.zeros(pad)])
    n_out = int(round(len(xp) * new_sr / orig_sr))
    spec = np.fft.rfft(xp)
    keep = n_out // 2 + 1
    if keep <= len(spec):
        spec = spec[:keep]
    else:
        spec = np.concatenate([spec, np.zeros(keep - len(spec), dtype=spec.dtype)])
    y = np.fft.irfft(spec, n_out) * (n_out / len(xp))
    return y[: int(round(len(x) * new_sr / orig_sr))].astype(np.float32)


def fade(x: np.ndarray, fade_in: float = 0.005, fade_out: float = 0.02) -> np.ndarray:
    """Short linear fades so cut points never click."""
    x = x.copy()
    n_in = min(len(x), int(fade_in * SAMPLE_RATE))
    n_out = min(len(x), int(fade_out * SAMPLE_RATE))
    if n_in:
        x[:n_in] *= np.linspace(0.0, 1.0, n_in)
    if n_out:
        x[-n_out:] *= np.linspace(1.0, 0.0, n_out)
    return x


def normalize_and_write(path: Path, x: np.ndarray, rng: np.random.Generator) -> int:
    """Peak-normalize to a random level in [-6, -1] dBFS, write 16-bit mono WAV, return length."""
    x = np.asarray(x, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak < 1e-6:
        raise RuntimeError(f"silent clip rendered for {path}")
    x = x / peak * 10 ** (rng.uniform(-6.0, -1.0) / 20)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return len(x)


def find_soundfont() -> Optional[str]:
    for path in SOUNDFONT_CANDIDATES:
        if os.path.isfile(path):
            return path
    return None


def find_sonic_pi_samples() -> Optional[str]:
    for path in SONIC_PI_CANDIDATES:
        if glob.glob(os.path.join(path, "*.flac")):
            return path
    return None


def check_tools() -> Dict[str, str]:
    """Locate every external dependency or raise one error that lists all missing ones."""
    found, missing = {}, []
    for tool, package in (("espeak-ng", "espeak-ng"), ("fluidsynth", "fluidsynth")):
        path = shutil.which(tool)
        if path:
            found[tool] = path
        else:
            missing.append(f"{tool} (Debian package {package})")
    soundfont = find_soundfont()
    if soundfont:
        found["soundfont"] = soundfont
    else:
        missing.append("the FluidR3 General MIDI soundfont (Debian package fluid-soundfont-gm)")
    samples = find_sonic_pi_samples()
    if samples:
        found["sonic_pi_samples"] = samples
    else:
        missing.append("Sonic Pi sample recordings (Debian package sonic-pi-samples)")
    from .real import ASTERISK_DOC, ASTERISK_ROOT, ASTERISK_VOICES, COLOBOT_ROOT

    for lang, (folder, *_rest) in ASTERISK_VOICES.items():
        if not os.path.isdir(os.path.join(ASTERISK_ROOT, folder)):
            missing.append(f"Asterisk {lang} prompts (Debian package asterisk-core-sounds-{lang}-wav)")
        if not os.path.isfile(ASTERISK_DOC.format(lang=lang)):
            missing.append(f"Asterisk {lang} prompt texts (Debian package asterisk-core-sounds-{lang})")
    if not os.path.isdir(os.path.join(COLOBOT_ROOT, "sounds")):
        missing.append("Colobot sounds and music (Debian package colobot-common-sounds)")
    if missing:
        raise MissingToolError(
            "CaptionStew-mini needs tools that are not installed: " + "; ".join(missing) + f". To install: {INSTALL_HINT}."
        )
    return found
