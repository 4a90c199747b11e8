"""JamendoMaxCaps (Roy, Liu, Lu and Herremans, 2025, arXiv 2502.07461): LLM captions of Jamendo tracks.

About 362k Creative Commons instrumental tracks from Jamendo, captioned per 30-second segment by
an audio-language model (Qwen2-Audio). Layout as distributed (Hugging Face dataset
``amaai-lab/JamendoMaxCaps``; code at github.com/AMAAI-Lab/JamendoMaxCaps):

``final_caption30sec.jsonl``
    The captions: one JSON object per line, ``{"id": <Jamendo track id>, "caption": <text>,
    "start_time": <s>, "end_time": <s>}``, one line per captioned segment, so a track has several
    lines. This is the only file the preparer reads. Looked up in CORPUS_DIR, then CORPUS_DIR/data/.
``YYYY-MM-DD.jsonl``
    Jamendo API metadata per release date (``id, name, duration, artist_id, ..., musicinfo``);
    not captions, not read.
``data/train-NNNNN-of-01256.parquet``
    The audio, one row per track: ``audio`` = {``bytes``, ``path`` = ``<track id>.mp3``}. The
    dataset card's script writes each row out as ``<track id>.mp3``; the preparer reads those files,
    not the parquet shards.

Format facts are from the card (audio shards, ``<unique_id>.mp3``) and from public code that reads
the release (the caption file's name and its four fields); the repository has no split, so every
track is ``train``. The ``id`` may be written as a number or as text; both give the same track.

Audio: ``<track id>`` anywhere under the audio roots (the extracted ``mp3_files/<id>.mp3``, or the
MTG-Jamendo ``NN/<id>.mp3``), then ``<track id>.low`` (MTG-Jamendo's low-quality files).

One clip per captioned **segment**: the cut is ``[start_time, end_time]`` of the track's file
(``ClipEntry.span``), key ``<track id>_<start ms>``, ``origin_id`` ``jamendo:<track id>:<start ms>``,
domain ``music``, style ``llm``; the captions describe 30-s segments, and whole tracks (30 s to
10 min) would fall outside the published 1-60 s duration filter. Lines with the same track and
times are one clip's caption slots; a line without times captions the whole track (key and origin
without the start). A segment that does not lie within its file counts as unreadable audio.
Lines of a segment need not be adjacent: the file is read twice (first to count each segment's
lines), and a segment is handed on once its last line is read and every segment first seen
before it has been handed on, so clips come in order of first appearance while only the segments
still open are held.
"""
from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, MissingFileError
from audiotext.data.schema import id_origin

CAPTION_FILE = "final_caption30sec.jsonl"
CAPTION_FOLDERS = ("", "data")

Span = Optional[List[float]]


def find_caption_file(corpus_dir: Path) -> Path:
    for folder in CAPTION_FOLDERS:
        path = corpus_dir / folder / CAPTION_FILE if folder else corpus_dir / CAPTION_FILE
        if path.is_file():
            return path
    raise MissingFileError(f"JamendoMaxCaps captions not found: {corpus_dir / CAPTION_FILE} "
                           f"({CAPTION_FILE} from the Hugging Face dataset amaai-lab/JamendoMaxCaps)")


def _time(row: dict, name: str, path: Path, line: int) -> Optional[float]:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise LayoutError(f"{path}:{line}: field {name!r} should be a number of seconds, got {value!r}")
    return float(value)


def iter_caption_lines(path: Path) -> Iterator[Tuple[int, str, str, Span]]:
    """``(line, track id, caption, [start, end] or None)`` for every non-blank line of the caption file.

    A line that is not a JSON object with ``id`` and ``caption``, or whose fields have the wrong
    type, raises :class:`LayoutError` naming the file and line; a null caption is an empty one.
    """
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise LayoutError(f"{path}:{line}: not valid UTF-8 text ({err.reason})") from None
            if not text.strip():
                continue
            try:
                row: Any = json.loads(text)
            except json.JSONDecodeError as err:
                raise LayoutError(f"{path}:{line}: not a JSON object ({err.msg})") from None
            if not isinstance(row, dict):
                raise LayoutError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}")
            missing = [name for name in ("id", "caption") if name not in row]
            if missing:
                raise LayoutError(f"{path}:{line}: missing field(s) {', '.join(missing)}")
            track = row["id"]
            if isinstance(track, int) and not isinstance(track, bool):
                track = str(track)
            elif isinstance(track, str) and track.strip():
                track = track.strip()
            else:
                raise LayoutError(f"{path}:{line}: field 'id' should be a track id, got {row['id']!r}")
            caption = row["caption"]
            if caption is None:
                caption = ""
            elif not isinstance(caption, str):
                raise LayoutError(f"{path}:{line}: field 'caption' should be text, got {caption!r}")
            start, end = _time(row, "start_time", path, line), _time(row, "end_time", path, line)
            span = [start, end] if start is not None and end is not None else None
            yield line, track, caption, span


@register_corpus("jamendomaxcaps")
class JamendoMaxCaps(CorpusPreparer):
    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        path = find_caption_file(corpus_dir)
        lines_left: Counter = Counter((track, _key(span)) for _, track, _, span in iter_caption_lines(path))
        open_clips: "OrderedDict[tuple, list]" = OrderedDict()  # in order of first appearance
        for _, track, caption, span in iter_caption_lines(path):
            clip = (track, _key(span))
            open_clips.setdefault(clip, []).append((caption, "llm"))
            lines_left[clip] -= 1
            while open_clips and lines_left[next(iter(open_clips))] == 0:
                (done, segment), captions = open_clips.popitem(last=False)
                yield self._entry(done, segment, captions)
        if open_clips:  # the file changed between the two readings
            raise LayoutError(f"{path}: changed while it was read ({len(open_clips)} clip(s) incomplete)")

    @staticmethod
    def _entry(track: str, segment: Optional[Tuple[float, float]], captions: List[Tuple[str, str]]) -> ClipEntry:
        if segment is None:
            key, origin = track, id_origin("jamendo", track)
        else:
            start_ms = int(round(segment[0] * 1000))
            key, origin = f"{track}_{start_ms}", id_origin("jamendo", f"{track}:{start_ms}")
        return ClipEntry(split="train", key=key, origin_id=origin, domain="music", captions=captions,
                         audio=[track, f"{track}.low"], span=segment)


def _key(span: Span) -> Optional[Tuple[float, float]]:
    return (span[0], span[1]) if span is not None else None
