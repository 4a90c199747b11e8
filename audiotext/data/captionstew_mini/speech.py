"""Speech clips: espeak-ng voices reading sentences from a small English grammar.

Captions: ``transcript`` (the sentence) and ``speaking_style`` (a ParaSpeechCaps-like description
of gender, accent, voice quality, pitch and pace). The speaker identity is the espeak voice plus variant.
"""
from __future__ import annotations

import io
import re
import subprocess
from typing import Dict, List, Tuple

import numpy as np
import soundfile as sf

from .common import (MAX_DURATION, MIN_DURATION, SAMPLE_RATE, balanced, clip_rng, fix_articles, plan_rng, resample,
                     split_list)

# espeak voice -> (accent label, accent adjective used in captions).
# Non-English voices read the English text with their own letter-to-sound rules: a foreign accent.
VOICES: Dict[str, Tuple[str, str]] = {
    "en-us": ("american", "American"),
    "en-us-nyc": ("new_york", "New York"),
    "en-gb": ("british", "British"),
    "en-gb-x-rp": ("received_pronunciation", "Received Pronunciation"),
    "en-gb-scotland": ("scottish", "Scottish"),
    "en-gb-x-gbclan": ("lancashire", "Lancashire"),
    "en-gb-x-gbcwmd": ("west_midlands", "West Midlands"),
    "en-029": ("caribbean", "Caribbean"),
    "de": ("german", "German"),
    "fr-fr": ("french", "French"),
    "es": ("spanish", "Spanish"),
    "it": ("italian", "Italian"),
    "nl": ("dutch", "Dutch"),
    "pl": ("polish", "Polish"),
    "sv": ("swedish", "Swedish"),
}
MALE_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
FEMALE_VARIANTS = ["f1", "f2", "f3", "f4", "f5"]

# Intrinsic voice-quality tags per espeak variant (ParaSpeechCaps describes speakers with such
# tags: "husky", "nasal", ...). Each follows the variant's synthesis settings: flutter/roughness,
# echo, raised formants (brighter, thinner), wide formant bandwidths (muffled, hollow).
TIMBRES = {
    "m1": ["slightly rough", "wavering"], "m2": ["echoing", "reverberant"], "m3": ["plain", "even"],
    "m4": ["bright", "thin"], "m5": ["muffled", "dark"], "m6": ["hollow", "boomy"], "m7": ["soft", "mellow"],
    "f1": ["slightly shaky", "fluttering"], "f2": ["raspy", "slightly rough"], "f3": ["thin", "bright"],
    "f4": ["echoing", "reverberant"], "f5": ["smooth", "clear"],
}

# espeak -p (0-99) and -s (words per minute) ranges per bucket.
PITCH_RANGES = {"low": (12, 30), "medium": (42, 58), "high": (70, 88)}
RATE_RANGES = {"slow": (110, 135), "medium": (160, 185), "fast": (225, 260)}


def speakers() -> List[Tuple[str, str, str]]:
    """(voice id, gender, accent voice): each accent gets two male and two female variants,
    rotated so every variant is used somewhere."""
    out = []
    for i, voice in enumerate(VOICES):
        for k in range(2):
            out.append((f"{voice}+{MALE_VARIANTS[(2 * i + k) % len(MALE_VARIANTS)]}", "male", voice))
            out.append((f"{voice}+{FEMALE_VARIANTS[(2 * i + k) % len(FEMALE_VARIANTS)]}", "female", voice))
    return out


# --- sentence grammar ---------------------------------------------------------------------

NAMES = ["Anna", "Ben", "Clara", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "James", "Kate",
         "Leo", "Maria", "Nathan", "Olivia", "Peter", "Rosa", "Samuel", "Tina", "Victor", "Wendy", "Oscar"]
ADJECTIVES = ["red", "old", "small", "heavy", "quiet", "bright", "wooden", "broken", "warm", "green",
              "tiny", "huge", "empty", "clean", "dusty", "shiny", "soft", "cold", "yellow", "strange",
              "famous", "little", "modern", "round", "narrow", "golden", "simple", "noisy", "blue", "tall"]
NOUNS = ["book", "chair", "window", "garden", "letter", "bottle", "lamp", "table", "bicycle", "basket",
         "kettle", "piano", "ladder", "blanket", "camera", "mirror", "ticket", "pencil", "umbrella", "jacket",
         "bucket", "carpet", "engine", "violin", "wallet", "helmet", "pillow", "parcel", "rabbit", "candle",
         "map", "boat", "key", "cup", "dog", "horse", "clock", "radio", "hammer", "painting"]
PLACES = ["kitchen", "station", "market", "library", "river", "bridge", "office", "harbor", "museum",
          "garage", "school", "forest", "hospital", "village", "theater", "bakery", "airport", "park",
          "beach", "hotel", "farm", "church", "hill", "stadium"]
VERBS = [  # (base, past)
    ("carry", "carried"), ("paint", "painted"), ("find", "found"), ("move", "moved"), ("sell", "sold"),
    ("clean", "cleaned"), ("fix", "fixed"), ("bring", "brought"), ("hide", "hid"), ("buy", "bought"),
    ("open", "opened"), ("drop", "dropped"), ("borrow", "borrowed"), ("repair", "repaired"),
    ("wrap", "wrapped"), ("lose", "lost"), ("check", "checked"), ("lift", "lifted"), ("take", "took"),
    ("send", "sent"), ("wash", "washed"), ("pack", "packed"), ("measure", "measured"), ("show", "showed"),
]
PREPOSITIONS = ["near", "behind", "inside", "next to", "outside", "under", "above", "beside", "across from"]
PAST_TIMES = ["yesterday", "last night", "this morning", "on Monday", "on Friday", "after lunch", "before dinner",
              "at noon", "in the evening", "last week", "on Sunday", "two days ago"]
HABIT_TIMES = ["every day", "at noon", "on Mondays", "in the evening", "at eight", "on weekends", "early"]
DEADLINES = ["lunch", "dinner", "noon", "Monday", "Friday", "the weekend", "tonight", "tomorrow", "the storm"]
RELATIVES = ["brother", "sister", "uncle", "aunt", "cousin", "neighbor", "friend", "teacher", "father", "mother"]
NUMBERS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"]
FEELINGS = ["happy", "tired", "surprised", "worried", "excited", "calm", "hungry", "nervous"]

TEMPLATES = [
    "The {adj} {noun} is {prep} the {place}.",
    "{name} {past} the {adj} {noun} {time}.",
    "Please {base} the {noun} {prep} the {place}.",
    "Did you {base} the {adj} {noun} {time}?",
    "We should {base} the {noun} before {deadline}.",
    "My {rel} {past} {num} {adj} {noun}s {time}.",
    "There are {num} {noun}s {prep} the {place}.",
    "{name} and {name2} {past} a {noun} at the {place}.",
    "I left my {adj} {noun} at the {place} {time}.",
    "Where did {name} {base} the {noun}?",
    "{name} was {feeling} when the {noun} arrived.",
    "Can you {base} this {adj} {noun} for me?",
    "The {place} {prep2} the {place2} opens {habit}.",
    "Our {rel} walked to the {place} {time}.",
    "{name} {past} the {noun} and went to the {place}.",
    "Nobody knows why the {noun} is so {adj}.",
    # short and long ones, so utterances can match any planned length
    "Look at the {noun}.",
    "Is the {noun} {adj}?",
    "{name} is {feeling}.",
    "{name} {past} it {time}.",
    "{name} said that the {adj} {noun} was {prep} the {place} {time}.",
    "Before {deadline}, my {rel} wants to {base} the {adj} {noun} at the {place}.",
    "I think {name} {past} the {adj} {noun} {prep} the {place} {time}.",
    "When the {noun} arrived, {name} and {name2} were {feeling} and went to the {place}.",
]


def _fill(template: str, rng: np.random.Generator) -> str:
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    base, past = pick(VERBS)
    name = pick(NAMES)
    place = pick(PLACES)
    values = {
        "adj": pick(ADJECTIVES), "noun": pick(NOUNS), "place": place, "prep": pick(PREPOSITIONS),
        "name": name, "name2": pick([n for n in NAMES if n != name]), "base": base, "past": past,
        "time": pick(PAST_TIMES), "habit": pick(HABIT_TIMES), "deadline": pick(DEADLINES), "rel": pick(RELATIVES),
        "num": pick(NUMBERS), "feeling": pick(FEELINGS), "prep2": pick(["near", "behind", "next to"]),
        "place2": pick([p for p in PLACES if p != place]),
    }
    text = template.format(**values)
    text = fix_articles(text)
    return text[0].upper() + text[1:]


# How long espeak-ng speaks a text, in words at its nominal -s rate (seconds = units * 60 / wpm):
# fitted on rendered mini_stew speech (R^2 0.91 over one- to three-sentence utterances); what it
# misses (voice, word choice) does not depend on the rate class.
UNITS_PER_CHAR = 0.153
UNITS_PER_SENTENCE_BREAK = 0.72
UNITS_OFFSET = 0.17
# Planned speaking time of every clip, drawn independently of its rate class, so that clip
# duration says nothing about the rate: a fast speaker says more words in the same time.
SPEECH_SECONDS = (2.6, 4.2)


def spoken_units(text: str) -> float:
    breaks = len(re.findall(r"[.?!] ", text))
    return UNITS_OFFSET + UNITS_PER_CHAR * len(text) + UNITS_PER_SENTENCE_BREAK * breaks


def utterances(seconds: List[float], rates: List[int], rng: np.random.Generator, tries: int = 400) -> List[str]:
    """Corpus-unique utterances of one to three sentences, the i-th as close as the grammar allows
    to seconds[i] of speech at rates[i] words per minute."""
    seen, out = set(), []
    for target_s, rate in zip(seconds, rates):
        target = target_s * rate / 60.0
        best, best_err = None, float("inf")
        for _ in range(tries):
            k = 1 + int(rng.integers(3))
            text = " ".join(_fill(TEMPLATES[int(rng.integers(len(TEMPLATES)))], rng) for _ in range(k))
            err = abs(spoken_units(text) - target)
            if text not in seen and err < best_err:
                best, best_err = text, err
                if err < UNITS_PER_CHAR * 2:
                    break
        if best is None:
            raise RuntimeError("sentence grammar exhausted; add vocabulary")
        seen.add(best)
        out.append(best)
    return out


# --- speaking-style captions --------------------------------------------------------------

def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


PITCH_WORDS = {
    "low": {"adj": ["low-pitched", "deep", "low"], "pred": ["low", "deep"]},
    "medium": {"adj": ["medium-pitched", "moderately pitched", "mid-range"], "pred": ["moderate", "neither high nor low"]},
    "high": {"adj": ["high-pitched", "high", "bright, high"], "pred": ["high", "quite high"]},
}
PACE_WORDS = {
    "slow": {"adv": ["slowly", "at a slow pace", "in a slow, measured way"], "pred": ["slow", "unhurried"], "adj": ["slow", "unhurried"]},
    "medium": {"adv": ["at a moderate pace", "at an average speed", "at a normal pace"], "pred": ["moderate", "average"], "adj": ["steady", "moderately paced"]},
    "fast": {"adv": ["quickly", "rapidly", "at a fast pace"], "pred": ["fast", "quick"], "adj": ["fast", "rapid"]},
}
GENDER_WORDS = {
    "male": {"noun": ["man", "male speaker"], "adj": ["male", "masculine"]},
    "female": {"noun": ["woman", "female speaker"], "adj": ["female", "feminine"]},
}
STYLE_TEMPLATES = [
    "{A} {gnoun} with {acc} speaks {pace_adv} in {a_pitch} {pitch_adj}, {timbre} voice.",
    "{A_pitch} {pitch_adj}, {timbre} {gadj} voice with {acc}, speaking {pace_adv}.",
    "{A_accadj} {accadj} {gnoun} talks {pace_adv}; the voice is {pitch_pred} and {timbre}.",
    "A {gadj} speaker with {acc} and {a_timbre} {timbre} voice. The pitch is {pitch_pred} and the pace is {pace_pred}.",
    "{A_pace} {pace_adj} delivery from {a} {gnoun} with {acc} and {a_pitch} {pitch_adj}, {timbre} voice.",
    "{A} {gnoun} speaking English with {acc}, {pace_adv}, in {a_timbre} {timbre}, {pitch_adj} tone.",
]


def speaking_style_caption(gender: str, accent_adj: str, pitch: str, pace: str, rng: np.random.Generator,
                           variant: str = "m3") -> str:
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    timbre = pick(TIMBRES[variant])
    gnoun = pick(GENDER_WORDS[gender]["noun"])
    pitch_adj = pick(PITCH_WORDS[pitch]["adj"])
    pace_adj = pick(PACE_WORDS[pace]["adj"])
    acc = f"{_article(accent_adj)} {accent_adj} accent"
    text = pick(STYLE_TEMPLATES).format(
        A=_article(gnoun).capitalize(), a=_article(gnoun), gnoun=gnoun, gadj=pick(GENDER_WORDS[gender]["adj"]),
        acc=acc, accadj=accent_adj, A_accadj=_article(accent_adj).capitalize(),
        pitch_adj=pitch_adj, a_pitch=_article(pitch_adj), A_pitch=_article(pitch_adj).capitalize(),
        pitch_pred=pick(PITCH_WORDS[pitch]["pred"]), pace_adv=pick(PACE_WORDS[pace]["adv"]),
        pace_pred=pick(PACE_WORDS[pace]["pred"]), pace_adj=pace_adj, A_pace=_article(pace_adj).capitalize(),
        timbre=timbre, a_timbre=_article(timbre),
    )
    return text


# --- planning and rendering ---------------------------------------------------------------

def plan(n: int, counts: Dict[str, int], seed: int) -> List[dict]:
    """Decide every speech clip: speaker, pitch, rate and a corpus-unique sentence.

    Labels are balanced within each split so probes see every class in every split."""
    prng = plan_rng(seed, "speech")
    spk = speakers()
    splits = split_list(counts)
    speaker_col, pitch_col, rate_col = [], [], []
    for name, m in counts.items():
        speaker_col += balanced(spk, m, prng)
        pitch_col += balanced(list(PITCH_RANGES), m, prng)
        rate_col += balanced(list(RATE_RANGES), m, prng)
    clips = []
    for i in range(n):
        rng = clip_rng(seed, "speech", i)
        lo, hi = RATE_RANGES[rate_col[i]]
        rate = int(rng.integers(lo, hi + 1))
        lo, hi = PITCH_RANGES[pitch_col[i]]
        clips.append({"index": i, "rate": rate, "pitch": int(rng.integers(lo, hi + 1)),
                      "speech_s": float(rng.uniform(*SPEECH_SECONDS))})
    texts = utterances([c["speech_s"] for c in clips], [c["rate"] for c in clips], prng)
    for i, clip in enumerate(clips):
        voice_id, gender, voice = speaker_col[i]
        accent, accent_adj = VOICES[voice]
        variant = voice_id.split("+")[1]
        rng = clip_rng(seed, "speech", i, 1)
        clip.update({
            "id": f"speech-{i:06d}", "domain": "speech", "split": splits[i], "seed": seed,
            "voice": voice_id, "text": texts[i], "source": "mini_stew/espeak",
            "source_item": texts[i],
            "labels": {
                "voice": voice_id, "gender": gender, "accent": accent, "timbre": TIMBRES[variant][0],
                "pitch_bucket": pitch_col[i],
                "speaking_rate": rate_col[i], "words_per_minute": clip["rate"], "transcript": texts[i],
            },
            # speaking_style first: consumers that take a clip's first caption get the one that
            # describes the sound of the voice, which an audio encoder can learn without ASR
            "captions": {
                "speaking_style": speaking_style_caption(gender, accent_adj, pitch_col[i], rate_col[i], rng, variant),
                "transcript": texts[i],
            },
        })
    return clips


def _espeak(voice: str, pitch: int, rate: int, text: str) -> Tuple[np.ndarray, int]:
    proc = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "--stdout", text],
        capture_output=True, check=True,
    )
    audio, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    return audio, sr


def _trim_silence(x: np.ndarray, relative: float = 0.01) -> np.ndarray:
    """Cut espeak's leading/trailing silence (below 1% of the peak), keeping a few ms of margin."""
    loud = np.flatnonzero(np.abs(x) > relative * max(float(np.max(np.abs(x))), 1e-9))
    if len(loud) == 0:
        return x
    return x[max(0, loud[0] - 80): loud[-1] + 160]


def render(clip: dict) -> np.ndarray:
    """Synthesize, trim espeak's padding, then add a random short pause before and after."""
    rate = clip["rate"]
    audio, sr = _espeak(clip["voice"], clip["pitch"], rate, clip["text"])
    x = _trim_silence(resample(audio, sr, SAMPLE_RATE))
    limit = int((MAX_DURATION - 0.25) * SAMPLE_RATE)
    if len(x) > limit:
        # Safety net (sentence lengths are planned to fit): speed up, pitch included, rather than cut words.
        x = resample(x, len(x), limit)
    rng = clip_rng(clip["seed"], "speech", clip["index"], 2)
    lead = int(rng.uniform(0.05, 0.12) * SAMPLE_RATE)
    tail = int(rng.uniform(0.05, 0.12) * SAMPLE_RATE)
    total = max(len(x) + lead + tail, int(MIN_DURATION * SAMPLE_RATE))
    out = np.zeros(total, dtype=np.float32)
    out[lead: lead + len(x)] = x
    return out
