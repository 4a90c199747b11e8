"""Music data sets: NSynth, GTZAN genre, MagnaTagATune top-k tagging."""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from audiotext.data.schema import id_origin

from .common import (
    Item, LayoutError, MissingFileError, PathLike, SkipLog, check_listed_audio, read_table, require_dir,
    require_file, to_int, write_splits,
)

log = logging.getLogger(__name__)

NSYNTH_SPLITS = ("train", "valid", "test")
NSYNTH_FIELDS = ("instrument_family_str", "pitch")


def prepare_nsynth(corpus_dir: PathLike, output_dir: PathLike, *, splits: Sequence[str] = NSYNTH_SPLITS,
                   num_jobs: int = 1, sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """NSynth (magenta.tensorflow.org/datasets/nsynth, the json/wav archives).

    Layout: ``nsynth-{train,valid,test}/examples.json`` (a dict note_str -> note attributes)
    and ``nsynth-<split>/audio/<note_str>.wav`` (4 s, 16 kHz). ``splits`` selects which of
    the three archives to read (all three by default; each selected one must exist).
    label = ``instrument_family_str``; extras ``pitch`` (MIDI number), ``instrument_family``,
    ``velocity``, ``instrument_str``, ``instrument_source_str``, ``qualities_str``, so the
    pitch task probes ``custom['pitch']``.
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    unknown = [s for s in splits if s not in NSYNTH_SPLITS]
    if unknown or not splits:
        raise ValueError(f"NSynth splits must be a non-empty subset of {NSYNTH_SPLITS}, got {list(splits)}")
    items: List[Item] = []
    for split in splits:
        split_dir = root / f"nsynth-{split}"
        meta = require_file(split_dir / "examples.json", f"NSynth {split} metadata",
                            "pass the directory that holds the extracted nsynth-{train,valid,test}/ folders")
        try:
            examples = json.loads(meta.read_text())
        except json.JSONDecodeError as err:
            raise LayoutError(f"{meta}: not valid JSON ({err})") from None
        if not isinstance(examples, dict):
            raise LayoutError(f"{meta}: expected a JSON object note_str -> attributes")
        batch = []
        for note_str, note in examples.items():
            missing = [key for key in NSYNTH_FIELDS if key not in note]
            if missing:
                raise LayoutError(f"{meta}: note {note_str!r} lacks {', '.join(missing)}")
            custom = {"label": str(note["instrument_family_str"]), "pitch": int(note["pitch"])}
            for key in ("instrument_family", "velocity", "instrument_str", "instrument_source_str", "qualities_str"):
                if key in note:
                    custom[key] = note[key]
            batch.append(Item(split, split_dir / "audio" / f"{note_str}.wav", f"nsynth-{note_str}", custom))
        check_listed_audio(batch, meta)
        items.extend(batch)
    return write_splits("nsynth", "music", items, output_dir, split_order=tuple(splits),
                        num_jobs=num_jobs, sampling_rate=sampling_rate)


GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
# the marsyas release (genres.tar.gz) has genres/<genre>/<genre>.000NN.au; the widely used
# Kaggle copy has genres_original/<genre>/<genre>.000NN.wav (with jazz.00054.wav corrupt)
GTZAN_ROOTS = ("genres", "genres_original", "Data/genres_original", ".")
GTZAN_EXTENSIONS = ("wav", "au")  # wav wins when a clip exists in both
GTZAN_FOLDS = 10
GTZAN_SPLIT_FILES = {"train": "train_filtered.txt", "valid": "valid_filtered.txt", "test": "test_filtered.txt"}


def gtzan_fold(index: int) -> int:
    """Fold of GTZAN clip ``<genre>.000NN``: ``NN // 10 + 1``, i.e. 10 consecutive clips per genre per fold.

    GTZAN has no official split; consecutive clip numbers often share an artist, so
    contiguous blocks leak fewer artists across folds than a round-robin deal would
    (they do not remove artist repetition; see Sturm 2013).
    """
    return index // 10 + 1


def _gtzan_genres_dir(root: Path) -> Path:
    for sub in GTZAN_ROOTS:
        candidate = root / sub
        if (candidate / GTZAN_GENRES[0]).is_dir():
            return candidate
    looked = ", ".join(str(root / sub / GTZAN_GENRES[0]) for sub in GTZAN_ROOTS[1:])
    raise MissingFileError(f"GTZAN genre directory not found: {root / GTZAN_ROOTS[0] / GTZAN_GENRES[0]} "
                           f"(also looked for {looked})")


def _read_gtzan_split(split_dir: Path, available: Dict[Tuple[str, str], Path], genres_dir: Path
                      ) -> Dict[Tuple[str, str], str]:
    assigned: Dict[Tuple[str, str], str] = {}
    for split, name in GTZAN_SPLIT_FILES.items():
        list_file = require_file(split_dir / name, f"GTZAN {split} list")
        for line, text in enumerate(list_file.read_text().splitlines(), start=1):
            rel = text.strip()
            if not rel:
                continue
            genre, _, file_name = rel.partition("/")
            key = (genre, file_name.rsplit(".", 1)[0])
            if key not in available:
                raise MissingFileError(f"audio file listed in {list_file} not found: {genres_dir / rel}")
            if key in assigned:
                raise LayoutError(f"{list_file}:{line}: {rel} is also in the {assigned[key]} list")
            assigned[key] = split
    return assigned


def prepare_gtzan(corpus_dir: PathLike, output_dir: PathLike, *, split_dir: Optional[PathLike] = None,
                  num_jobs: int = 1, sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """GTZAN genre collection (10 genres x 100 clips of 30 s, 22.05 kHz).

    Layout: ``genres/<genre>/<genre>.000NN.au`` (original marsyas release) or
    ``genres_original/<genre>/<genre>.000NN.wav`` (Kaggle copy; ``Data/genres_original`` and a
    ``corpus_dir`` that directly holds the genre folders also work). label = genre.

    Default splits ``fold1``..``fold10`` by clip number (:func:`gtzan_fold`), fold also in
    ``custom['fold']``. With ``split_dir`` holding the fault-filtered split lists
    ``train_filtered.txt``, ``valid_filtered.txt``, ``test_filtered.txt`` (Kereliuk et al.
    2015, lines ``<genre>/<genre>.000NN.wav``; 443/197/290 clips) the splits are
    train/valid/test instead and unlisted clips are left out (counted ``not_in_split``).
    Unreadable clips (jazz.00054.wav of the Kaggle copy) are skipped and counted.
    Extras: ``clip_index``.
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    genres_dir = _gtzan_genres_dir(root)
    name_re = re.compile(r"^([a-z]+)\.(\d{5})\.(" + "|".join(GTZAN_EXTENSIONS) + r")$")
    skipped = SkipLog()
    available: Dict[Tuple[str, str], Path] = {}
    for genre in GTZAN_GENRES:
        genre_dir = require_dir(genres_dir / genre, f"GTZAN {genre} directory")
        for path in sorted(genre_dir.iterdir()):
            match = name_re.match(path.name)
            if match is None or match.group(1) != genre:
                if not path.name.startswith("."):
                    skipped.add("other_files", str(path), warn=False)
                continue
            key = (genre, path.name.rsplit(".", 1)[0])
            if key in available:
                keep, drop = sorted((available[key], path),
                                    key=lambda p: GTZAN_EXTENSIONS.index(p.suffix[1:]))
                available[key] = keep
                skipped.add("duplicate_format", str(drop), f"using {keep.name}", warn=False)
            else:
                available[key] = path
    if not available:
        raise MissingFileError(f"no GTZAN clips (<genre>.000NN.wav|au) under {genres_dir}")
    assigned = _read_gtzan_split(Path(split_dir), available, genres_dir) if split_dir is not None else None
    items = []
    for (genre, stem), path in sorted(available.items()):
        index = int(stem.split(".")[1])
        fold = gtzan_fold(index)
        if assigned is None:
            split = f"fold{fold}"
        elif (genre, stem) in assigned:
            split = assigned[(genre, stem)]
        else:
            skipped.add("not_in_split", str(path), warn=False)
            continue
        items.append(Item(split, path, f"gtzan-{stem}", {"label": genre, "fold": fold, "clip_index": index}))
    order = [f"fold{k}" for k in range(1, GTZAN_FOLDS + 1)] if assigned is None else list(GTZAN_SPLIT_FILES)
    rule = "fold = clip_number // 10 + 1" if assigned is None else f"filtered split lists from {split_dir}"
    return write_splits("gtzan", "music", items, output_dir, split_order=order, skipped=skipped,
                        extra_summary={"split_rule": rule}, num_jobs=num_jobs, sampling_rate=sampling_rate)


MTAT_ANNOTATIONS = "annotations_final.csv"
MTAT_SPLIT_DIRS = {**{d: "train" for d in "0123456789ab"}, "c": "valid", **{d: "test" for d in "def"}}


def select_top_tags(tag_counts: Dict[str, int], tag_order: Sequence[str], top_k: int) -> List[str]:
    """The ``top_k`` most frequent tags; ties keep the annotation file's column order."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    position = {tag: i for i, tag in enumerate(tag_order)}
    ranked = sorted(tag_order, key=lambda tag: (-tag_counts.get(tag, 0), position[tag]))
    return ranked[:top_k]


def prepare_mtat(corpus_dir: PathLike, output_dir: PathLike, *, top_k: int = 50, keep_untagged: bool = False,
                 num_jobs: int = 1, sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """MagnaTagATune top-``top_k`` tagging (mirg.city.ac.uk/codeapps/the-magnatagatune-dataset).

    Layout: ``annotations_final.csv`` (tab-separated, fields usually double-quoted: ``clip_id``,
    188 tag columns of 0/1, ``mp3_path`` such as ``f/artist-album-01-title-0-29.mp3``) and the
    clips at ``mp3/<mp3_path>`` (or ``<mp3_path>`` directly under ``corpus_dir``, as the
    mp3.zip.00* archives unpack); any format lhotse reads is accepted at that path.

    The ``top_k`` tags with most positive clips over the whole file are kept (ties: column
    order); clips with none of them are left out (counted ``no_top_tags``) unless
    ``keep_untagged``. Split by the clip's first-level directory (the convention of
    Dieleman & Schrauwen 2014 used by most later work): ``0``-``b`` train, ``c`` valid,
    ``d``-``f`` test. ``labels`` lists the clip's top-k tags in column order.
    The usual extra filter of clips shorter than 29.1 s is not applied. Extras: ``clip_id``.
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    annotations = require_file(root / MTAT_ANNOTATIONS, "MagnaTagATune annotations",
                               "pass the directory that holds annotations_final.csv")
    audio_root = root / "mp3" if (root / "mp3").is_dir() else root
    header, rows = read_table(annotations, ("clip_id", "mp3_path"), delimiter="\t")
    tag_order = [name for name in header if name not in ("clip_id", "mp3_path")]
    if not tag_order:
        raise LayoutError(f"{annotations}: no tag columns between clip_id and mp3_path")
    counts: Counter = Counter()
    parsed = []
    for line, row in rows:
        positives = []
        for tag in tag_order:
            value = row[tag].strip()
            if value not in ("0", "1"):
                raise LayoutError(f"{annotations}:{line}: tag {tag!r} should be 0 or 1, got {value!r}")
            if value == "1":
                positives.append(tag)
        counts.update(positives)
        parsed.append((line, row, positives))
    if top_k > len(tag_order):
        log.warning("%s has %d tags, fewer than top_k=%d: keeping all", annotations, len(tag_order), top_k)
    top = select_top_tags(counts, tag_order, top_k)
    keep = set(top)
    skipped = SkipLog()
    items = []
    for line, row, positives in parsed:
        rel = row["mp3_path"].strip()
        clip_id = to_int(row["clip_id"], annotations, line, "clip_id")
        first = rel.split("/")[0]
        split = MTAT_SPLIT_DIRS.get(first.lower()) if "/" in rel else None
        if split is None:
            raise LayoutError(f"{annotations}:{line}: mp3_path should start with a directory 0-9 or a-f, got {rel!r}")
        labels = [tag for tag in positives if tag in keep]
        if not labels and not keep_untagged:
            skipped.add("no_top_tags", rel, warn=False)
            continue
        items.append(Item(split, audio_root / rel, f"mtat-{clip_id}", {"labels": labels, "clip_id": clip_id},
                          origin=id_origin("mtt", str(clip_id))))
    check_listed_audio(items, annotations)
    return write_splits("mtat", "music", items, output_dir, split_order=("train", "valid", "test"),
                        skipped=skipped, num_jobs=num_jobs, sampling_rate=sampling_rate,
                        extra_summary={"top_k": top_k, "tags": top, "tag_counts": {t: counts[t] for t in top},
                                       "split_rule": "mp3_path directory 0-b train, c valid, d-f test"})
