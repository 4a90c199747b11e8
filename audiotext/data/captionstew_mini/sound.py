"""Environmental sound scenes: synthesized events and Sonic Pi recordings, 1-3 events per clip.

A scene is ``single`` (one event), ``sequence`` (2-3 events one after another) or ``overlap``
(a first event spanning the clip with a second one on top). Captions use ordering words
(then / followed by / while / as) that match the arrangement.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Callable, Dict, List, Tuple

import numpy as np
import soundfile as sf

from .common import (MAX_DURATION, MIN_DURATION, SAMPLE_RATE, SPLITS, balanced, clip_rng, fade, fix_articles,
                     plan_rng, resample, split_counts, split_list)

SR = SAMPLE_RATE

# --- signal helpers -----------------------------------------------------------------------


def _band(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Band-pass by FFT mask with soft (raised-cosine, one octave wide) edges."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    gain = np.ones_like(f)
    if lo > 0:
        gain *= np.clip(np.log2(np.maximum(f, 1e-3) / (lo / 2)), 0, 1)
    if hi < SR / 2:
        gain *= np.clip(np.log2(2 * hi / np.maximum(f, 1e-3)), 0, 1)
    return np.fft.irfft(spec * gain, len(x))


def _slow_env(rng: np.random.Generator, n: int, step_s: float, lo: float = 0.2, hi: float = 1.0) -> np.ndarray:
    """Smooth random envelope: random points every step_s, linearly interpolated."""
    points = rng.uniform(lo, hi, size=int(n / (step_s * SR)) + 3)
    env = np.interp(np.arange(n), np.arange(len(points)) * step_s * SR, points)
    k = max(1, int(step_s * SR / 4))
    return np.convolve(env, np.ones(k) / k, mode="same")


def _decay(n: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau * SR))


def _place(n: int, hit: np.ndarray, onsets_s: List[float], gains: List[float]) -> np.ndarray:
    out = np.zeros(n)
    for t, g in zip(onsets_s, gains):
        a = int(t * SR)
        m = min(len(hit), n - a)
        if m > 0:
            out[a: a + m] += g * hit[:m]
    return out


def _tone(freq: np.ndarray, harmonics: Tuple[float, ...] = (1.0,)) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(freq) / SR
    return sum(a * np.sin((k + 1) * phase) for k, a in enumerate(harmonics))


# --- synthetic events: each takes (rng of the source seed, n samples) --------------------


def bell_hit(rng, n):
    f0 = rng.uniform(350, 1000)
    ratios = np.array([0.5, 1.0, 1.19, 1.56, 2.0, 2.51, 2.66, 3.01]) * rng.uniform(0.98, 1.02, 8)
    tau = rng.uniform(0.6, 1.4)
    t = np.arange(n) / SR
    x = sum(np.sin(2 * np.pi * f0 * r * t + rng.uniform(0, 6.28)) * np.exp(-t * r ** 0.8 / tau) / (1 + k * 0.4)
            for k, r in enumerate(ratios))
    return x + 0.3 * _band(rng.standard_normal(n), 2000, 7000) * _decay(n, 0.004)


def knock_hit(rng, n):
    f = rng.uniform(110, 260)
    t = np.arange(n) / SR
    body = sum(a * np.sin(2 * np.pi * f * r * t) for a, r in ((1.0, 1.0), (0.5, 2.3), (0.25, 3.9)))
    click = _band(rng.standard_normal(n), 300, 3000) * _decay(n, 0.003)
    return body * _decay(n, rng.uniform(0.015, 0.04)) + 0.6 * click


def clap_hit(rng, n):
    noise = _band(rng.standard_normal(n), rng.uniform(700, 1200), rng.uniform(2500, 4000))
    env = np.zeros(n)
    for k in range(int(rng.integers(2, 5))):  # a clap is a few micro-bursts
        a = int(k * rng.uniform(0.002, 0.005) * SR)
        env[a:] += _decay(n - a, 0.004 if k < 2 else rng.uniform(0.02, 0.04))
    return noise * env


def rain(rng, n):
    bed = _band(rng.standard_normal(n), 400, rng.uniform(5000, 8000)) * _slow_env(rng, n, 0.5, 0.6, 1.0)
    drops = np.zeros(n)
    count = int(n / SR * rng.uniform(40, 150))
    drops[rng.integers(0, n, count)] = rng.uniform(0.2, 1.0, count) * rng.choice([-1, 1], count)
    drops = _band(drops, 1500, 6000)
    return 0.5 * bed / (np.std(bed) + 1e-9) + drops / (np.std(drops) + 1e-9)


def wind(rng, n):
    x = np.zeros(n)
    for lo, hi in ((80, 400), (300, 900), (700, 1800)):
        c = rng.uniform(0.8, 1.2)
        band = _band(rng.standard_normal(n), lo * c, hi * c)
        x += band / (np.std(band) + 1e-9) * _slow_env(rng, n, rng.uniform(0.3, 0.8), 0.05, 1.0) ** 2
    return x


def siren(rng, n):
    t = np.arange(n) / SR
    lo, hi = rng.uniform(500, 800), rng.uniform(1100, 1600)
    period = rng.uniform(2.0, 4.0) if rng.random() < 0.6 else rng.uniform(0.25, 0.45)  # wail or yelp
    freq = lo + (hi - lo) * (0.5 - 0.5 * np.cos(2 * np.pi * t / period + rng.uniform(0, 6.28)))
    return _tone(freq, (1.0, 0.35, 0.15))


def alarm(rng, n):
    f = rng.uniform(1800, 3200)
    on, off = rng.uniform(0.08, 0.2), rng.uniform(0.08, 0.25)
    t = np.arange(n) / SR
    gate = ((t % (on + off)) < on).astype(float)
    gate = np.convolve(gate, np.ones(40) / 40, mode="same")  # soften the edges
    return np.tanh(3 * np.sin(2 * np.pi * f * t)) * gate


def footsteps(rng, n):
    interval = rng.uniform(0.42, 0.65)
    step_n = int(0.2 * SR)
    hits = []
    for k in range(2):
        h = _band(rng.standard_normal(step_n), 60, rng.uniform(900, 2000)) * _decay(step_n, rng.uniform(0.02, 0.05))
        lag = int(rng.uniform(0.03, 0.07) * SR)  # heel then toe
        h[lag:] += 0.5 * h[: step_n - lag]
        hits.append(h)
    out = np.zeros(n)
    t, k = rng.uniform(0.0, 0.2), 0
    while t < n / SR:
        a = int(t * SR)
        m = min(step_n, n - a)
        out[a: a + m] += hits[k % 2][:m] * rng.uniform(0.7, 1.0)
        t += interval * rng.uniform(0.95, 1.05)
        k += 1
    return out


def clock(rng, n):
    period = rng.choice([0.5, 1.0, 0.25])
    m = int(0.05 * SR)
    tick, tock = (_band(rng.standard_normal(m), f, f * 1.6) * _decay(m, 0.006) for f in
                  (rng.uniform(2500, 4000), rng.uniform(1500, 2400)))
    onsets = np.arange(rng.uniform(0, period), n / SR, period)
    return _place(n, tick, onsets[0::2], [1.0] * len(onsets)) + _place(n, tock, onsets[1::2], [0.8] * len(onsets))


def engine(rng, n):
    t = np.arange(n) / SR
    f0 = rng.uniform(25, 60) * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
    x = _tone(f0, tuple(1.0 / k for k in range(1, 14)))
    rumble = _band(rng.standard_normal(n), 40, 600) * (1 + 0.5 * np.sin(2 * np.pi * np.cumsum(f0) / SR))
    return _band(x, 20, 2500) / (np.std(x) + 1e-9) + 0.6 * rumble / (np.std(rumble) + 1e-9)


def whistle(rng, n):
    notes = rng.uniform(900, 2200, size=max(2, int(n / SR / 0.3)))
    seg = n / len(notes)
    freq = np.interp(np.arange(n), (np.arange(len(notes)) + 0.5) * seg, notes)
    freq = np.convolve(freq, np.ones(400) / 400, mode="same")  # glides between notes
    t = np.arange(n) / SR
    freq *= 1 + 0.012 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t)
    gaps = (np.arange(n) % int(seg)) < int(seg * rng.uniform(0.75, 0.95))  # short breaths between notes
    amp = np.convolve(gaps.astype(float), np.ones(320) / 320, mode="same")
    breath = _band(rng.standard_normal(n), 800, 4000)
    return (_tone(freq, (1.0, 0.05)) + 0.04 * breath / (np.std(breath) + 1e-9)) * amp


def dripping(rng, n):
    m = int(0.12 * SR)
    out, t = np.zeros(n), rng.uniform(0, 0.3)
    regular = rng.random() < 0.5
    mean_gap = rng.uniform(0.3, 0.8)
    while t < n / SR:
        f = rng.uniform(600, 1500)
        glide = f * (1 + rng.uniform(0.4, 1.0) * (1 - _decay(m, 0.02)))  # the rising "plink"
        drop = _tone(glide) * _decay(m, rng.uniform(0.025, 0.05))
        a = int(t * SR)
        k = min(m, n - a)
        out[a: a + k] += drop[:k] * rng.uniform(0.6, 1.0)
        t += mean_gap * (rng.uniform(0.9, 1.1) if regular else rng.uniform(0.4, 1.6))
    tail = rng.standard_normal(int(0.25 * SR)) * _decay(int(0.25 * SR), 0.06) * 0.05  # small-room reverb
    return np.convolve(out, np.concatenate([[1.0], tail]))[:n]


# class -> (kind, generator). kind: "hit" (countable, repeated), "texture" (any length).
SYNTH_CLASSES: Dict[str, Tuple[str, Callable]] = {
    "bell": ("hit", bell_hit), "knocking": ("hit", knock_hit), "clapping": ("hit", clap_hit),
    "rain": ("texture", rain), "wind": ("texture", wind), "siren": ("texture", siren),
    "alarm": ("texture", alarm), "footsteps": ("texture", footsteps), "clock": ("texture", clock),
    "engine": ("texture", engine), "whistle": ("texture", whistle), "dripping": ("texture", dripping),
}
SYNTH_HIT = {"bell": (0.7, 1.4, 0.5, 0.9), "knocking": (0.1, 0.15, 0.18, 0.3), "clapping": (0.12, 0.18, 0.3, 0.5)}  # len, gap ranges

# Sonic Pi recordings: class -> (kind, file name prefixes). "once": a gesture played whole.
REAL_CLASSES: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "kick_drum": ("hit", ("bd_", "drum_bass_", "drum_heavy_kick", "elec_soft_kick", "elec_hollow_kick")),
    "snare_drum": ("hit", ("drum_snare_", "sn_", "elec_snare", "elec_hi_snare", "elec_lo_snare", "elec_mid_snare", "elec_filt_snare")),
    "cymbal": ("hit", ("drum_cymbal_", "drum_splash_", "elec_cymbal")),
    "tom_drum": ("hit", ("drum_tom_", "elec_fuzz_tom")),
    "tabla": ("hit", ("tabla_",)),
    "chime": ("hit", ("perc_bell", "elec_bell", "elec_chime", "elec_triangle", "elec_bong", "elec_ping")),
    "electronic_blip": ("hit", ("elec_beep", "elec_blip", "elec_blup", "elec_plip", "elec_twip", "elec_pop", "elec_flip")),
    "drum_loop": ("texture", ("loop_amen", "loop_breakbeat", "loop_compus", "loop_perc", "loop_mika", "loop_safari", "loop_industrial")),
    "drone": ("texture", ("ambi_drone", "ambi_glass_hum", "ambi_haunted_hum", "ambi_sauna", "ambi_lunar_land", "loop_drone_g_97", "ambi_glass_rub")),
    "whoosh": ("once", ("ambi_swoosh", "ambi_dark_woosh", "perc_swoosh", "perc_swash")),
    "synth_bass": ("once", ("bass_",)),
    "vinyl_scratch": ("once", ("vinyl_backspin", "vinyl_rewind", "vinyl_scratch")),
    "robot_voice": ("once", ("mehackit_robot", "glitch_robot")),
    "guitar": ("once", ("guit_",)),
}
MAX_HIT = 1.5  # recordings used as hits or gestures are cut to this many seconds
MAX_ONCE = 2.5

# (subject, verb phrase, gerund phrase) alternatives and tags per class.
PHRASES: Dict[str, List[Tuple[str, str, str]]] = {
    "bell": [("a bell", "rings", "ringing"), ("a bell", "chimes", "chiming"), ("a church bell", "tolls", "tolling")],
    "knocking": [("someone", "knocks on a door", "knocking on a door"), ("a door", "is knocked on", "being knocked on"),
                 ("someone", "knocks on wood", "knocking on wood")],
    "clapping": [("someone", "claps", "clapping"), ("a person", "claps their hands", "clapping their hands"),
                 ("hands", "clap", "clapping")],
    "rain": [("rain", "falls", "falling"), ("rain", "patters steadily", "pattering steadily"), ("heavy rain", "pours down", "pouring down")],
    "wind": [("wind", "blows", "blowing"), ("a strong wind", "howls", "howling"), ("wind", "gusts", "gusting")],
    "siren": [("a siren", "wails", "wailing"), ("an emergency siren", "sounds", "sounding"), ("a police siren", "blares", "blaring")],
    "alarm": [("an alarm", "beeps", "beeping"), ("an electronic alarm", "beeps repeatedly", "beeping repeatedly"),
              ("a beeping alarm", "goes off", "going off")],
    "footsteps": [("footsteps", "approach", "approaching"), ("someone", "walks by", "walking by"),
                  ("footsteps", "echo on a hard floor", "echoing on a hard floor")],
    "clock": [("a clock", "ticks", "ticking"), ("a clock", "ticks steadily", "ticking steadily"), ("a mechanical clock", "tick-tocks", "tick-tocking")],
    "engine": [("an engine", "hums", "humming"), ("an engine", "idles", "idling"), ("a motor", "rumbles", "rumbling")],
    "whistle": [("someone", "whistles", "whistling"), ("a person", "whistles a tune", "whistling a tune"), ("a whistle", "blows", "blowing")],
    "dripping": [("water", "drips", "dripping"), ("water", "drips slowly", "dripping slowly"), ("a tap", "drips", "dripping")],
    "kick_drum": [("a kick drum", "thumps", "thumping"), ("a bass drum", "booms", "booming"), ("a kick drum", "hits", "hitting")],
    "snare_drum": [("a snare drum", "cracks", "cracking"), ("a snare", "is hit", "being hit"), ("a snare drum", "snaps", "snapping")],
    "cymbal": [("a cymbal", "crashes", "crashing"), ("a cymbal", "shimmers", "shimmering"), ("a cymbal", "is struck", "being struck")],
    "tom_drum": [("a tom drum", "is struck", "being struck"), ("a tom-tom", "booms", "booming"), ("a floor tom", "thuds", "thudding")],
    "tabla": [("a tabla", "is played", "being played"), ("a tabla drum", "resonates", "resonating"), ("a tabla", "is tapped", "being tapped")],
    "chime": [("a metallic chime", "rings", "ringing"), ("a chime", "sounds", "sounding"), ("a bright chime", "rings out", "ringing out")],
    "electronic_blip": [("an electronic blip", "sounds", "sounding"), ("a digital blip", "chirps", "chirping"),
                        ("a synthetic beep", "pops", "popping")],
    "drum_loop": [("a drum beat", "plays", "playing"), ("a breakbeat", "loops", "looping"), ("drums", "play a groove", "playing a groove")],
    "drone": [("an eerie drone", "hums", "humming"), ("an ambient drone", "swells", "swelling"), ("a low ambient hum", "resonates", "resonating")],
    "whoosh": [("something", "whooshes past", "whooshing past"), ("a swoosh", "sweeps by", "sweeping by"), ("a whoosh", "passes", "passing")],
    "synth_bass": [("a deep synth bass", "plays", "playing"), ("a synthesizer bass note", "throbs", "throbbing"),
                   ("a heavy bass synth", "rumbles", "rumbling")],
    "vinyl_scratch": [("a vinyl record", "is scratched", "being scratched"), ("a turntable", "scratches", "scratching"),
                      ("a record", "spins backwards", "spinning backwards")],
    "robot_voice": [("a robotic voice", "babbles", "babbling"), ("a robot voice", "speaks", "speaking"),
                    ("a synthetic robot voice", "chatters", "chattering")],
    "guitar": [("an electric guitar", "strums", "strumming"), ("a guitar", "plays a chord", "playing a chord"),
               ("an electric guitar", "rings out", "ringing out")],
}
TAGS = {"bell": "bell", "knocking": "knocking", "clapping": "clapping", "rain": "rain", "wind": "wind", "siren": "siren",
        "alarm": "beeping alarm", "footsteps": "footsteps", "clock": "clock ticking", "engine": "engine hum",
        "whistle": "whistling", "dripping": "dripping water", "kick_drum": "kick drum", "snare_drum": "snare drum",
        "cymbal": "cymbal", "tom_drum": "tom drum", "tabla": "tabla", "chime": "chime", "electronic_blip": "electronic blip",
        "drum_loop": "drum loop", "drone": "ambient drone", "whoosh": "whoosh", "synth_bass": "synth bass",
        "vinyl_scratch": "vinyl scratch", "robot_voice": "robotic voice", "guitar": "electric guitar"}
CATEGORIES = {  # a broad tag per class, AudioSet-ontology style
    "nature": ("rain", "wind", "dripping"), "alarm": ("siren", "alarm", "bell"), "vehicle": ("engine",),
    "human": ("knocking", "clapping", "footsteps", "whistle"), "domestic": ("clock",),
    "percussion": ("kick_drum", "snare_drum", "cymbal", "tom_drum", "tabla"),
    "music": ("chime", "drum_loop", "synth_bass", "guitar"),
    "electronic": ("electronic_blip", "vinyl_scratch", "robot_voice", "drone", "whoosh"),
}
CATEGORY = {cls: cat for cat, members in CATEGORIES.items() for cls in members}
COUNT_WORDS = {2: "twice", 3: "three times", 4: "four times"}
ARRANGEMENTS = ["single", "sequence", "overlap"]
TEMPLATES = {
    "single": ["{S0}.", "The sound of {G0}.", "{G0} can be heard.", "A recording of {G0}."],
    "sequence2": ["{S0}, then {S1}.", "{S0}, followed by {G1}.", "First {S0}, and then {S1}.", "{S0} before {S1}."],
    "sequence3": ["{S0}, then {S1}, and finally {S2}.", "{S0}, followed by {G1} and then {G2}.",
                  "First {S0}, then {S1}, and then {S2}."],
    "overlap": ["{S0} while {S1}.", "{S1} as {S0}.", "{G1} over the sound of {G0}.", "{S0}, and at the same time {S1}.",
                "{S1}, with {G0} in the background."],
}


def all_classes() -> List[str]:
    return list(SYNTH_CLASSES) + list(REAL_CLASSES)


def kind_of(cls: str) -> str:
    return SYNTH_CLASSES[cls][0] if cls in SYNTH_CLASSES else REAL_CLASSES[cls][0]


# --- Sonic Pi files ----------------------------------------------------------------------


def real_files(sample_dir: str) -> Dict[str, List[Tuple[str, float]]]:
    """class -> sorted [(file name, duration at 16 kHz in s)], from file names alone."""
    names = sorted(f for f in os.listdir(sample_dir) if f.endswith(".flac"))
    out = {}
    for cls, (_, prefixes) in REAL_CLASSES.items():
        files = []
        for name in names:
            if name.startswith(prefixes):
                info = sf.info(os.path.join(sample_dir, name))
                files.append((name, int(round(info.frames * SR / info.samplerate)) / SR))
        out[cls] = files
    return out


def assign_real_splits(files: Dict[str, List[Tuple[str, float]]], fractions, seed: int) -> Dict[str, Dict[str, list]]:
    """Every recording goes to exactly one split; each split gets at least one file per class."""
    rng = plan_rng(seed, "sound")
    out = {}
    for cls, items in files.items():
        if len(items) < 3:
            raise RuntimeError(f"class {cls} has {len(items)} Sonic Pi files; at least 3 are needed")
        order = [items[i] for i in rng.permutation(len(items))]
        counts, start, out[cls] = split_counts(len(items), fractions), 0, {}
        for split in SPLITS:
            out[cls][split] = sorted(order[start: start + counts[split]])
            start += counts[split]
    return out


@lru_cache(maxsize=256)
def load_real(path: str) -> np.ndarray:
    """Mono, 16 kHz, peak 1: each worker decodes a recording at most once."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = resample(x.mean(axis=1), sr, SR)
    return x / max(float(np.max(np.abs(x))), 1e-6)


# --- planning ----------------------------------------------------------------------------


def _count_phrase(count: int, rng) -> str:
    if count == 1:
        return " once" if rng.random() < 0.5 else ""
    return " " + COUNT_WORDS[count]


def _event(cls: str, split: str, budget: float, role: str, rng, real_split, seed: int, index: int, k: int) -> dict:
    """One event fitting in `budget` seconds. role: "alone", "fill" (span exactly budget) or "fg"."""
    kind = kind_of(cls)
    ev = {"class": cls, "kind": kind, "gain_db": float(rng.uniform(-3, 0))}
    if cls in SYNTH_CLASSES:
        synth_seed = int(np.random.SeedSequence([seed, 3, index, k, 99]).generate_state(1)[0])
        ev.update(origin="synth", synth_seed=synth_seed, source=f"synth/{cls}/{synth_seed}")
    else:
        name, length = real_split[cls][split][int(rng.integers(len(real_split[cls][split])))]
        ev.update(origin="sonic-pi", file=name, source=f"sonic-pi/{name}", file_len=length)
    if kind == "texture":
        dur = budget if role == "fill" else float(rng.uniform(0.6, 1.0) * budget)
        dur = max(dur, 0.5)
        ev["dur"] = dur
        if ev["origin"] == "sonic-pi":
            ev["offset"] = float(rng.uniform(0, max(0.0, ev["file_len"] - dur)))
        ev["count"] = None
        return ev
    if ev["origin"] == "synth":
        lo, hi, gap_lo, gap_hi = SYNTH_HIT[cls]
        hit_len = float(rng.uniform(lo, hi))
        gap = float(rng.uniform(gap_lo, gap_hi))
    else:
        hit_len = min(ev["file_len"], MAX_HIT if kind == "hit" else MAX_ONCE)
        gap = float(np.clip(hit_len * rng.uniform(0.7, 1.0), 0.2, 0.9)) if kind == "hit" else hit_len + float(rng.uniform(0.1, 0.4))
    hit_len = min(hit_len, budget)
    if role == "fill":  # repeat across the whole span
        count = max(1, int((budget - hit_len) / gap) + 1)
    elif kind == "once":
        count = 1
    else:
        count = int(rng.integers(1, 5))
        while count > 1 and (count - 1) * gap + hit_len > budget:
            count -= 1
    ev.update(hit_len=hit_len, onsets=[round(j * gap, 4) for j in range(count)], dur=(count - 1) * gap + hit_len,
              count=count if kind == "hit" and role != "fill" else None, repeated=role == "fill" and count > 1)
    return ev


def _phrases(ev: dict, rng) -> Tuple[str, str]:
    subj, verb, ger = PHRASES[ev["class"]][int(rng.integers(3))]
    extra = ""
    if ev.get("count"):
        extra = _count_phrase(ev["count"], rng)
    elif ev.get("repeated"):
        extra = " repeatedly"
    return f"{subj} {verb}{extra}", f"{subj} {ger}{extra}"


def caption(events: List[dict], arrangement: str, rng) -> str:
    values = {}
    for k, ev in enumerate(events):
        values[f"S{k}"], values[f"G{k}"] = _phrases(ev, rng)
    key = arrangement if arrangement != "sequence" else f"sequence{len(events)}"
    options = TEMPLATES[key]
    text = fix_articles(options[int(rng.integers(len(options)))].format(**values))
    return text[0].upper() + text[1:]


def tags(names: List[str]) -> str:
    """Class tags in order of appearance, then their broad categories."""
    return ", ".join(dict.fromkeys([TAGS[c] for c in names] + [CATEGORY[c] for c in names]))


def plan(n: int, counts: Dict[str, int], seed: int, sample_dir: str, fractions) -> List[dict]:
    prng = plan_rng(seed, "sound")
    real_split = assign_real_splits(real_files(sample_dir), fractions, seed)
    classes = all_classes()
    splits = split_list(counts)
    first_col, arr_col = [], []
    for name, m in counts.items():
        first_col += balanced(classes, m, prng)
        arr_col += balanced(ARRANGEMENTS, m, prng)
    clips = []
    for i in range(n):
        rng = clip_rng(seed, "sound", i)
        split, arrangement = splits[i], arr_col[i]
        n_events = {"single": 1, "overlap": 2}.get(arrangement) or int(rng.integers(2, 4))
        names = [first_col[i]]
        while len(names) < n_events:
            c = classes[int(rng.integers(len(classes)))]
            if c not in names:
                names.append(c)
        events = []
        if arrangement == "single":
            events.append(_event(names[0], split, float(rng.uniform(1.5, 4.5)), "alone", rng, real_split, seed, i, 0))
        elif arrangement == "sequence":
            gaps = rng.uniform(0.05, 0.4, n_events)
            budget = (MAX_DURATION - 0.5 - gaps.sum()) / n_events
            t = float(rng.uniform(0.05, 0.25))
            for k, name in enumerate(names):
                ev = _event(name, split, float(budget), "alone", rng, real_split, seed, i, k)
                ev["start"] = round(t, 4)
                t += ev["dur"] + float(gaps[k])
                events.append(ev)
        else:
            span = float(rng.uniform(3.0, 5.4))
            bg = _event(names[0], split, span, "fill", rng, real_split, seed, i, 0)
            fg = _event(names[1], split, span * 0.6, "alone", rng, real_split, seed, i, 1)
            bg["start"], bg["gain_db"] = 0.0, float(rng.uniform(-5, -2))  # background slightly softer
            fg["start"] = round(float(rng.uniform(0.3, max(0.35, span - fg["dur"] - 0.1))), 4)
            events = [bg, fg]
        events[0].setdefault("start", round(float(rng.uniform(0.05, 0.25)), 4))
        end = max(ev["start"] + ev["dur"] for ev in events)
        duration = float(np.clip(end + rng.uniform(0.1, 0.3), MIN_DURATION, MAX_DURATION))
        cap_rng = clip_rng(seed, "sound", i, 1)
        sources = sorted({ev["source"] for ev in events})
        origin = {ev["origin"] for ev in events}
        labels = {
            "event_class": names[0], "event_classes": names, "num_events": n_events, "arrangement": arrangement,
            "source_recordings": sources,
        }
        clips.append({
            "id": f"sound-{i:06d}", "domain": "sound", "split": split, "index": i, "seed": seed,
            "duration_s": round(duration, 4), "events": events, "labels": labels,
            "source": "mini_stew/" + ("sonic-pi" if origin == {"sonic-pi"} else "synth" if origin == {"synth"} else "synth+sonic-pi"),
            "source_item": sources,
            "captions": {"description": caption(events, arrangement, cap_rng),
                         "tags": tags(names)},
        })
    return clips


# --- rendering ---------------------------------------------------------------------------


def _loop(x: np.ndarray, n: int) -> np.ndarray:
    """Repeat a recording to n samples with 20 ms cross-fades at the seams."""
    if len(x) >= n:
        return x[:n]
    xf = int(0.02 * SR)
    out = x.copy()
    ramp = np.linspace(0, 1, xf)
    while len(out) < n:
        out[-xf:] = out[-xf:] * (1 - ramp) + x[:xf] * ramp
        out = np.concatenate([out, x[xf:]])
    return out[:n]


def render_event(ev: dict, sample_dir: str, rng) -> np.ndarray:
    n = int(round(ev["dur"] * SR))
    if ev["kind"] == "texture":
        if ev["origin"] == "synth":
            x = SYNTH_CLASSES[ev["class"]][1](np.random.default_rng(ev["synth_seed"]), n)
        else:
            src = load_real(os.path.join(sample_dir, ev["file"]))
            a = int(ev["offset"] * SR)
            x = _loop(src[a:] if len(src) - a >= n else src, n)
        x = fade(x, 0.05, 0.1)
    else:
        m = int(round(ev["hit_len"] * SR))
        if ev["origin"] == "synth":
            hit = SYNTH_CLASSES[ev["class"]][1](np.random.default_rng(ev["synth_seed"]), m)
        else:
            hit = load_real(os.path.join(sample_dir, ev["file"]))[:m]
        hit = fade(hit, 0.001, min(0.1, ev["hit_len"] / 4))
        x = _place(n, hit, ev["onsets"], list(rng.uniform(0.75, 1.0, len(ev["onsets"]))))
    rms = np.sqrt(np.mean(x ** 2)) + 1e-9
    return x / rms * 10 ** (ev["gain_db"] / 20) * 0.1


def render(clip: dict, sample_dir: str) -> np.ndarray:
    n = int(round(clip["duration_s"] * SR))
    out = np.zeros(n)
    rng = clip_rng(clip["seed"], "sound", clip["index"], 2)
    for ev in clip["events"]:
        x = render_event(ev, sample_dir, rng)
        a = int(round(ev["start"] * SR))
        m = min(len(x), n - a)
        out[a: a + m] += x[:m]
    return fade(out, 0.002, 0.05)
