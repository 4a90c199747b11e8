"""Speech data sets: VoxCeleb1 speaker identification, CREMA-D emotion, Speech Commands v2."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Set

from audiotext.data.schema import id_origin

from .common import (
    Item, LayoutError, MissingFileError, PathLike, SkipLog, check_listed_audio, require_dir, require_file,
    write_splits,
)

VOXCELEB1_SPLITS = {"1": "train", "2": "valid", "3": "test"}
# where the listed paths are looked up, in order: one merged wav/ folder (the usual layout after
# unzipping vox1_dev_wav.zip and vox1_test_wav.zip into one place), or the two archives side by side
VOXCELEB1_AUDIO_ROOTS = ("wav", "vox1_dev_wav/wav", "vox1_test_wav/wav")


def prepare_voxceleb1(corpus_dir: PathLike, output_dir: PathLike, *, num_jobs: int = 1,
                      sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """VoxCeleb1 speaker identification (1,251 speakers).

    Layout: ``iden_split.txt`` (lines ``<1|2|3> idXXXXX/<video>/<utt>.wav``; 1 train, 2 valid,
    3 test) and ``wav/idXXXXX/<video>/<utt>.wav`` (16 kHz WAV); the dev and test archives'
    ``wav`` folders may also sit side by side as ``vox1_dev_wav/wav`` and
    ``vox1_test_wav/wav``. label = speaker id. Extras: ``speaker``, ``video``, ``utterance``.
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    split_file = require_file(root / "iden_split.txt", "VoxCeleb1 identification split",
                              "download iden_split.txt from the VoxCeleb1 page into the corpus directory")
    audio_roots = [root / sub for sub in VOXCELEB1_AUDIO_ROOTS if (root / sub).is_dir()]
    if not audio_roots:
        raise MissingFileError(f"VoxCeleb1 audio directory not found: {root / 'wav'} (also looked for "
                               f"{', '.join(str(root / sub) for sub in VOXCELEB1_AUDIO_ROOTS[1:])})")
    items = []
    for line, text in enumerate(split_file.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        parts = text.split()
        if len(parts) != 2 or parts[0] not in VOXCELEB1_SPLITS:
            raise LayoutError(f"{split_file}:{line}: expected '<1|2|3> idXXXXX/<video>/<utt>.wav', got {text!r}")
        rel = parts[1]
        pieces = rel.split("/")
        if len(pieces) != 3:
            raise LayoutError(f"{split_file}:{line}: expected a path speaker/video/utterance.wav, got {rel!r}")
        speaker, video, utt = pieces
        path = next((r / rel for r in audio_roots if (r / rel).is_file()), audio_roots[0] / rel)
        items.append(Item(VOXCELEB1_SPLITS[parts[0]], path, f"voxceleb1-{speaker}-{video}-{Path(utt).stem}", {
            "label": speaker, "speaker": speaker, "video": video, "utterance": Path(utt).stem,
        }, origin=id_origin("voxceleb", f"{speaker}/{video}/{Path(utt).stem}")))
    check_listed_audio(items, split_file)
    return write_splits("voxceleb1", "speech", items, output_dir, split_order=("train", "valid", "test"),
                        num_jobs=num_jobs, sampling_rate=sampling_rate)


CREMA_D_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral",
                    "SAD": "sad"}
CREMA_D_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav$")
CREMA_D_FOLDS = 5


def crema_d_fold(actor_id: int) -> int:
    """Speaker-disjoint fold of a CREMA-D actor: ``(actor_id - 1001) % 5 + 1``.

    Actors 1001..1091 are dealt round-robin in id order, so fold 1 has 19 actors and
    folds 2-5 have 18 each; a pure function of the id, independent of which files exist.
    """
    return (actor_id - 1001) % CREMA_D_FOLDS + 1


def prepare_crema_d(corpus_dir: PathLike, output_dir: PathLike, *, num_jobs: int = 1,
                    sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """CREMA-D (github.com/CheyneyComputerScience/CREMA-D) emotion recognition.

    Layout: ``AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav``, e.g. ``1001_DFA_ANG_XX.wav``
    (16 kHz). label = emotion code (ANG, DIS, FEA, HAP, NEU, SAD). CREMA-D has no official
    split: splits ``fold1``..``fold5`` are speaker-disjoint, fold = ``(actor - 1001) % 5 + 1``
    (see :func:`crema_d_fold`). Files whose name does not follow the pattern are skipped and
    counted (``unparsed_name``). The distributed ``1076_MTI_SAD_XX.wav`` holds no audio and is
    skipped as ``empty`` (or ``unreadable``). Extras: ``emotion`` (word), ``speaker``,
    ``sentence``, ``intensity`` (LO, MD, HI, XX = unspecified).
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    audio_dir = require_dir(root / "AudioWAV", "CREMA-D audio directory",
                            "pass the CREMA-D checkout that holds AudioWAV/")
    skipped = SkipLog()
    items = []
    for path in sorted(audio_dir.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        match = CREMA_D_NAME.match(path.name)
        if match is None or match.group(3) not in CREMA_D_EMOTIONS:
            skipped.add("unparsed_name", str(path), "not <ActorID>_<Sentence>_<Emotion>_<Level>.wav")
            continue
        actor, sentence, emotion, level = match.groups()
        fold = crema_d_fold(int(actor))
        items.append(Item(f"fold{fold}", path, f"crema_d-{path.stem}", {
            "label": emotion, "fold": fold, "emotion": CREMA_D_EMOTIONS[emotion], "speaker": actor,
            "sentence": sentence, "intensity": level,
        }))
    if not items:
        raise MissingFileError(f"no CREMA-D clips (<ActorID>_<Sentence>_<Emotion>_<Level>.wav) in {audio_dir}")
    return write_splits("crema_d", "speech", items, output_dir,
                        split_order=[f"fold{k}" for k in range(1, CREMA_D_FOLDS + 1)], skipped=skipped,
                        extra_summary={"fold_rule": "fold = (actor_id - 1001) % 5 + 1"},
                        num_jobs=num_jobs, sampling_rate=sampling_rate)


# the 35 words of Speech Commands v0.02 (the standard 35-way task; v0.01 had the first 30)
SPEECH_COMMANDS_WORDS = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward", "four", "go", "happy",
    "house", "learn", "left", "marvin", "nine", "no", "off", "on", "one", "right", "seven", "sheila", "six",
    "stop", "three", "tree", "two", "up", "visual", "wow", "yes", "zero",
)
BACKGROUND_NOISE_DIR = "_background_noise_"


def _read_list(list_file: Path, root: Path, words: Set[str], skipped: SkipLog) -> Set[str]:
    entries: Set[str] = set()
    for line, text in enumerate(list_file.read_text().splitlines(), start=1):
        rel = text.strip()
        if not rel:
            continue
        if rel.split("/")[0] not in words:
            skipped.add("listed_outside_task", f"{list_file.name}:{line}", rel, warn=False)
            continue
        if not (root / rel).is_file():
            raise MissingFileError(f"audio file listed in {list_file} not found: {root / rel}")
        entries.add(rel)
    return entries


def prepare_speech_commands(corpus_dir: PathLike, output_dir: PathLike, *, num_jobs: int = 1,
                            sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """Speech Commands v0.02, the standard 35-word task.

    Layout: ``<word>/<speaker>_nohash_<n>.wav`` (1 s, 16 kHz), ``validation_list.txt`` and
    ``testing_list.txt`` (paths relative to the corpus directory); every other clip of the
    35 words is training data. ``_background_noise_/`` and any folder that is not one of
    the 35 words are left out (counted as ``excluded_files``). Splits train/valid/test;
    label = word. Extras: ``speaker``, ``utterance`` (the ``<n>``).
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    hint = "pass the extracted speech_commands_v0.02 directory"
    valid_list = require_file(root / "validation_list.txt", "Speech Commands validation list", hint)
    test_list = require_file(root / "testing_list.txt", "Speech Commands testing list", hint)
    words = set(SPEECH_COMMANDS_WORDS)
    skipped = SkipLog()
    valid = _read_list(valid_list, root, words, skipped)
    test = _read_list(test_list, root, words, skipped)
    both = sorted(valid & test)
    if both:
        raise LayoutError(f"{both[0]} is listed in both {valid_list} and {test_list}")
    items: List[Item] = []
    present_words = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in words:
            for path in sorted(folder.glob("*.wav")):
                reason = "background_noise" if folder.name == BACKGROUND_NOISE_DIR else "excluded_files"
                skipped.add(reason, str(path), warn=False)
            continue
        present_words.append(folder.name)
        for path in sorted(folder.glob("*.wav")):
            rel = f"{folder.name}/{path.name}"
            split = "valid" if rel in valid else "test" if rel in test else "train"
            speaker, sep, utt = path.stem.partition("_nohash_")
            items.append(Item(split, path, f"speech_commands-{folder.name}-{path.stem}", {
                "label": folder.name, "speaker": speaker if sep else "", "utterance": utt if sep else path.stem,
            }))
    if not items:
        raise MissingFileError(f"no Speech Commands word folders (e.g. {root / 'yes'}) in {root}")
    absent = [w for w in SPEECH_COMMANDS_WORDS if w not in present_words]
    return write_splits("speech_commands", "speech", items, output_dir, split_order=("train", "valid", "test"),
                        skipped=skipped, extra_summary={"absent_words": absent},
                        num_jobs=num_jobs, sampling_rate=sampling_rate)
