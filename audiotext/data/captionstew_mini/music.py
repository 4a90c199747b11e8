"""Music clips: seeded melodies arranged per rhythm style, rendered by fluidsynth with a GM soundfont.

Many clips are laid out on one MIDI timeline separated by silent gaps and rendered with a single
fluidsynth call, then sliced apart: one process launch per chunk instead of per clip.
Chunks have a fixed size, so the audio does not depend on the number of workers.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Dict, List, Tuple

import numpy as np
import soundfile as sf

from .common import MAX_DURATION, SAMPLE_RATE, balanced, clip_rng, fade, fix_articles, plan_rng, split_list
from .midi import MidiTrack

# name -> (GM program (0-based), family, allowed registers); program None = GM drum kit on channel 10.
INSTRUMENTS: Dict[str, Tuple[int, str, Tuple[str, ...]]] = {
    "piano": (0, "piano", ("low", "mid", "high")),
    "electric piano": (4, "piano", ("low", "mid", "high")),
    "organ": (16, "organ", ("low", "mid", "high")),
    "marimba": (12, "mallet percussion", ("low", "mid", "high")),
    "acoustic guitar": (24, "guitar", ("low", "mid", "high")),
    "electric guitar": (27, "guitar", ("low", "mid", "high")),
    "bass guitar": (33, "bass", ("low", "mid")),
    "violin": (40, "strings", ("mid", "high")),
    "cello": (42, "strings", ("low", "mid")),
    "trumpet": (56, "brass", ("mid", "high")),
    "trombone": (57, "brass", ("low", "mid")),
    "saxophone": (65, "reed", ("mid", "high")),
    "clarinet": (71, "reed", ("low", "mid", "high")),
    "flute": (73, "flute", ("mid", "high")),
    "synth lead": (80, "synth", ("low", "mid", "high")),
    "drum kit": (None, "percussion", ("none",)),
}
# wind, brass, bowed and bass instruments hold single notes where keyboards and guitars hold chords
MONOPHONIC = {"bass guitar", "violin", "cello", "trumpet", "trombone", "saxophone", "clarinet", "flute", "synth lead"}
TEMPO_RANGES = {"slow": (60, 80), "medium": (96, 120), "fast": (138, 168)}
REGISTER_ROOTS = {"low": (36, 45), "mid": (55, 64), "high": (72, 79)}  # MIDI note of the tonic
RHYTHMS = ["straight", "arpeggio", "sustained", "syncopated"]
MODES = ["major", "minor"]
SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10]}
PROGRESSIONS = [[0, 4, 5, 3], [0, 3, 4, 0], [5, 3, 0, 4], [0, 5, 3, 4], [1, 4, 0, 0], [0, 3, 0, 4]]
CLIPS_PER_MELODY = 3
CHUNK_SIZE = 40  # clips per fluidsynth call
GAP = 2.0  # silence between clips on the timeline: lets release tails die out
TAIL = 0.5  # release kept after the last note-off
DRUM = {"kick": 36, "snare": 38, "hat": 42, "open_hat": 46, "ride": 51, "crash": 49,
        "tom_hi": 50, "tom_mid": 47, "tom_lo": 43}

# --- captions ----------------------------------------------------------------------------

TEMPO_WORDS = {"slow": ["slow", "leisurely", "unhurried"], "medium": ["moderate", "mid-tempo", "steady"],
               "fast": ["fast", "lively", "brisk"]}
MOOD_WORDS = {"major": ["happy", "bright", "cheerful", "uplifting"], "minor": ["sad", "melancholic", "dark", "somber"]}
REGISTER_WORDS = {"low": "low", "mid": "middle", "high": "high"}
RHYTHM_WORDS = {
    "straight": ["steady eighth notes", "a straight, even rhythm"],
    "arpeggio": ["flowing arpeggios", "broken-chord arpeggios"],
    "sustained": ["sustained chords", "long held chords"],
    "syncopated": ["a syncopated rhythm", "off-beat syncopation"],
}
MONO_SUSTAINED_WORDS = ["long sustained notes", "slow held notes"]
RHYTHM_TAGS = {"straight": "straight eighths", "arpeggio": "arpeggio", "sustained": "sustained", "syncopated": "syncopated"}
DRUM_RHYTHM_WORDS = {
    "straight": ["a straight rock beat", "a steady backbeat"],
    "arpeggio": ["cascading tom patterns", "rolling tom fills"],
    "sustained": ["washing cymbal rolls", "sustained cymbal swells"],
    "syncopated": ["a syncopated funk groove", "an off-beat syncopated pattern"],
}
MELODIC_TEMPLATES = [
    "A {tempo}, {mood} melody in a {mode} key played on {a_inst} in a {register} register, with {rhythm}.",
    "{A_inst} plays a {mood} {mode}-key tune at a {tempo} tempo of about {bpm} BPM in the {register} register, using {rhythm}.",
    "Solo {inst} music: {tempo} and {mood}, in a {mode} key, {register} register, with {rhythm}.",
    "{Rhythm} on {a_inst}; the piece is {tempo} and {mood}, in a {mode} key and a {register} register.",
    "{A_mood} {mode} piece for {inst}{family}, {tempo} at {bpm} BPM, {register} register, featuring {rhythm}.",
]
DRUM_TEMPLATES = [
    "A {tempo} drum kit groove with {rhythm}, no melody.",
    "Solo drums at a {tempo} tempo of about {bpm} BPM playing {rhythm}.",
    "{Rhythm} played on a drum kit, {tempo}.",
    "Percussion only: a {tempo} drum pattern with {rhythm}.",
]


def _an(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def captions(labels: dict, rng: np.random.Generator) -> Dict[str, str]:
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    inst, tempo, rhythm = labels["instrument"], labels["tempo_bucket"], labels["rhythm"]
    if inst == "drum kit":
        phrase = pick(DRUM_RHYTHM_WORDS[rhythm])
        desc = pick(DRUM_TEMPLATES).format(tempo=pick(TEMPO_WORDS[tempo]), rhythm=phrase, Rhythm=phrase[0].upper() + phrase[1:],
                                           bpm=labels["tempo_bpm"])
        tags = ["drum kit", "percussion", tempo, RHYTHM_TAGS[rhythm], "drums"]
    else:
        mono_sustained = rhythm == "sustained" and inst in MONOPHONIC
        phrase = pick(MONO_SUSTAINED_WORDS if mono_sustained else RHYTHM_WORDS[rhythm])
        a_inst = _an(inst)
        mood = pick(MOOD_WORDS[labels["mode"]])
        family = labels["instrument_family"]
        desc = pick(MELODIC_TEMPLATES).format(
            tempo=pick(TEMPO_WORDS[tempo]), mood=mood, A_mood=_an(mood).capitalize(), mode=labels["mode"],
            a_inst=a_inst, A_inst=a_inst[0].upper() + a_inst[1:], inst=inst,
            family="" if family == inst else f" ({family})",
            register=REGISTER_WORDS[labels["register"]], rhythm=phrase, Rhythm=phrase[0].upper() + phrase[1:],
            bpm=labels["tempo_bpm"],
        )
        tags = [inst, labels["instrument_family"], tempo, labels["mode"], f"{labels['register']} register", RHYTHM_TAGS[rhythm]]
    return {"description": fix_articles(desc), "tags": ", ".join(dict.fromkeys(tags))}  # dedupe, keep order


# --- melodies ----------------------------------------------------------------------------

def melody(seed: int, melody_index: int) -> dict:
    """Scale-degree contour, chord progression and syncopation pattern of one melody id."""
    rng = np.random.default_rng([seed, 2, melody_index, 7])
    degrees, d = [], int(rng.choice([0, 2, 4]))
    for _ in range(32):
        degrees.append(d)
        step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]))
        d = int(np.clip(d + step, -2, 9))
    return {
        "degrees": degrees,
        "progression": PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))],
        "sync": [[3, 3, 2], [1, 2, 1, 2, 2], [2, 1, 2, 1, 2], [3, 1, 2, 2]][int(rng.integers(4))],
        "drum_fill": [int(x) for x in rng.integers(0, 3, size=16)],
    }


def _pitch(root: int, mode: str, degree: int) -> int:
    scale = SCALES[mode]
    return root + 12 * (degree // 7) + scale[degree % 7]


def _chord(root: int, mode: str, degree: int) -> List[int]:
    return [_pitch(root, mode, degree + k) for k in (0, 2, 4)]


def notes(clip: dict) -> List[Tuple[float, float, int, int, bool]]:
    """(start s, duration s, pitch, velocity, is_drum) relative to the clip start."""
    lab, mel, rng = clip["labels"], clip["melody"], clip_rng(clip["seed"], "music", clip["index"], 3)
    spb = 60.0 / lab["tempo_bpm"]
    beats, root, mode, rhythm = clip["beats"], clip["root"], lab["mode"], lab["rhythm"]
    vel = lambda base: int(np.clip(base + rng.integers(-8, 9), 30, 120))  # noqa: E731
    out = []
    chord_at = lambda beat: mel["progression"][int(beat // 2) % 4]  # noqa: E731  one chord per 2 beats
    if lab["instrument"] == "drum kit":
        for e in range(beats * 2):  # eighth-note grid
            t = e * spb / 2
            if rhythm == "straight":
                out.append((t, 0.1, DRUM["hat"], vel(70), True))
                if e % 4 == 0:
                    out.append((t, 0.1, DRUM["kick"], vel(100), True))
                if e % 4 == 2:
                    out.append((t, 0.1, DRUM["snare"], vel(95), True))
            elif rhythm == "syncopated":
                out.append((t, 0.1, DRUM["open_hat"] if e % 2 else DRUM["hat"], vel(65), True))
                if e % 8 in (0, 3, 6):
                    out.append((t, 0.1, DRUM["kick"], vel(100), True))
                if e % 8 in (2, 7):
                    out.append((t, 0.1, DRUM["snare"], vel(90), True))
            elif rhythm == "arpeggio":  # tom cascade in sixteenths
                toms = [DRUM["tom_hi"], DRUM["tom_mid"], DRUM["tom_lo"]]
                for s in range(2):
                    out.append((t + s * spb / 4, 0.1, toms[(e * 2 + s + mel["drum_fill"][e % 16]) % 3], vel(85), True))
            else:  # sustained: cymbal roll swells
                for s in range(4):
                    out.append((t + s * spb / 8, 0.1, DRUM["ride"], int(40 + 50 * ((e * 4 + s) % 16) / 16), True))
                if e % 8 == 0:
                    out.append((t, 0.1, DRUM["crash"], vel(90), True))
        return out
    deg = mel["degrees"]
    if rhythm == "straight":
        for e in range(beats * 2):
            out.append((e * spb / 2, spb / 2 * 0.9, _pitch(root, mode, deg[e % 32]), vel(85 if e % 2 == 0 else 70), False))
    elif rhythm == "syncopated":
        t_eighths, k = 0, 0
        while t_eighths < beats * 2:
            for length in mel["sync"]:
                if t_eighths >= beats * 2:
                    break
                out.append((t_eighths * spb / 2, length * spb / 2 * 0.85, _pitch(root, mode, deg[k % 32]), vel(90 if k % 2 else 75), False))
                t_eighths += length
                k += 1
    elif rhythm == "arpeggio":
        for s in range(beats * 4):  # sixteenths at slow tempo would drag; eighths there
            step = spb / 4 if lab["tempo_bucket"] != "fast" else spb / 2
            t = s * step
            if t >= beats * spb:
                break
            tones = _chord(root, mode, chord_at(t / spb)) + [_pitch(root, mode, chord_at(t / spb) + 7)]
            order = [0, 1, 2, 3, 2, 1]
            out.append((t, step * 1.5, tones[order[s % 6]], vel(78), False))
    else:  # sustained: one chord (or one melody note) per two beats
        for b in range(0, beats, 2):
            length = min(2, beats - b) * spb
            if lab["instrument"] in MONOPHONIC:
                pitches = [_pitch(root, mode, deg[(b // 2) % 32])]
            else:
                pitches = _chord(root, mode, chord_at(b))
            for p in pitches:
                out.append((b * spb, length * 0.97, p, vel(75), False))
    return out


# --- planning ----------------------------------------------------------------------------

def plan(n: int, counts: Dict[str, int], seed: int) -> List[dict]:
    """Every music clip: labels balanced per split, melodies owned by exactly one split."""
    prng = plan_rng(seed, "music")
    splits = split_list(counts)
    inst_col, tempo_col, mode_col, rhythm_col, melody_col = [], [], [], [], []
    next_melody = 0
    for name, m in counts.items():
        inst_col += balanced(list(INSTRUMENTS), m, prng)
        tempo_col += balanced(list(TEMPO_RANGES), m, prng)
        mode_col += balanced(MODES, m, prng)
        rhythm_col += balanced(RHYTHMS, m, prng)
        n_mel = max(1, -(-m // CLIPS_PER_MELODY))
        melody_col += [next_melody + j % n_mel for j in range(m)]
        next_melody += n_mel
    clips, register_count = [], {(s, r): 0 for s in counts for r in REGISTER_ROOTS}
    for i in range(n):
        rng = clip_rng(seed, "music", i)
        inst = inst_col[i]
        program, family, allowed = INSTRUMENTS[inst]
        if allowed == ("none",):
            register = "none"
        else:  # greedy: the split's least used allowed register keeps the marginal balanced
            least = min(register_count[splits[i], r] for r in allowed)
            candidates = [r for r in allowed if register_count[splits[i], r] == least]
            register = candidates[int(rng.integers(len(candidates)))]
            register_count[splits[i], register] += 1
        lo, hi = TEMPO_RANGES[tempo_col[i]]
        bpm = int(rng.integers(lo, hi + 1))
        spb = 60.0 / bpm
        target = rng.uniform(2.5, 5.0)
        beats = int(np.clip(round(target / spb), 2, int((MAX_DURATION - TAIL - 0.1) / spb)))
        mode = mode_col[i] if program is not None else "none"
        labels = {
            "instrument": inst, "instrument_family": family, "tempo_bpm": bpm, "tempo_bucket": tempo_col[i],
            "mode": mode, "register": register, "rhythm": rhythm_col[i], "melody_id": f"melody-{melody_col[i]:05d}",
        }
        root_range = REGISTER_ROOTS.get(register, (0, 0))
        clip = {
            "id": f"music-{i:06d}", "domain": "music", "split": splits[i], "index": i, "seed": seed,
            "program": program, "root": int(rng.integers(root_range[0], root_range[1] + 1)), "beats": beats,
            "duration_s": round(beats * spb + TAIL, 3), "melody": melody(seed, melody_col[i]),
            "source": "mini_stew/fluidsynth", "source_item": labels["melody_id"], "labels": labels,
            "captions": captions(labels, clip_rng(seed, "music", i, 1)),
        }
        clips.append(clip)
    return clips


def chunks(clips: List[dict]) -> List[List[dict]]:
    return [clips[k: k + CHUNK_SIZE] for k in range(0, len(clips), CHUNK_SIZE)]


# --- rendering ---------------------------------------------------------------------------

def render_chunk(clips: List[dict], soundfont: str) -> List[Tuple[dict, np.ndarray]]:
    """Render a chunk of clips with one fluidsynth call and slice the timeline apart."""
    track, starts, t = MidiTrack(), [], 1.0
    for k, clip in enumerate(clips):
        channel = 9 if clip["program"] is None else k % 9  # rotate melodic channels, 9 is drums
        if clip["program"] is not None:
            track.program(t - 0.5, channel, clip["program"])
            track.control(t - 0.5, channel, 7, 100)  # channel volume
        for start, dur, pitch, velocity, _ in notes(clip):
            track.note(t + start, dur, channel, pitch, velocity)
        starts.append(t)
        t += clip["duration_s"] + GAP
    track.control(t, 15, 7, 100)  # a last, silent event: fluidsynth stops at the final event
    with tempfile.TemporaryDirectory(prefix="mini_stew_") as tmp:
        mid, wav = os.path.join(tmp, "chunk.mid"), os.path.join(tmp, "chunk.wav")
        track.write(mid)
        proc = subprocess.run(
            ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SAMPLE_RATE), "-F", wav, soundfont, mid],
            capture_output=True, text=True,
        )
        if proc.returncode != 0 or not os.path.exists(wav):
            raise RuntimeError(f"fluidsynth failed: {proc.stderr.strip()[-500:]}")
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    assert sr == SAMPLE_RATE, sr
    audio = audio.mean(axis=1)
    out = []
    for clip, start in zip(clips, starts):
        a = int(round(start * SAMPLE_RATE))
        n = int(round(clip["duration_s"] * SAMPLE_RATE))
        piece = audio[a: a + n]
        if len(piece) < n:  # fluidsynth may stop right after the final note-off
            piece = np.concatenate([piece, np.zeros(n - len(piece), dtype=np.float32)])
        out.append((clip, fade(piece, 0.002, 0.15)))
    return out
