"""Captions for the real recordings of CaptionStew-mini, in the style of the corpus each clip goes to.

What a caption says comes only from what is known about the recording: the package's listing
(the prompt's text, the voice's language, accent and gender), the Sonic Pi sample class, and
descriptors measured on the audio itself (Colobot music: loudness, brightness, note density).
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from .common import SAMPLE_RATE, fix_articles
from .sound import CATEGORY, PHRASES, TAGS


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _cap(text: str) -> str:
    text = fix_articles(text)
    return text[0].upper() + text[1:]


def _length_word(seconds: float) -> str:
    return "short" if seconds < 2.5 else "longer" if seconds > 6 else "brief"


# --- Asterisk prompts -------------------------------------------------------------------------

STYLE_TEMPLATES = (
    "A {gender} speaker with a {accent} accent reads a {length} telephone prompt in {language}, in a clear, "
    "steady voice.",
    "A professional {gender} voice speaks {language} with a {accent} accent, calm and evenly paced, like a "
    "recorded phone menu.",
    "In {language}, a {gender} speaker with a {accent} accent announces a {length} automated message at a measured "
    "pace.",
    "A clear, neutral {gender} voice with a {accent} accent reads {language} text slowly and precisely over a "
    "telephone line.",
)
LLM_TEMPLATES = (
    "The audio features a {noun} speaking {language} in a clear, professional tone, most likely a recorded "
    "telephone announcement. The recording is band-limited and free of background noise.",
    "A {noun} delivers a {length} automated message in {language}. The voice is calm and articulate, typical of "
    "an interactive voice response system, with no music or other sounds.",
    "This is a {length} recording of a {noun} with a {accent} accent reading a prompt in {language}. The speech "
    "is clean and steady, and the audio quality suggests a phone line.",
)


def asterisk_style(clip: dict, rng: np.random.Generator, n: int) -> List[str]:
    """ParaSpeechCaps-style speaking-style descriptions (n distinct templates)."""
    order = rng.permutation(len(STYLE_TEMPLATES))[:n]
    return [STYLE_TEMPLATES[i].format(gender=clip["gender"], accent=clip["accent"], language=clip["language"],
                                      length=_length_word(clip["duration"])) for i in order]


def asterisk_llm(clip: dict, rng: np.random.Generator) -> str:
    noun = "woman" if clip["gender"] == "female" else "man"
    return _pick(rng, LLM_TEMPLATES).format(noun=noun, accent=clip["accent"], language=clip["language"],
                                            length=_length_word(clip["duration"]))


# --- Colobot music excerpts -------------------------------------------------------------------


def music_descriptors(x: np.ndarray) -> Dict[str, float]:
    """Loudness (RMS, dBFS), brightness (spectral centroid, Hz) and onset density (spectral-flux
    peaks per second) of a mono 16 kHz excerpt."""
    n_fft, hop = 1024, 512
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    centroid = float(np.sum(mag * freqs) / max(np.sum(mag), 1e-9))
    flux = np.maximum(np.diff(np.log1p(mag), axis=0), 0).sum(axis=1)
    threshold = flux.mean() + flux.std()
    peaks = np.sum((flux[1:-1] > threshold) & (flux[1:-1] >= flux[:-2]) & (flux[1:-1] >= flux[2:]))
    rms = float(np.sqrt(np.mean(x ** 2)))
    return {"rms_db": 20 * np.log10(max(rms, 1e-9)), "centroid_hz": centroid,
            "onsets_per_s": float(peaks) / (len(x) / SAMPLE_RATE)}


def _tercile(value: float, edges: Sequence[float], words: Sequence[str]) -> str:
    return words[int(np.searchsorted(edges, value))]


def colobot_music_words(desc: Dict[str, float], edges: Dict[str, Sequence[float]]) -> Dict[str, str]:
    """Words for an excerpt from where its descriptors fall among all excerpts (terciles)."""
    return {"bright": _tercile(desc["centroid_hz"], edges["centroid_hz"], ("dark, warm", "mellow", "bright")),
            "busy": _tercile(desc["onsets_per_s"], edges["onsets_per_s"], ("sparse, sustained", "steady",
                                                                            "busy, rhythmic")),
            "loud": _tercile(desc["rms_db"], edges["rms_db"], ("quiet", "moderately loud", "loud"))}


MUSIC_TEMPLATES = (
    "An instrumental video game soundtrack with a {bright} synthesizer sound; the texture is {busy} and the mix "
    "is {loud}.",
    "A {loud}, {busy} piece of electronic game music with {bright} tones and no vocals.",
    "Instrumental background music from a video game: {bright} synths, a {busy} arrangement, {loud} overall.",
)
MUSIC_LLM_TEMPLATES = (
    "The audio is an instrumental electronic track, likely from a video game, with {bright} synthesizer timbres "
    "and a {busy} arrangement. There are no vocals, and the overall level is {loud}.",
    "This is a piece of {busy} electronic background music with {bright} tones, typical of a game soundtrack. "
    "No speech or singing can be heard.",
)


def colobot_music_captions(words: Dict[str, str], rng: np.random.Generator, llm: bool) -> List[str]:
    return [_cap(_pick(rng, MUSIC_LLM_TEMPLATES if llm else MUSIC_TEMPLATES).format(**words))]


def colobot_music_tags(words: Dict[str, str]) -> List[str]:
    return ["instrumental", "video game music", "electronic", words["bright"].split(",")[0],
            words["busy"].split(",")[0], words["loud"]]


# --- Sonic Pi samples ---------------------------------------------------------------------------


def sonic_pi_caption(cls: str, rng: np.random.Generator) -> str:
    """A WavCaps-like one-sentence caption (ChatGPT-rewritten descriptions are short and plain)."""
    subject, verb, _ = PHRASES[cls][int(rng.integers(len(PHRASES[cls])))]
    return _cap(f"{subject} {verb}.")


def sonic_pi_tags(cls: str) -> List[str]:
    return list(dict.fromkeys([TAGS[cls], CATEGORY[cls]]))
