"""MusicCaps (Agostinelli et al. 2023, MusicLM, arXiv 2301.11325): musicians' captions of 10-s AudioSet clips.

Layout as distributed (Kaggle ``googleai/musiccaps``, mirrored as ``google/MusicCaps`` on the
Hugging Face Hub): one file, ``musiccaps-public.csv``, one row per clip (5,521), with columns
``ytid, start_s, end_s, audioset_positive_labels, aspect_list, caption, author_id,
is_balanced_subset, is_audioset_eval``. ``aspect_list`` is a Python list literal
(``"['low quality', 'sustained strings melody']"``); the booleans are written ``True``/``False``.

The audio is not distributed: download scripts save each clip as ``<ytid>.wav`` (the Hugging Face
card's script), ``[<ytid>]-[<start>-<end>]`` (the audioset-downloader scripts used for MusicCaps),
or the AudioSet/AudioCaps forms (``Y<ytid>_<start>.000_<end>.000``, ``<ytid>_<start>``...); every
form is searched, the most specific first.

``origin_id``: ``yt:<ytid>:<start ms>`` (shared with AudioSet, AudioCaps and the other
AudioSet-derived corpora). Splits: ``is_audioset_eval`` true -> ``test`` (the clips from AudioSet's
eval segments, the MusicCaps evaluation set), else ``train``; MusicCaps has no validation split.
Domain ``music``. The ``caption`` is one ``human`` caption; the aspect list becomes one derived
``tags`` caption (``low quality, sustained strings melody``; an empty list gives none).
``audioset_positive_labels``, ``author_id`` and ``is_balanced_subset`` are not used. A clip listed
on several rows (same ``ytid`` and start) is one clip with the captions of all its rows.

Sources: the column names from the dataset card (Hugging Face ``google/MusicCaps``, which types the
two flags as bool); ``True``/``False`` as pandas writes bools, which scripts compare with
``== True`` (``1``/``0`` are accepted too); the file names from the download scripts named above.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

from audiotext.data.corpora.audiocaps import youtube_audio_names
from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, iter_table, require_file, to_float
from audiotext.data.schema import youtube_origin

CSV_NAME = "musiccaps-public.csv"
COLUMNS = ("ytid", "start_s", "end_s", "aspect_list", "caption", "is_audioset_eval")
TRUE, FALSE = ("true", "1"), ("false", "0")


def parse_aspects(value: str, path: Path, line: int) -> List[str]:
    """The aspects of an ``aspect_list`` field, stripped, empty ones left out."""
    text = (value or "").strip()
    if not text:
        return []
    try:
        aspects = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise LayoutError(f"{path}:{line}: column 'aspect_list' should be a Python list literal, "
                          f"got {text[:80]!r}") from None
    if not isinstance(aspects, (list, tuple)) or not all(isinstance(a, str) for a in aspects):
        raise LayoutError(f"{path}:{line}: column 'aspect_list' should be a list of strings, got {text[:80]!r}")
    return [a.strip() for a in aspects if a.strip()]


def to_bool(value: str, path: Path, line: int, column: str) -> bool:
    text = (value or "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise LayoutError(f"{path}:{line}: column {column!r} should be True or False, got {value!r}")


def musiccaps_audio_names(ytid: str, start: float, end: float) -> List[str]:
    """File stems MusicCaps download scripts give a clip, most specific first."""
    names = [f"[{ytid}]-[{int(start)}-{int(end)}]"] + youtube_audio_names(ytid, start, end - start) + [f"[{ytid}]"]
    return list(dict.fromkeys(names))


@register_corpus("musiccaps")
class MusicCaps(CorpusPreparer):
    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        path = require_file(corpus_dir / CSV_NAME, "MusicCaps captions",
                            "musiccaps-public.csv from kaggle.com/datasets/googleai/musiccaps")
        # (ytid, start) -> the clip's fields, its caption slots and aspects, in file order
        clips: Dict[Tuple[str, float], dict] = {}
        for line, row in iter_table(path, COLUMNS):
            ytid = row["ytid"].strip()
            if not ytid:
                raise LayoutError(f"{path}:{line}: empty ytid")
            start = to_float(row["start_s"], path, line, "start_s")
            end = to_float(row["end_s"], path, line, "end_s")
            if end <= start:
                raise LayoutError(f"{path}:{line}: end_s {row['end_s']!r} is not after start_s {row['start_s']!r}")
            is_eval = to_bool(row["is_audioset_eval"], path, line, "is_audioset_eval")
            aspects = parse_aspects(row["aspect_list"], path, line)
            clip = clips.get((ytid, start))
            if clip is None:
                clip = clips[(ytid, start)] = {"end": end, "test": is_eval, "captions": [], "tags": []}
            elif clip["test"] != is_eval:
                raise LayoutError(f"{path}:{line}: clip {ytid} at {row['start_s']} s is listed with "
                                  f"is_audioset_eval {clip['test']} and {is_eval}")
            clip["captions"].append((row["caption"], "human"))
            if aspects:
                clip["tags"].append((", ".join(aspects), "tags"))
        for (ytid, start), clip in clips.items():
            yield ClipEntry(
                split="test" if clip["test"] else "train", key=f"{ytid}_{int(round(start * 1000))}",
                origin_id=youtube_origin(ytid, start), domain="music", captions=clip["captions"],
                audio=musiccaps_audio_names(ytid, start, clip["end"]), derived=clip["tags"],
            )
