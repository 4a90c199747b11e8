"""Catalogues of the real recordings CaptionStew-mini is built from (Debian packages, read locally).

- ``asterisk-core-sounds-{en,es,fr,it,ru}-wav``: ~560 read IVR prompts per language, 8 kHz mono WAV,
  one professional voice per language (Allison reads both English and Spanish); the
  ``asterisk-core-sounds-<lang>`` packages' ``core-sounds-<lang>.txt`` give each prompt's text.
- ``colobot-common-sounds`` (GPL-3+): the game Colobot's 83 sound effects (``sounds/soundNNN.wav``,
  named by the ``SoundType`` enum of colobot/colobot ``src/sound/sound_type.h``) and its 21 music
  tracks (``music/*.ogg``).
- ``sonic-pi-samples`` (CC0) is read by :mod:`.sound`.
"""
from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

ASTERISK_ROOT = "/usr/share/asterisk/sounds"
ASTERISK_DOC = "/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
COLOBOT_ROOT = "/usr/share/games/colobot"

# language code -> (voice folder, speaker name, gender, language name, accent adjective)
ASTERISK_VOICES = {
    "en": ("en_US_f_Allison", "Allison", "female", "English", "American"),
    "es": ("es_MX_f_Allison", "Allison", "female", "Spanish", "Mexican"),
    "fr": ("fr_CA_f_June", "June", "female", "French", "Canadian"),
    "it": ("it_IT_m_Carlo", "Carlo", "male", "Italian", "Italian"),
    "ru": ("ru_RU_f_IvrvoiceRU", "IvrvoiceRU", "female", "Russian", "Russian"),
}

# soundNNN.wav -> (SoundType enum name, coarse class). Classes are ours, from the enum names and
# their comments in colobot/colobot src/sound/sound_type.h; RECOVER (65) and FINDING (73) are
# byte-identical copies of GUNDEL (50) and WAYPOINT (64) and are left out.
COLOBOT_SOUNDS: Dict[int, tuple] = {
    0: ("CLICK", "ui_beep"), 1: ("BOUM", "impact"), 2: ("EXPLO", "explosion"), 3: ("FLYh", "engine"),
    4: ("FLY", "engine"), 5: ("STEPs", "impact"), 6: ("MOTORw", "engine"), 7: ("MOTORt", "engine"),
    8: ("MOTORr", "engine"), 9: ("ERROR", "alarm"), 10: ("CONVERT", "machine"), 11: ("ENERGY", "machine"),
    12: ("PLOUF", "other"), 13: ("BLUP", "other"), 14: ("WARNING", "alarm"), 15: ("DERRICK", "machine"),
    16: ("LABO", "machine"), 17: ("STATION", "machine"), 18: ("REPAIR", "machine"), 19: ("RESEARCH", "machine"),
    20: ("INSECTs", "creature"), 21: ("BURN", "other"), 22: ("TZOING", "ui_beep"), 23: ("GGG", "machine"),
    24: ("MANIP", "machine"), 25: ("FIRE", "weapon"), 26: ("HUMAN1", "creature"), 27: ("STEPw", "impact"),
    28: ("SWIM", "other"), 29: ("RADAR", "ui_beep"), 30: ("BUILD", "machine"), 31: ("ALARM", "alarm"),
    32: ("SLIDE", "engine"), 33: ("EXPLOi", "creature"), 34: ("INSECTa", "creature"), 35: ("INSECTb", "creature"),
    36: ("INSECTw", "creature"), 37: ("INSECTm", "creature"), 38: ("TREMBLE", "machine"), 39: ("PSHHH", "machine"),
    40: ("NUCLEAR", "machine"), 41: ("INFO", "ui_beep"), 42: ("OPEN", "machine"), 43: ("CLOSE", "impact"),
    44: ("FACTORY", "machine"), 45: ("EGG", "other"), 46: ("MOTORs", "engine"), 47: ("MOTORi", "engine"),
    48: ("SHIELD", "machine"), 49: ("FIREi", "weapon"), 50: ("GUNDEL", "other"), 51: ("PSHHH2", "machine"),
    52: ("MESSAGE", "ui_beep"), 53: ("BOUMm", "impact"), 54: ("BOUMv", "impact"), 55: ("BOUMs", "impact"),
    56: ("EXPLOl", "explosion"), 57: ("EXPLOlp", "explosion"), 58: ("EXPLOp", "explosion"), 59: ("STEPh", "impact"),
    60: ("STEPm", "impact"), 61: ("POWERON", "machine"), 62: ("POWEROFF", "machine"), 63: ("AIE", "creature"),
    64: ("WAYPOINT", "ui_beep"), 66: ("DEADi", "creature"), 67: ("JOSTLE", "other"), 68: ("GFLAT", "ui_beep"),
    69: ("DEADg", "creature"), 70: ("DEADw", "creature"), 71: ("FLYf", "engine"), 72: ("ALARMt", "alarm"),
    74: ("THUMP", "impact"), 75: ("TOUCH", "impact"), 76: ("BLITZ", "explosion"), 77: ("MUSHROOM", "other"),
    78: ("FIREp", "weapon"), 79: ("EXPLOg1", "weapon"), 80: ("EXPLOg2", "weapon"), 81: ("MOTORd", "engine"),
    82: ("ALARMs", "alarm"),
}


@dataclass(frozen=True)
class Prompt:
    """One Asterisk prompt: ``path`` (8 kHz WAV), its prompt ``name`` (e.g. ``digits/7``) and text."""

    lang: str
    name: str
    path: str
    text: str

    @property
    def speaker(self) -> str:
        return ASTERISK_VOICES[self.lang][1]


def _read_texts(lang: str) -> Dict[str, str]:
    """``core-sounds-<lang>.txt``: ``name: text`` lines, ``;`` comments; bracketed texts describe tones."""
    path = ASTERISK_DOC.format(lang=lang)
    texts = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            texts[name.strip()] = re.sub(r"\s+", " ", text).strip()
    return texts


def asterisk_prompts(lang: str, root: str = ASTERISK_ROOT) -> List[Prompt]:
    """Every spoken prompt of one language that has a transcript, sorted by name.

    Prompts whose listed text is a bracketed description (``[ascending tones]``, ``(1 second of
    silence)``) or absent are
    not speech with a known text and are left out.
    Raises FileNotFoundError naming the Debian package when the voice folder or listing is missing.
    """
    folder = Path(root) / ASTERISK_VOICES[lang][0]
    if not folder.is_dir() or not os.path.isfile(ASTERISK_DOC.format(lang=lang)):
        raise FileNotFoundError(f"Asterisk prompts for {lang!r} not found ({folder}, {ASTERISK_DOC.format(lang=lang)});"
                                f" install asterisk-core-sounds-{lang}-wav and asterisk-core-sounds-{lang}")
    texts = _read_texts(lang)
    out = []
    for path in sorted(folder.rglob("*.wav")):
        name = path.relative_to(folder).with_suffix("").as_posix()
        text = texts.get(name)
        if not text or text.startswith(("[", "(")):  # tones and silences are described, not spoken
            continue
        out.append(Prompt(lang, name, str(path), text))
    return out


@dataclass(frozen=True)
class SoundEffect:
    path: str
    number: int
    name: str       # the SoundType enum name, e.g. EXPLO
    label: str      # coarse class


def colobot_sound_effects(root: str = COLOBOT_ROOT, include_other: bool = False) -> List[SoundEffect]:
    """The labelled Colobot sound effects (files of class ``other`` only with include_other)."""
    folder = Path(root) / "sounds"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found; install colobot-common-sounds")
    out = []
    for number, (name, label) in sorted(COLOBOT_SOUNDS.items()):
        if label == "other" and not include_other:
            continue
        path = folder / f"sound{number:03d}.wav"
        if path.is_file():
            out.append(SoundEffect(str(path), number, name, label))
    return out


def colobot_music(root: str = COLOBOT_ROOT) -> List[str]:
    folder = Path(root) / "music"
    tracks = sorted(str(p) for p in folder.glob("*.ogg")) if folder.is_dir() else []
    if not tracks:
        raise FileNotFoundError(f"no music under {folder}; install colobot-common-sounds")
    return tracks

