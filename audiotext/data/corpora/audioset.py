"""AudioSet (Gemmeke et al., ICASSP 2017): 10-second YouTube segments labelled with the classes of
the AudioSet ontology; the data of the supervised tagger the paper initialises its encoder from.

Layout as distributed (research.google.com/audioset/download.html,
``http://storage.googleapis.com/us_audioset/youtube_corpus/v1/csv/``)::

    balanced_train_segments.csv     22,160 segments   subset balanced_train   -> split train
    unbalanced_train_segments.csv 2,041,789 segments  subset unbalanced_train -> split train
    eval_segments.csv               20,371 segments   subset eval             -> split test
    class_labels_indices.csv        index,mid,display_name (527 classes)

Each segment list has three ``#`` header lines, then ``YTID, start_seconds, end_seconds,
"mid,mid,..."`` (read by :func:`~audiotext.data.corpora.youtube.iter_segments`, shared with the
AudioSetCaps preparer). The files are looked for in the corpus root, then in ``metadata/`` (the
PANNs layout). ``class_labels_indices.csv`` is the label vocabulary: a row's MIDs are mapped to
their **display names** (``/m/09x0r`` -> ``Speech``), which the clip's every supervision carries
as ``custom["labels"]`` (a list, in the row's order). A MID not in the vocabulary is counted
(summary ``notes.labels_unknown_mid``), logged with a few file:line examples, and left out of the
labels; a clip left with no known label has no caption either, so it is counted as
``clips_without_caption`` and not written.

AudioSet has no captions. So that the clips go through the same accounting and manifests as the
caption corpora, each clip gets one **derived** tag caption, the display names joined by
``", "`` (style ``tags``), e.g. ``"Speech, Male speech, man speaking"``.

``OUT_DIR/labels.txt`` (one display name per line, in the index order of
``class_labels_indices.csv``) is written beside the manifests: the ``tagging`` task's
``task_conf.label_file``.

Audio is not distributed. A clip is looked up by the names download tools give it: the AudioSet
form ``Y<ytid>_<start>.000_<end>.000`` (PANNs: ``audios/balanced_train_segments/Y...wav``),
``Y<ytid>``, ``<ytid>``, ``<ytid>_<start>``... (:func:`~audiotext.data.corpora.youtube.youtube_audio_names`;
the video id alone is safe: AudioSet takes one segment per video), searched recursively.

``origin_id`` is ``yt:<ytid>:<start ms>``, the key AudioCaps, AudioSetCaps, MusicCaps and the
other AudioSet-derived corpora share, so curation recognises the same segment across them. The
cut id is ``audioset_<ytid>_<start ms>``; ``cut.custom["audioset_subset"]`` names the list the
segment came from. Domain ``sound``.

Subsets (``--subsets``): ``balanced_train``, ``unbalanced_train``, ``eval``; the default is
``balanced_train,eval`` (the unbalanced list is 2M segments); ``all`` takes the three.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.corpora.youtube import (
    AUDIOSET_LISTS_URL, clip_key, clip_origin, iter_segments, youtube_audio_names,
)
from audiotext.data.layout import LayoutError, MissingFileError, iter_table, to_int

log = logging.getLogger(__name__)

SUBSET_FILES = (
    ("balanced_train", "balanced_train_segments.csv", "train"),
    ("unbalanced_train", "unbalanced_train_segments.csv", "train"),
    ("eval", "eval_segments.csv", "test"),
)
LABELS_FILE = "class_labels_indices.csv"
LABEL_COLUMNS = ("index", "mid", "display_name")
VOCABULARY_NAME = "labels.txt"  # written into OUT_DIR: the tagging task's label_file
SEARCH_DIRS = ("", "metadata")
SHOWN_UNKNOWN = 5  # unknown MIDs named in the log (the count is complete)


def read_class_labels(path: Path) -> List[Tuple[str, str]]:
    """``(mid, display_name)`` per class of ``class_labels_indices.csv``, in index order.

    LayoutError naming the file and line for a missing column, an index that is not the row's
    position (0, 1, 2, ...), an empty MID or name, or a MID or name listed twice."""
    out: List[Tuple[str, str]] = []
    seen_mid: Dict[str, int] = {}
    seen_name: Dict[str, int] = {}
    for line, row in iter_table(path, LABEL_COLUMNS):
        index = to_int(row["index"], path, line, "index")
        mid, name = row["mid"].strip(), row["display_name"].strip()
        if index != len(out):
            raise LayoutError(f"{path}:{line}: index {index}, expected {len(out)} (rows in index order from 0)")
        if not mid or not name:
            raise LayoutError(f"{path}:{line}: empty mid or display_name")
        for value, seen, what in ((mid, seen_mid, "mid"), (name, seen_name, "display_name")):
            if value in seen:
                raise LayoutError(f"{path}:{line}: {what} {value!r} is also on line {seen[value]}")
            seen[value] = line
        out.append((mid, name))
    if not out:
        raise LayoutError(f"{path}: no class listed")
    return out


@register_corpus("audioset")
class AudioSet(CorpusPreparer):
    subsets = tuple(name for name, _, _ in SUBSET_FILES)
    default_subsets = ("balanced_train", "eval")

    def __init__(self, conf: "AudioSet.Config"):
        super().__init__(conf)
        self.classes: List[Tuple[str, str]] = []  # (mid, display name) in index order, once clips() has run
        self.unknown_mids: Counter = Counter()  # MID -> rows naming it

    @staticmethod
    def find_file(corpus_dir: Path, name: str) -> Path:
        """``corpus_dir/name`` or ``corpus_dir/metadata/name``; MissingFileError naming both."""
        for sub in SEARCH_DIRS:
            path = corpus_dir / sub / name if sub else corpus_dir / name
            if path.is_file():
                return path
        where = " or ".join(str(corpus_dir / sub / name if sub else corpus_dir / name) for sub in SEARCH_DIRS)
        raise MissingFileError(f"AudioSet file not found: {where} (Google's AudioSet metadata, {AUDIOSET_LISTS_URL})")

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        self.classes = read_class_labels(self.find_file(corpus_dir, LABELS_FILE))
        names = dict(self.classes)
        # every file is found before the first clip, so a missing one stops the run at once
        paths = [(subset, self.find_file(corpus_dir, name), split) for subset, name, split in SUBSET_FILES
                 if subset in subsets]
        for subset, path, split in paths:
            unknown_rows: List[str] = []
            for segment in iter_segments(path):
                labels: List[str] = []
                for mid in segment.mids:
                    if mid in names:
                        if names[mid] not in labels:
                            labels.append(names[mid])
                    else:
                        self.unknown_mids[mid] += 1
                        self.notes["labels_unknown_mid"] += 1
                        if len(unknown_rows) < SHOWN_UNKNOWN:
                            unknown_rows.append(f"{path.name}:{segment.line} {mid}")
                duration = segment.end - segment.start if segment.end > segment.start else 10.0
                yield ClipEntry(
                    split=split, key=clip_key(segment.youtube_id, segment.start),
                    origin_id=clip_origin(segment.youtube_id, segment.start), domain="sound", captions=[],
                    derived=[(", ".join(labels), "tags")] if labels else [],
                    audio=youtube_audio_names(segment.youtube_id, segment.start, duration=duration),
                    custom={"audioset_subset": subset}, supervision_custom={"labels": labels},
                )
            if unknown_rows:
                log.warning("audioset: %s names label MIDs that are not in %s; they are left out of the labels "
                            "(counted in the summary's notes.labels_unknown_mid), e.g. %s", path, LABELS_FILE,
                            ", ".join(unknown_rows))

    def write_extra(self, out_dir: Path) -> Optional[Path]:
        """Write ``out_dir/labels.txt``: one display name per line, in index order."""
        path = Path(out_dir) / VOCABULARY_NAME
        path.write_text("".join(f"{name}\n" for _, name in self.classes), encoding="utf-8")
        return path
