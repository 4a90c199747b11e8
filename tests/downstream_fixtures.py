"""Tiny copies of the downstream data sets in their official on-disk layouts.

Each ``make_<name>(root)`` writes a few 0.2-0.3 s clips plus metadata with the official
file names and columns under ``root`` and returns ``root``. Audio is WAV unless the
official format differs and soundfile can write it: GTZAN's marsyas release is AU and
MagnaTagATune is MP3 (both written here as such); VGGSound (officially YouTube mp4) uses
WAV/FLAC/MP3 as community copies do. ``corrupt(path)`` writes a file no backend can read.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile as sf


def tone(path: Path, seconds: float = 0.2, sr: int = 16000, channels: int = 1, freq: float = 440.0,
         fmt: str = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    sf.write(path, x, sr, format=fmt)
    return path


def corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not audio " * 8)
    return path


def empty_wav(path: Path, sr: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(0, dtype=np.float32), sr, subtype="PCM_16")
    return path


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence], delimiter: str = ",",
              quoting: int = csv.QUOTE_MINIMAL) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter, quoting=quoting)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


# ---------------------------------------------------------------- ESC-50
ESC50_CLASSES = {0: "dog", 1: "rooster"}


def make_esc50(root: Path) -> Path:
    """5 folds x 2 classes; fold 3's rooster clip is corrupt."""
    rows = []
    for fold in range(1, 6):
        for target, category in ESC50_CLASSES.items():
            src = 100000 + 10 * fold + target
            name = f"{fold}-{src}-A-{target}.wav"
            rows.append([name, fold, target, category, "True" if target == 0 else "False", src, "A"])
            if fold == 3 and target == 1:
                corrupt(root / "audio" / name)
            else:
                tone(root / "audio" / name, sr=44100)
    write_csv(root / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"],
              rows)
    return root


# ---------------------------------------------------------------- UrbanSound8K
US8K_CLASSES = {1: "car_horn", 3: "dog_bark"}


def make_urbansound8k(root: Path) -> Path:
    """One clip per fold (10); fold 2's clip is stereo at 22.05 kHz."""
    rows = []
    for fold in range(1, 11):
        class_id = 1 if fold % 2 else 3
        fs_id = 1000 + fold
        name = f"{fs_id}-{class_id}-0-{fold}.wav"
        rows.append([name, fs_id, 1.5, 1.7, 1 if fold < 6 else 2, fold, class_id, US8K_CLASSES[class_id]])
        if fold == 2:
            tone(root / "audio" / f"fold{fold}" / name, sr=22050, channels=2)
        else:
            tone(root / "audio" / f"fold{fold}" / name, sr=44100)
    write_csv(root / "metadata" / "UrbanSound8K.csv",
              ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"], rows)
    return root


# ---------------------------------------------------------------- FSD50K
FSD50K_DEV = [  # fname, labels, mids, split
    ("64760", "Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music",
     "/m/02sgy,/m/0342h,/m/0fx80y,/m/04szw,/m/04rlf", "train"),
    ("16399", "Bark,Dog,Domestic_animals_and_pets,Animal", "/m/05tny_,/m/0bt9lr,/m/068hy,/m/0jbk", "train"),
    ("16401", "Bark,Dog,Domestic_animals_and_pets,Animal", "/m/05tny_,/m/0bt9lr,/m/068hy,/m/0jbk", "train"),
    ("16402", "Bark,Dog,Domestic_animals_and_pets,Animal", "/m/05tny_,/m/0bt9lr,/m/068hy,/m/0jbk", "val"),
    ("40515", "Rain,Water", "/m/06mb1,/m/0838f", "val"),
]
FSD50K_EVAL = [
    ("37199", "Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music",
     "/m/02sgy,/m/0342h,/m/0fx80y,/m/04szw,/m/04rlf"),
    ("175151", "Rain,Water", "/m/06mb1,/m/0838f"),
]


def make_fsd50k(root: Path) -> Path:
    truth = root / "FSD50K.ground_truth"
    write_csv(truth / "dev.csv", ["fname", "labels", "mids", "split"], FSD50K_DEV)
    write_csv(truth / "eval.csv", ["fname", "labels", "mids"], FSD50K_EVAL)
    write_csv(truth / "vocabulary.csv", [], [(0, "Bark", "/m/05tny_")])
    for fname, *_ in FSD50K_DEV:
        tone(root / "FSD50K.dev_audio" / f"{fname}.wav", sr=44100)
    for fname, *_ in FSD50K_EVAL:
        tone(root / "FSD50K.eval_audio" / f"{fname}.wav", sr=44100)
    return root


# ---------------------------------------------------------------- VGGSound
VGGSOUND_ROWS = [  # youtube_id, start_seconds, label, split
    ("---g-f_I2yQ", 1, "people marching", "test"),
    ("--0PQM4-hqg", 30, "waterfall burbling", "train"),
    ("-0BKyt8iZ1I", 150, "cattle, bovinae cowbell", "train"),
    ("gone-video1", 10, "dog barking", "train"),
    ("zz9BOumDeCc", 0, "dog barking", "train"),
    ("gone-video2", 20, "people marching", "test"),
    ("zz9BOumDeCc", 0, "dog barking", "train"),  # a repeated row
]


def make_vggsound(root: Path) -> Path:
    """Six clips (one row repeated); two are gone, one exists as both WAV and FLAC, one is MP3, one stereo."""
    write_csv(root / "vggsound.csv", [], VGGSOUND_ROWS)
    tone(root / "audio" / "test" / "---g-f_I2yQ_000001.flac")
    tone(root / "audio" / "train" / "--0PQM4-hqg_000030.wav")
    tone(root / "audio" / "train" / "--0PQM4-hqg_000030.flac")
    tone(root / "audio" / "train" / "-0BKyt8iZ1I_000150.mp3", seconds=0.3, fmt="MP3")
    tone(root / "audio" / "train" / "zz9BOumDeCc_000000.wav", channels=2)
    return root


# ---------------------------------------------------------------- VoxCeleb1
VOXCELEB1_SPLIT = [
    "1 id10001/1zcIwhmdeo4/00001.wav",
    "1 id10001/1zcIwhmdeo4/00002.wav",
    "2 id10001/7w0IBEWc9Qw/00001.wav",
    "3 id10001/7w0IBEWc9Qw/00002.wav",
    "1 id10270/5r0dWxy17C8/00001.wav",
    "2 id10270/5r0dWxy17C8/00002.wav",
    "3 id10270/x6uYqmx31kE/00001.wav",
]


def make_voxceleb1(root: Path) -> Path:
    """id10001 under wav/, id10270 under vox1_test_wav/wav (the two archives side by side)."""
    (root / "iden_split.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "iden_split.txt").write_text("\n".join(VOXCELEB1_SPLIT) + "\n")
    for line in VOXCELEB1_SPLIT:
        rel = line.split()[1]
        base = root / "wav" if rel.startswith("id10001") else root / "vox1_test_wav" / "wav"
        tone(base / rel)
    return root


# ---------------------------------------------------------------- CREMA-D
CREMA_D_FILES = [
    "1001_DFA_ANG_XX.wav", "1001_IEO_HAP_HI.wav", "1002_DFA_SAD_XX.wav", "1003_TIE_NEU_XX.wav",
    "1004_ITS_FEA_XX.wav", "1005_IWW_DIS_XX.wav", "1006_DFA_ANG_LO.wav", "1076_MTI_HAP_XX.wav",
]


def make_crema_d(root: Path) -> Path:
    """Actors 1001-1006 and 1076; 1076_MTI_SAD_XX.wav is empty as in the release; one misnamed file."""
    for name in CREMA_D_FILES:
        tone(root / "AudioWAV" / name)
    empty_wav(root / "AudioWAV" / "1076_MTI_SAD_XX.wav")
    tone(root / "AudioWAV" / "1001_DFA_XYZ_XX.wav")  # not one of the six emotions
    return root


# ---------------------------------------------------------------- Speech Commands v0.02
SPEECH_COMMANDS_FILES = {
    "yes": ["004ae714_nohash_0", "004ae714_nohash_1", "0137b3f4_nohash_0", "0ab3b47d_nohash_0"],
    "no": ["012c8314_nohash_0", "0137b3f4_nohash_0", "0ab3b47d_nohash_0"],
    "up": ["00b01445_nohash_0", "0137b3f4_nohash_2"],
}
SPEECH_COMMANDS_VALID = ["yes/0137b3f4_nohash_0.wav", "no/0137b3f4_nohash_0.wav"]
SPEECH_COMMANDS_TEST = ["yes/0ab3b47d_nohash_0.wav", "no/0ab3b47d_nohash_0.wav", "up/0137b3f4_nohash_2.wav"]


def make_speech_commands(root: Path) -> Path:
    for word, stems in SPEECH_COMMANDS_FILES.items():
        for stem in stems:
            tone(root / word / f"{stem}.wav")
    tone(root / "_background_noise_" / "white_noise.wav", seconds=0.3)
    tone(root / "_background_noise_" / "running_tap.wav", seconds=0.3)
    (root / "_background_noise_" / "README.md").write_text("noise\n")
    (root / "validation_list.txt").write_text("\n".join(SPEECH_COMMANDS_VALID) + "\n")
    (root / "testing_list.txt").write_text("\n".join(SPEECH_COMMANDS_TEST) + "\n")
    (root / "LICENSE").write_text("CC-BY-4.0\n")
    return root


# ---------------------------------------------------------------- NSynth
NSYNTH_NOTES = {
    "train": [("bass_synthetic_033-022-050", "bass", 0, "synthetic", 22, 50),
              ("guitar_acoustic_010-060-100", "guitar", 3, "acoustic", 60, 100),
              ("keyboard_electronic_001-021-127", "keyboard", 4, "electronic", 21, 127)],
    "valid": [("bass_electronic_018-022-100", "bass", 0, "electronic", 22, 100)],
    "test": [("guitar_acoustic_014-064-075", "guitar", 3, "acoustic", 64, 75),
             ("vocal_acoustic_000-060-025", "vocal", 10, "acoustic", 60, 25)],
}


def make_nsynth(root: Path) -> Path:
    for split, notes in NSYNTH_NOTES.items():
        examples = {}
        for i, (note_str, family, family_id, source, pitch, velocity) in enumerate(notes):
            examples[note_str] = {
                "note": 1000 + i, "note_str": note_str, "instrument": 7, "instrument_str": note_str.rsplit("-", 2)[0],
                "pitch": pitch, "velocity": velocity, "sample_rate": 16000, "qualities": [0] * 10,
                "qualities_str": ["bright"] if i == 0 else [], "instrument_family": family_id,
                "instrument_family_str": family, "instrument_source": 1, "instrument_source_str": source,
            }
            tone(root / f"nsynth-{split}" / "audio" / f"{note_str}.wav", freq=440.0 * 2 ** ((pitch - 69) / 12))
        (root / f"nsynth-{split}" / "examples.json").write_text(json.dumps(examples, indent=1))
    return root


# ---------------------------------------------------------------- GTZAN
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


def make_gtzan_marsyas(root: Path, indices=(0, 15)) -> Path:
    """The original release: genres/<genre>/<genre>.000NN.au at 22.05 kHz, plus the .mf lists."""
    for genre in GTZAN_GENRES:
        for index in indices:
            tone(root / "genres" / genre / f"{genre}.{index:05d}.au", sr=22050)
    (root / "genres" / "input.mf").write_text("blues/blues.00000.au\tblues\n")
    return root


def make_gtzan_kaggle(root: Path) -> Path:
    """The Kaggle copy: Data/genres_original/<genre>/<genre>.000NN.wav with jazz.00054.wav corrupt."""
    base = root / "Data" / "genres_original"
    for genre in GTZAN_GENRES:
        for index in (0, 54):
            path = base / genre / f"{genre}.{index:05d}.wav"
            if genre == "jazz" and index == 54:
                corrupt(path)
            else:
                tone(path, sr=22050)
    write_csv(root / "Data" / "features_30_sec.csv", ["filename", "length", "label"], [["blues.00000.wav", 1, "blues"]])
    return root


# ---------------------------------------------------------------- MagnaTagATune
MTAT_TAGS = ["guitar", "classical", "slow", "techno", "strings", "drums"]
MTAT_CLIPS = [  # clip_id, mp3_path, positive tags
    (2, "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-0-29.mp3",
     {"guitar", "classical", "strings"}),
    (6, "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3", {"classical", "slow"}),
    (10, "0/jacob_heringman-black_cow-01-bakfark_fantasia-0-29.mp3", {"guitar", "techno"}),
    (11, "0/jacob_heringman-black_cow-01-bakfark_fantasia-30-59.mp3", {"classical", "strings"}),
    (12, "a/tilopa-turkishauch-01-oh_mama-0-29.mp3", {"drums"}),
    (15, "c/jeff_wahl-guitarscapes-01-spanish_dance-0-29.mp3", {"classical", "guitar"}),
    (20, "d/kitka-wintersongs-01-kalanda-0-29.mp3", {"slow", "strings"}),
    (21, "b/rapoon-easterly_6_or_7-01-our_world-0-29.mp3", set()),
]


def make_mtat(root: Path, missing_clip: int = None) -> Path:
    """annotations_final.csv (tab-separated, quoted) and real MP3s under mp3/<d>/."""
    rows = [[clip_id, *("1" if tag in tags else "0" for tag in MTAT_TAGS), path] for clip_id, path, tags in MTAT_CLIPS]
    write_csv(root / "annotations_final.csv", ["clip_id", *MTAT_TAGS, "mp3_path"], rows, delimiter="\t",
              quoting=csv.QUOTE_ALL)
    for clip_id, path, _ in MTAT_CLIPS:
        if clip_id != missing_clip:
            tone(root / "mp3" / path, seconds=0.3, fmt="MP3")
    return root
