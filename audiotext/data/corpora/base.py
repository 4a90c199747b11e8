"""The preparer contract for caption corpora, the audio finder, the caption accounting and the writer.

A corpus preparer reads one corpus's files exactly as distributed and yields one
:class:`ClipEntry` per clip: its split, its key, its ``origin_id``, its official caption slots
(in file order) and the file names its audio may have. :func:`prepare_corpus` finds the audio,
reads each file's header (not its samples) in a process pool, counts every caption slot once
(:class:`CaptionAccounting`) and streams the cuts to ``OUT_DIR/cuts_<split>.jsonl.gz`` with
``OUT_DIR/prepare_summary.json`` beside them. See :mod:`audiotext.data.schema` for the fields.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from audiotext.data.layout import AudioIndex, LayoutError, MissingFileError  # noqa: F401  (AudioIndex re-exported)
from audiotext.data.schema import DOMAINS, ORIGIN_ID, UNKNOWN, Caption
from audiotext.registry import Registry

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
SUMMARY_NAME = "prepare_summary.json"
MAX_EXAMPLES = 20  # example clip keys kept per reason in the summary (the counts are always complete)
CHUNK = 256  # clips per header-reading round: bounds memory, keeps the pool busy


@dataclass
class ClipEntry:
    """One clip of a corpus, as its official files describe it.

    ``captions`` are the official caption slots as ``(text, style)`` in file order, empty ones
    included (they are counted, then dropped); ``derived`` are captions the preparer made from
    other fields (tags from an aspect list, a transcript), counted apart. ``audio`` lists the
    names the clip's file may have, most likely first: a file stem (``Y--0w1YA1Hm4_30.000``)
    or a relative path without extension (``id10001/1zcIwhmdeo4/00001``).
    """

    split: str
    key: str
    origin_id: str
    domain: str
    captions: List[Tuple[str, str]]
    audio: Sequence[str]
    derived: List[Tuple[str, str]] = field(default_factory=list)
    source: str = ""  # defaults to the corpus name; subsets set their own (wavcaps_bbc)
    custom: Dict[str, Any] = field(default_factory=dict)  # extra per-clip fields kept on the cut
    # extra fields put into every supervision's custom beside the caption's (AudioSet's ``labels``)
    supervision_custom: Dict[str, Any] = field(default_factory=dict)
    # a Lhotse recording dict when the corpus already describes its audio (a published manifest):
    # used as it is when its file exists, instead of looking the clip up by name and reading a header
    recording: Optional[Dict[str, Any]] = None
    # (start, end) in seconds when the clip is a segment of its file (JamendoMaxCaps captions 30-s
    # segments of whole tracks); None: the whole file
    span: Optional[Tuple[float, float]] = None


class CorpusPreparer:
    """Base class of the registered corpus preparers.

    Subclasses set ``subsets`` (every subset name, empty when the corpus has none) and
    ``default_subsets``, and implement :meth:`clips`. A missing or malformed file raises
    :class:`~audiotext.data.layout.MissingFileError` / :class:`~audiotext.data.layout.LayoutError`
    naming the file and line.
    """

    @dataclass
    class Config:
        pass

    subsets: Tuple[str, ...] = ()
    default_subsets: Tuple[str, ...] = ()

    def __init__(self, conf: "CorpusPreparer.Config"):
        self.conf = conf
        # clips the official files list but the corpus itself says to leave out (e.g. WavCaps'
        # blacklists), by reason: the preparer counts them here and the summary reports them
        self.excluded: Counter = Counter()
        # facts about the clips written that the user should see, by name (e.g. AudioSet clips whose
        # start is unknown, so their origin_id cannot match other corpora's): the summary reports them
        self.notes: Counter = Counter()

    def resolve_subsets(self, requested: Optional[Sequence[str]]) -> List[str]:
        """``None`` -> the defaults; ``["all"]`` -> every subset; unknown names are an error."""
        name = getattr(self, "registry_name", type(self).__name__)
        if not requested:
            return list(self.default_subsets)
        if not self.subsets:
            raise ValueError(f"corpus {name!r} has no subsets; --subsets {','.join(requested)} does not apply")
        if list(requested) == ["all"]:
            return list(self.subsets)
        unknown = [s for s in requested if s not in self.subsets]
        if unknown:
            raise ValueError(f"corpus {name!r}: unknown subset(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(self.subsets)} (or all)")
        return list(requested)

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        raise NotImplementedError

    def write_extra(self, out_dir: Path) -> Optional[Path]:
        """Called once every clip is written: write a file of the corpus's own beside the manifests
        (AudioSet's ``labels.txt``) and return its path; the default writes nothing."""
        return None


CORPORA: Registry = Registry("corpus", CorpusPreparer)
register_corpus = CORPORA.register


# --- accounting -------------------------------------------------------------------------------

COUNT_FIELDS = ("clips", "clips_missing_audio", "clips_unreadable_audio", "clips_too_short_audio",
                "clips_without_caption", "clips_written",
                "captions_total", "captions_empty", "captions_duplicate", "captions_on_missing_audio",
                "captions_clean", "captions_derived")


@dataclass
class SplitCounts:
    """The counts of one split. Every official caption slot is counted once, tested in this order:
    empty after strip, same text as an earlier caption of the clip, audio missing, clean; so
    ``captions_total = captions_empty + captions_duplicate + captions_on_missing_audio + captions_clean``.
    ``clips_unreadable_audio`` (a file exists but its header cannot be read, it holds no samples, or
    fewer than its header promises) and ``clips_too_short_audio`` (it holds less than the encoder's
    minimum input) are part of ``clips_missing_audio``. ``captions_derived`` counts derived captions
    written."""

    clips: int = 0
    clips_missing_audio: int = 0
    clips_unreadable_audio: int = 0
    clips_too_short_audio: int = 0
    clips_without_caption: int = 0
    clips_written: int = 0
    captions_total: int = 0
    captions_empty: int = 0
    captions_duplicate: int = 0
    captions_on_missing_audio: int = 0
    captions_clean: int = 0
    captions_derived: int = 0
    seconds: float = 0.0

    def add(self, other: "SplitCounts") -> None:
        for name in COUNT_FIELDS + ("seconds",):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> Dict[str, Any]:
        out = {name: getattr(self, name) for name in COUNT_FIELDS}
        out["hours"] = round(self.seconds / 3600.0, 4)
        return out


class CaptionAccounting:
    """Counts per split, and a few example clip keys per reason."""

    def __init__(self):
        self.splits: Dict[str, SplitCounts] = {}
        self.examples: Dict[str, List[str]] = {}

    def _example(self, reason: str, what: str) -> None:
        examples = self.examples.setdefault(reason, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(what)

    def account(self, entry: ClipEntry, audio_status: str) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
        """Count one clip; ``audio_status`` is ``ok``, ``missing``, ``unreadable`` or ``too_short``.
        Returns the clean official captions and the derived captions to write."""
        counts = self.splits.setdefault(entry.split, SplitCounts())
        counts.clips += 1
        has_audio = audio_status == "ok"
        if not has_audio:
            counts.clips_missing_audio += 1
            self._example("missing_audio", entry.key)
            if audio_status == "unreadable":
                counts.clips_unreadable_audio += 1
                self._example("unreadable_audio", entry.key)
            elif audio_status == "too_short":
                counts.clips_too_short_audio += 1
                self._example("too_short_audio", entry.key)
        seen = set()
        clean = []
        for text, style in entry.captions:
            counts.captions_total += 1
            text = (text or "").strip()
            if not text:
                counts.captions_empty += 1
                self._example("empty_caption", entry.key)
            elif text in seen:
                counts.captions_duplicate += 1
                self._example("duplicate_caption", entry.key)
            else:
                seen.add(text)
                if has_audio:
                    counts.captions_clean += 1
                    clean.append((text, style))
                else:
                    counts.captions_on_missing_audio += 1
        derived = []
        if has_audio:
            for text, style in entry.derived:
                text = (text or "").strip()
                if text and text not in seen:
                    seen.add(text)
                    derived.append((text, style))
            counts.captions_derived += len(derived)
            if not clean and not derived:
                counts.clips_without_caption += 1
                self._example("clip_without_caption", entry.key)
        return clean, derived

    def total(self) -> SplitCounts:
        out = SplitCounts()
        for counts in self.splits.values():
            out.add(counts)
        return out


# --- headers and writing ----------------------------------------------------------------------


def _named_decode_errors(entries: Iterator[ClipEntry], name: str, corpus_dir: Path) -> Iterator[ClipEntry]:
    """A preparer names the file and line of what it cannot parse; a text file that is not UTF-8
    where one is expected still ends in one clear error instead of a traceback."""
    try:
        yield from entries
    except UnicodeDecodeError as err:
        raise LayoutError(f"a file under {corpus_dir} is not valid {err.encoding} text ({err.reason} at byte "
                          f"{err.start}); the official files are UTF-8") from None


def _read_header(job: Tuple[str, str]) -> Tuple[Optional[dict], str]:
    """(recording dict, "") or (None, reason) for one file; runs in a pool worker. The recording's
    length is what the file really holds (audio_checks.measured_frames), not what its header says."""
    from lhotse import Recording

    from audiotext.data.audio_checks import measured_frames

    cut_id, path = job
    try:
        recording = Recording.from_file(path, recording_id=cut_id)
    except Exception as err:  # lhotse wraps every backend failure in its own error types
        return None, " ".join(str(err).split())[:300] or type(err).__name__
    frames, why = measured_frames(path, recording.num_samples)
    if frames is None:
        return None, f"truncated: {why}"
    if frames <= 0:
        return None, "no audio samples"
    out = recording.to_dict()
    if frames < recording.num_samples:
        out.update(num_samples=frames, duration=frames / recording.sampling_rate)
    return out, ""


def _batched(items: Iterable, n: int) -> Iterator[list]:
    iterator = iter(items)
    while True:
        chunk = list(islice(iterator, n))
        if not chunk:
            return
        yield chunk


def _existing_source(recording: Dict[str, Any], index: AudioIndex) -> Optional[str]:
    """The file of a recording given by the corpus: its own path when it exists (relative paths are
    read against the audio roots), else a file of the same name under the audio roots."""
    sources = recording.get("sources") or []
    if len(sources) != 1 or sources[0].get("type") != "file":
        return None
    given = Path(sources[0]["source"])
    if given.is_absolute() and given.is_file():
        return str(given)
    for root in index.roots:
        if (root / given).is_file():
            return str(root / given)
    return index.find([given.with_suffix("").as_posix(), given.stem])


def _with_source(recording: Dict[str, Any], path: str, recording_id: str) -> Dict[str, Any]:
    out = dict(recording, id=recording_id)
    out["sources"] = [dict(recording["sources"][0], source=path)]
    return out


def _check_span(recording: Dict[str, Any], span: Tuple[float, float]) -> Tuple[Optional[dict], str]:
    """A segment must lie in its file; an end up to 50 ms past the file's end is clipped to it."""
    start, end = span
    if not 0.0 <= start < end or start >= recording["duration"] - 0.01 or end > recording["duration"] + 0.05:
        return None, f"segment {start:.3f}-{end:.3f} s is not within the {recording['duration']:.3f} s file"
    return recording, ""


def _clip_seconds(recording: Dict[str, Any], span: Optional[Tuple[float, float]]) -> float:
    """The clip's length as build_cut will make it: its segment (clipped to the file) or the file."""
    if span is None:
        return recording["duration"]
    return min(span[1], recording["duration"]) - span[0]


def cut_id_of(source: str, key: str) -> str:
    return f"{source}_{key}"


def build_cut(recording: dict, entry: ClipEntry, source: str, captions: List[Caption]):
    """A MonoCut over the whole recording with one supervision per caption (see the schema)."""
    from lhotse import Recording, SupervisionSegment

    rec = Recording.from_dict(recording)
    cut = rec.to_cut()
    if entry.span is not None:
        start, end = entry.span
        cut = cut.truncate(offset=start, duration=min(end, rec.duration) - start, preserve_id=True)
    channel = rec.channel_ids[0] if rec.num_channels == 1 else list(rec.channel_ids)
    cut.supervisions = [
        SupervisionSegment(id=f"{cut.id}-{i}", recording_id=rec.id, start=0.0, duration=cut.duration,
                           channel=channel, custom={**caption.custom(), **entry.supervision_custom})
        for i, caption in enumerate(captions)
    ]
    cut.custom = {ORIGIN_ID: entry.origin_id, **entry.custom}
    return cut


def prepare_corpus(name: str, corpus_dir: Path, out_dir: Path, *, audio_dirs: Sequence[Path] = (),
                   subsets: Optional[Sequence[str]] = None, jobs: int = 1,
                   conf: Optional[Dict[str, Any]] = None, min_seconds: Optional[float] = None) -> Dict[str, Any]:
    """Prepare corpus ``name`` from ``corpus_dir`` into ``out_dir``; returns the summary it writes.

    A clip shorter than ``min_seconds`` (default: the default encoder's minimum input,
    :func:`~audiotext.data.audio_checks.default_min_input_seconds`) is counted as
    ``clips_too_short_audio`` and not written.

    Raises MissingFileError / LayoutError (the message names the file and line) for a corpus that
    is not laid out as distributed, and ValueError for an unknown subset; an earlier run's
    ``cuts_*.jsonl.gz`` in ``out_dir`` are removed only once the new ones are complete.
    """
    from lhotse import CutSet

    from audiotext.data.audio_checks import default_min_input_seconds

    if min_seconds is None:
        min_seconds = default_min_input_seconds()
    corpus_dir = Path(corpus_dir).absolute()  # manifests hold absolute audio paths, valid from any folder
    audio_dirs = [Path(d).absolute() for d in audio_dirs]
    if not corpus_dir.is_dir():
        raise MissingFileError(f"corpus directory not found: {corpus_dir}")
    preparer = CORPORA.build(name, conf or {}, where=f"{name} --conf")
    chosen = preparer.resolve_subsets(subsets)
    index = AudioIndex(list(audio_dirs) or [corpus_dir])
    log.info("%s: %d audio files indexed under %s", name, index.num_files, ", ".join(map(str, index.roots)))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    accounting = CaptionAccounting()
    writers: Dict[str, Any] = {}
    tmp_paths: Dict[str, Path] = {}
    seen_ids: Dict[str, str] = {}
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pool = context.Pool(jobs) if jobs > 1 else None
    complete = False
    try:
        for chunk in _batched(_named_decode_errors(preparer.clips(corpus_dir, chosen), name, corpus_dir), CHUNK):
            jobs_in_chunk, paths = [], []
            for entry in chunk:
                if entry.split not in SPLITS:
                    raise ValueError(f"{name}: preparer gave split {entry.split!r}; expected one of {SPLITS}")
                if entry.domain not in DOMAINS + (UNKNOWN,):
                    raise ValueError(f"{name}: preparer gave domain {entry.domain!r}; expected one of {DOMAINS}")
                source = entry.source or name
                cut_id = cut_id_of(source, entry.key)
                if cut_id in seen_ids:
                    raise LayoutError(f"clip {entry.key!r} is listed twice in {corpus_dir} (in its {seen_ids[cut_id]} "
                                      f"and {entry.split} files)")
                seen_ids[cut_id] = entry.split
                if entry.recording is not None:
                    path = _existing_source(entry.recording, index)
                    paths.append(path)
                    continue
                path = index.find(entry.audio)
                paths.append(path)
                if path is not None:
                    jobs_in_chunk.append((cut_id, path))
            headers = pool.map(_read_header, jobs_in_chunk, chunksize=16) if pool else list(map(_read_header, jobs_in_chunk))
            header_iter = iter(headers)
            for entry, path in zip(chunk, paths):
                source = entry.source or name
                if entry.recording is not None:
                    recording, error = (_with_source(entry.recording, path, cut_id_of(source, entry.key)), "") if path else (None, "missing")
                else:
                    recording, error = next(header_iter) if path is not None else (None, "missing")
                if recording is not None and entry.span is not None:
                    recording, error = _check_span(recording, entry.span)
                status = "ok" if recording is not None else ("missing" if path is None else "unreadable")
                if status == "ok" and _clip_seconds(recording, entry.span) < min_seconds:
                    status = "too_short"
                    log.warning("%s: clip %s: %.2f ms of audio in %s, under the encoder's minimum input "
                                "(%g ms)", name, entry.key, _clip_seconds(recording, entry.span) * 1000, path,
                                min_seconds * 1000)
                if status == "unreadable":
                    log.warning("%s: clip %s: unreadable audio %s (%s)", name, entry.key, path, error)
                clean, derived = accounting.account(entry, status)
                if status != "ok" or not (clean or derived):
                    continue
                captions = [Caption(t, s, entry.domain, source) for t, s in clean]
                captions += [Caption(t, s, entry.domain, source, derived=True) for t, s in derived]
                cut = build_cut(recording, entry, source, captions)
                if entry.split not in writers:
                    tmp_paths[entry.split] = out_dir / f"tmp_cuts_{entry.split}.jsonl.gz"
                    writers[entry.split] = CutSet.open_writer(tmp_paths[entry.split], overwrite=True)
                writers[entry.split].write(cut)
                counts = accounting.splits[entry.split]
                counts.clips_written += 1
                counts.seconds += cut.duration
        complete = True
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        for writer in writers.values():
            writer.close()
        if not complete:  # the earlier run's manifests stay; this run's partial ones go
            for tmp in tmp_paths.values():
                tmp.unlink(missing_ok=True)
    if not accounting.splits:
        raise LayoutError(f"no clip is listed in {corpus_dir} (are these {name}'s files, and not empty?)")
    for stale in sorted(out_dir.glob("cuts_*.jsonl.gz")):  # an earlier run's must not pass for this one's
        stale.unlink()
    files = {}
    for split, tmp in tmp_paths.items():
        final = out_dir / f"cuts_{split}.jsonl.gz"
        tmp.replace(final)
        files[split] = str(final)
    extra = preparer.write_extra(out_dir)
    total = accounting.total()
    summary = {
        "corpus": name,
        "corpus_dir": str(corpus_dir),
        "audio_dirs": [str(r) for r in index.roots],
        "subsets": chosen,
        "files": files,
        "extra_files": [str(extra)] if extra is not None else [],
        "total": total.as_dict(),
        "splits": {split: accounting.splits[split].as_dict() for split in SPLITS if split in accounting.splits},
        "excluded": dict(sorted(preparer.excluded.items())),
        "notes": dict(sorted(preparer.notes.items())),
        "examples": accounting.examples,
    }
    (out_dir / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n")
    if total.clips_missing_audio:
        log.warning("%s: %d of %d clips have no readable audio (their %d captions are counted as "
                    "captions_on_missing_audio); examples in %s", name, total.clips_missing_audio, total.clips,
                    total.captions_on_missing_audio, out_dir / SUMMARY_NAME)
    log.info("%s: %s", name, json.dumps(total.as_dict()))
    if total.clips_written == 0:  # a corpus whose every clip is unusable is a wrong path, not a corpus
        raise LayoutError(f"none of the {total.clips} clips listed in {corpus_dir} could be written "
                          f"({total.clips_missing_audio} without readable audio; see {out_dir / SUMMARY_NAME})")
    return summary
