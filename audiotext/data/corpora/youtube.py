"""Helpers for corpora whose clips are 10-second segments of YouTube videos (AudioSet, VGGSound, YouTube-8M).

Caption corpora name such a clip in several ways; :func:`parse_clip_id` reads every form in use:

``Y<ytid>``                    the AudioSet file name of the PANNs/WavCaps downloads (``Y---1_cCGK4M``),
                               used by AudioSetCaps (AudioSet part) and Auto-ACD: **no start time**
``<ytid>``                     a bare YouTube id (FusionAudio's files are named so): no start time
``<ytid>_<start>``             VGGSound (``OxPnZzn1_L8_000883``, start in seconds, 6 digits)
``<ytid>_<start>_<n>``         AudioSetCaps' YouTube-8M clips (``9eUrEyAR3xk_84_10``: start, length)
``Y<ytid>_<start>_<end>``      the AudioSet download form (``Y--0w1YA1Hm4_30.000_40.000``)

A YouTube id is exactly 11 characters of ``[A-Za-z0-9_-]`` and may itself contain ``_`` and
``-`` (``-a_b-C_d3Ef``), so an id is parsed from the right: up to two trailing ``_<number>``
fields are split off and what is left must be an 11-character id, optionally after a ``Y``. The
lengths make the reading unique (each split shortens the rest by at least two characters, and
only 11 or 12 characters can match). Where the id has no start, :class:`AudioSetStarts` reads it
from Google's AudioSet segment lists, which give one segment per video.

Also here: the clip key and audio file names every YouTube-derived preparer uses, and
:func:`group_by_key`, which streams a big metadata file twice so that rows of the same clip are
merged without holding the file's clips in memory.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Hashable, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

from audiotext.data.layout import LayoutError, MissingFileError
from audiotext.data.schema import id_origin, youtube_origin

log = logging.getLogger(__name__)

YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
# optional "Y", the 11-character id, up to two "_<number>" fields; any match is the only reading
_CLIP_NAME = re.compile(r"(Y)?([A-Za-z0-9_-]{11})(?:_(\d+(?:\.\d+)?))?(?:_(\d+(?:\.\d+)?))?")

AUDIOSET_SEGMENT_LISTS = ("balanced_train_segments.csv", "unbalanced_train_segments.csv", "eval_segments.csv")
AUDIOSET_LISTS_URL = "http://storage.googleapis.com/us_audioset/youtube_corpus/v1/csv/"
# file extensions a downloaded clip or a metadata path may carry (stripped before parsing a name)
MEDIA_EXTENSIONS = ("wav", "flac", "mp3", "ogg", "opus", "m4a", "aac", "webm", "mp4", "mkv")


@dataclass(frozen=True)
class ClipId:
    """A parsed clip name: the YouTube id, the start in seconds (None when the name has none) and
    the form it was written in (``Y<ytid>``, ``<ytid>_<start>``, ...)."""

    youtube_id: str
    start: Optional[float]
    form: str


def parse_clip_id(text: str) -> Optional[ClipId]:
    """The YouTube id and start of a clip name in one of the forms above, or None."""
    match = _CLIP_NAME.fullmatch((text or "").strip())
    if match is None:
        return None
    y, youtube_id, first, second = match.groups()
    form = (y or "") + "<ytid>" + ("" if first is None else "_<start>" if second is None else "_<start>_<end>")
    return ClipId(youtube_id, None if first is None else float(first), form)


def strip_media_extension(name: str) -> str:
    """``abc.wav`` -> ``abc``; a name without a media extension is left alone
    (``Yabc_30.000_40.000`` keeps its ``.000``)."""
    stem, dot, ext = name.rpartition(".")
    return stem if dot and ext.lower() in MEDIA_EXTENSIONS else name


@dataclass(frozen=True)
class Segment:
    """One row of an AudioSet segment list: ``line`` (1-based), the YouTube id, start and end in
    seconds, and the label MIDs (``/m/09x0r``...) in file order."""

    line: int
    youtube_id: str
    start: float
    end: float
    mids: Tuple[str, ...]


def _seconds(text: str, path: Path, line_no: int, column: str) -> float:
    try:
        value = float(text)
        if not math.isfinite(value) or value < 0:
            raise ValueError(value)
    except ValueError:
        raise LayoutError(f"{path}:{line_no}: {column} should be a number of seconds, got {text.strip()!r}") from None
    return value


def iter_segments(path: Path) -> Iterator[Segment]:
    """The rows of one AudioSet segment list (``balanced_train_segments.csv``,
    ``unbalanced_train_segments.csv``, ``eval_segments.csv``): lines starting with ``#`` (the
    three header lines) and blank lines are skipped; every other line is
    ``YTID, start_seconds, end_seconds, "mid,mid,..."``. LayoutError naming the file and line for
    a row with fewer than three fields, an id that is not an 11-character YouTube id, or a start /
    end that is not a non-negative number; an end before the start is an error too."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\r\n").split(",", 3)
            if len(fields) < 3:
                raise LayoutError(f"{path}:{line_no}: expected 'YTID, start_seconds, end_seconds, labels'")
            youtube_id = fields[0].strip()
            if not YOUTUBE_ID.fullmatch(youtube_id):
                raise LayoutError(f"{path}:{line_no}: {youtube_id!r} is not a YouTube id")
            start = _seconds(fields[1], path, line_no, "start_seconds")
            end = _seconds(fields[2], path, line_no, "end_seconds")
            if end < start:
                raise LayoutError(f"{path}:{line_no}: end_seconds {end:g} is before start_seconds {start:g}")
            raw = fields[3].strip().strip('"') if len(fields) > 3 else ""
            mids = tuple(m.strip() for m in raw.split(",") if m.strip())
            yield Segment(line_no, youtube_id, start, end, mids)


class AudioSetStarts:
    """The start of each AudioSet video's segment, read from Google's segment lists.

    ``balanced_train_segments.csv``, ``unbalanced_train_segments.csv`` and ``eval_segments.csv``
    (research.google.com/audioset/download.html) have three ``#`` header lines, then
    ``YTID, start_seconds, end_seconds, "label,label"``. The first directory of ``search_dirs``
    holding a list is used for it. They are read on the first :meth:`start` call (about 2.1M
    videos, a few hundred MB), so a corpus whose names all carry a start never needs them; when
    one is needed, all three must be present. A video listed twice keeps its first start (the
    lists are disjoint in the official release).
    """

    def __init__(self, search_dirs: Sequence[Path], corpus: str):
        self.search_dirs = [Path(d) for d in search_dirs]
        self.corpus = corpus
        self._starts: Optional[Dict[str, float]] = None
        self.paths: List[Path] = []

    def _find(self, name: str) -> Path:
        for directory in self.search_dirs:
            if (directory / name).is_file():
                return directory / name
        where = " or ".join(str(d / name) for d in self.search_dirs)
        raise MissingFileError(
            f"AudioSet segment list not found: {where} ({self.corpus} names AudioSet clips without their start "
            f"time; the start is read from the AudioSet segment lists {', '.join(AUDIOSET_SEGMENT_LISTS)}, "
            f"downloadable from {AUDIOSET_LISTS_URL})")

    def _load(self) -> Dict[str, float]:
        starts: Dict[str, float] = {}
        for name in AUDIOSET_SEGMENT_LISTS:
            path = self._find(name)
            self.paths.append(path)
            for segment in iter_segments(path):
                starts.setdefault(segment.youtube_id, segment.start)
        log.info("%s: %d AudioSet segment starts read from %s", self.corpus, len(starts),
                 ", ".join(str(p) for p in self.paths))
        return starts

    def start(self, youtube_id: str) -> Optional[float]:
        """The segment start (seconds) of an AudioSet video, None when no list has it."""
        if self._starts is None:
            self._starts = self._load()
        return self._starts.get(youtube_id)


def clip_key(youtube_id: str, start: Optional[float]) -> str:
    """``<ytid>_<start ms>``, the key AudioCaps uses too; ``<ytid>`` when the start is unknown."""
    return youtube_id if start is None else f"{youtube_id}_{int(round(float(start) * 1000))}"


def youtube_audio_names(youtube_id: str, start: Optional[float], duration: float = 10.0,
                        bare: bool = True) -> List[str]:
    """File stems download tools give a YouTube clip: the AudioSet form ``Y<ytid>_<s>.000_<e>.000``,
    VGGSound's ``<ytid>_<start:06d>``, yt-dlp scripts' ``<ytid>_<start>``, and with ``bare`` the
    names without a start, ``Y<ytid>`` and ``<ytid>``."""
    names = []
    if start is not None:
        s = int(round(start))
        span = f"{start:.3f}_{start + duration:.3f}"
        names += [f"Y{youtube_id}_{span}", f"{youtube_id}_{span}",
                  f"{youtube_id}_{s:06d}", f"{youtube_id}_{s}", f"Y{youtube_id}_{s}", f"{youtube_id}_{s * 1000}",
                  f"{youtube_id}_{s}_{s + int(duration)}"]
    if bare or start is None:
        names += [f"Y{youtube_id}", youtube_id]
    return list(dict.fromkeys(names))


def clip_audio_names(raw_ids: Iterable[str], youtube_id: str, start: Optional[float]) -> List[str]:
    """The corpus's own names first (``Y---1_cCGK4M``, ``9eUrEyAR3xk_84_10``), then the download forms.

    The names without a start (``<ytid>``, ``Y<ytid>``) are searched only when the corpus itself
    names the clip so (AudioSet, one segment per video): VGGSound and YouTube-8M take several
    segments of one video, and a file named by the video alone may hold another one."""
    raw_ids = list(raw_ids)
    bare = any(getattr(parse_clip_id(raw), "start", 0) is None for raw in raw_ids)
    return list(dict.fromkeys([*raw_ids, *youtube_audio_names(youtube_id, start, bare=bare)]))


K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def group_by_key(read: Callable[[], Iterator[Tuple[K, T]]]) -> Iterator[Tuple[K, List[T]]]:
    """Merge the items of each key from a stream read twice, keeping at most the repeated keys in memory.

    ``read()`` yields ``(key, item)`` in file order and must give the same sequence each call. The
    first pass notes which keys occur more than once (by hash); the second yields every other key
    as soon as it is read, in file order, and the repeated keys at the end, in order of first
    occurrence, each with its items in file order.
    """
    seen, repeated = set(), set()
    for key, _ in read():
        h = hash(key)
        if h in seen:
            repeated.add(h)
        else:
            seen.add(h)
    del seen
    held: Dict[K, List[T]] = {}
    for key, item in read():
        if hash(key) in repeated:
            held.setdefault(key, []).append(item)
        else:
            yield key, [item]
    yield from held.items()


def clip_origin(youtube_id: str, start: Optional[float]) -> str:
    """``yt:<ytid>:<start ms>``; ``yt:<ytid>`` for a clip whose start nothing gives (it then
    will not match other corpora's keys)."""
    return id_origin("yt", youtube_id) if start is None else youtube_origin(youtube_id, start)
