"""Curation (the stew): prepared per-corpus manifests -> one curated CutSet per split, streaming.

Pass 1 (one worker per input manifest, or per share of a large one), per input clip: the duration
filter, default 1-60 s as in the published recipe (``clip_too_short`` / ``clip_too_long``: all the
clip's captions go with it); removal of every clip whose ``origin_id`` appears in an evaluation set
(``eval_overlap``: the other splits given to :func:`curate_splits` and any extra evaluation
manifests, e.g. the downstream data sets, whose cuts carry origin ids too); text normalisation of
every caption (Unicode NFKC, control and format characters removed, white space collapsed), then
``empty`` / ``caption_too_short`` / ``caption_too_long``; exact duplicates (the same text after
lower-casing and removing punctuation, ``duplicate_exact``) and near duplicates (word-set Jaccard
similarity >= ``near_duplicate_jaccard``, ``duplicate_near``) within the clip. Survivors are written
to hash partitions by ``origin_id``.

Pass 2 (one worker per partition): per-source caps in clips (``source_cap``), chosen by a hash of
``origin_id`` so that a smaller cap keeps a subset of what a larger one keeps; the merge of clips
that share an origin across sources into one clip holding all their captions (the recording of the
first input that has it; ``merged_clips`` counts the others), with duplicates across them removed
as above; a shuffle of the partition. Partitions are assigned by a seeded hash and each is
shuffled, so the concatenation is a uniformly random order of all clips (the two-pass shuffle of
Rao 1961 and Sandelius 1962) with memory bounded by the largest partition. Evaluation splits get
the same treatment but for caps and overlap removal.

The report accounts for every input caption: ``captions_in == captions_out + sum(dropped_captions)``,
and for every input clip: ``clips_in == clips_out + merged_clips + sum(dropped_clips)``. It also
gives clips / captions / hours per domain, style and source, a caption-length histogram (words) and
the vocabulary size; :func:`plot_statistics` draws them.

Manifests are read and written as JSON lines (the Lhotse ``MonoCut`` dict, parsed with orjson), not as
Lhotse objects: curation never needs the audio, and a dict costs a fraction of an object to build at
10M captions. Pass 1 serialises each surviving cut without its captions once; pass 2 only splices the
new ``custom`` and ``supervisions`` onto those bytes.
"""
from __future__ import annotations

import bisect
import gzip
import hashlib
import heapq
import logging
import multiprocessing as mp
import os
import marshal
import math
import random
import re
import shutil
import tempfile
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import orjson

from audiotext.data.layout import LayoutError, MissingFileError
from audiotext.data.schema import CAPTION, DERIVED, DOMAIN, ORIGIN_ID, SOURCE, STYLE, supervision_captions

log = logging.getLogger(__name__)

DROP_REASONS = ("empty", "caption_too_short", "caption_too_long", "clip_too_short", "clip_too_long", "eval_overlap",
                "source_cap", "duplicate_exact", "duplicate_near")
CLIP_DROP_REASONS = ("clip_too_short", "clip_too_long", "eval_overlap", "source_cap", "no_caption_left")
LENGTH_BINS = (1, 2, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200)  # caption words, lower edges
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PARTITION_BYTES = 48 << 20  # target size of one pass-2 partition on disk (marshalled records)
FLUSH_RECORDS = 256  # records buffered per partition in pass 1 before they are written as one block
_ASCII_PUNCT = {ord(c): " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}


@dataclass
class CurationConfig:
    """Filters and merge rules; the defaults follow the published CaptionStew recipe where it has one."""

    min_clip_duration: float = 1.0  # seconds; the published recipe filters to 1-60 s (never crops)
    max_clip_duration: float = 60.0
    min_caption_chars: int = 3
    max_caption_chars: int = 2000
    near_duplicate_jaccard: float = 0.9  # 1.0 keeps near duplicates that are not exact ones
    source_caps: Dict[str, int] = field(default_factory=dict)  # source name -> max clips in train
    seed: int = 0
    num_partitions: int = 0  # 0: from the input size (about 48 MB of records each)
    jobs: int = 1


def normalize_text(text: str) -> str:
    """NFKC, control and invisible format characters (zero-width space, BOM, ...) removed, white
    space collapsed and stripped."""
    if not text.isascii():  # ASCII is NFKC already
        text = unicodedata.normalize("NFKC", text)
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    if not text.isprintable():
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def dedup_key(text: str) -> str:
    """The key two captions are exact duplicates under: lower case, no punctuation, single spaces.
    (``_`` counts as punctuation, as ``\\w`` would keep it.)"""
    text = text.lower()
    text = text.translate(_ASCII_PUNCT) if text.isascii() else _PUNCT.sub(" ", text).replace("_", " ")
    return " ".join(text.split())


def stable_hash(seed: int, text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process and run (``hash()`` is salted)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\x00{text}".encode("utf-8"), digest_size=8).digest(), "big")


def _open_binary(path: str):
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def iter_cut_dicts(path: str, shard: int = 0, num_shards: int = 1) -> Iterator[Tuple[int, bytes, Dict[str, Any]]]:
    """(line number, the line, cut dict) of a JSONL(.gz) CutSet manifest; a bad line is a LayoutError
    naming it. With ``num_shards`` > 1 only every ``num_shards``-th line from ``shard`` is parsed (the
    others are only decompressed), so several workers can share one large file."""
    if not Path(path).is_file():
        raise MissingFileError(f"manifest not found: {path}")
    line_no = 0
    try:
        with _open_binary(path) as f:
            for line_no, line in enumerate(f, 1):
                if num_shards > 1 and (line_no - 1) % num_shards != shard:
                    continue
                try:
                    cut = orjson.loads(line)
                except orjson.JSONDecodeError as err:
                    if not line.strip():
                        continue
                    raise LayoutError(f"{path}:{line_no}: not a JSON line ({err})") from None
                if not isinstance(cut, dict) or not isinstance(cut.get("id"), str) \
                        or not isinstance(cut.get("duration"), (int, float)) or not math.isfinite(cut["duration"]):
                    raise LayoutError(f"{path}:{line_no}: expected a Lhotse cut with a string id and a finite "
                                      f"duration in seconds")
                yield line_no, line, cut
    except (EOFError, OSError, zlib.error) as err:  # a truncated or corrupt gzip stream, a file that is not gzip
        raise LayoutError(f"{path}:{line_no + 1}: cannot be read ({err})") from None


_SUPERVISION_SPAN = ("id", "recording_id", "start", "duration", "channel", "custom")


def cut_captions(cut: Dict[str, Any]) -> List[tuple]:
    """(text, style, domain, source, derived, extra) of every caption slot of a cut dict, in order.

    ``custom["caption"]`` may be a string or a list of strings (the published CaptionStew form);
    a supervision without it is not a caption. ``extra`` keeps what else the supervision said
    (speaker, language, label fields in ``custom``) so curation carries it through, or None.
    Reads each supervision as :func:`audiotext.data.schema.caption_records` does (empty strings are
    kept here: curation counts them)."""
    out = []
    for sup in cut.get("supervisions") or []:
        custom = sup.get("custom") or {}
        fields = supervision_captions(custom)
        if fields is None:
            continue
        texts, style, domain, source, derived = fields
        extra = None
        if len(sup) > len(_SUPERVISION_SPAN) or len(custom) > 4 + (DERIVED in custom):
            fields = {k: v for k, v in sup.items() if k not in _SUPERVISION_SPAN and v is not None}
            labels = {k: v for k, v in custom.items() if k not in (CAPTION, STYLE, DOMAIN, SOURCE, DERIVED)}
            extra = (fields, labels) if fields or labels else None
        for text in texts:
            out.append((text if isinstance(text, str) else "", style, domain, source, derived, extra))
    return out


def cut_origin(cut: Dict[str, Any]) -> str:
    """The cut's origin id; a manifest without one makes each cut its own origin (``cut:<id>``)."""
    origin = (cut.get("custom") or {}).get(ORIGIN_ID) or f"cut:{cut['id']}"
    if not isinstance(origin, str):
        raise TypeError(f"origin_id must be a string, got {origin!r}")
    return origin


def read_origins(paths: Iterable[str]) -> Set[str]:
    """Every origin id in some manifests (the evaluation sets curation keeps training away from)."""
    origins: Set[str] = set()
    for path in paths:
        for line_no, _, cut in iter_cut_dicts(path):
            try:
                origins.add(cut_origin(cut))
            except TypeError as err:
                raise LayoutError(f"{path}:{line_no}: malformed cut ({err})") from None
    return origins


# --- statistics that a clip can be added to and taken out of ---------------------------------------


class CaptionTally:
    """Clips, seconds and captions by (domain, source, style); caption lengths; word counts.

    Pass 1 counts every surviving clip as if it stayed alone; pass 2 takes out the clips it merges or
    caps and adds the merged clip, so the sums over all workers are exactly those of the output."""

    def __init__(self):
        self.clips: Counter = Counter()  # (domain, source, style) of the clip's first caption
        self.seconds: Dict[tuple, float] = defaultdict(float)
        self.captions: Counter = Counter()  # (domain, source, style) of each caption
        self.lengths: Counter = Counter()  # index into LENGTH_BINS (0: no words)
        self.words: Counter = Counter()
        self._new_words: List[str] = []  # counted in bulk: Counter.update per caption costs more than the rest

    def add(self, duration: float, sups: List[Dict[str, Any]], keys: List[str], sign: int = 1) -> None:
        first = sups[0]["custom"]
        clip_key = (first[DOMAIN], first[SOURCE], first[STYLE])
        self.clips[clip_key] += sign
        self.seconds[clip_key] += sign * duration
        for sup, key in zip(sups, keys):
            custom = sup["custom"]
            self.captions[(custom[DOMAIN], custom[SOURCE], custom[STYLE])] += sign
            words = key.split()
            self.lengths[bisect.bisect_right(LENGTH_BINS, len(words))] += sign
            if sign > 0:
                self._new_words += words
            else:
                self.words.subtract(words)
        if len(self._new_words) > 1_000_000:
            self._flush_words()

    def vocabulary_size(self) -> int:
        self._flush_words()
        return sum(1 for n in self.words.values() if n > 0)

    def _flush_words(self) -> None:
        self.words.update(self._new_words)
        self._new_words = []

    def __getstate__(self):  # sent back from pool workers: count the pending words first
        self._flush_words()
        return self.__dict__

    def merge(self, other: "CaptionTally") -> None:
        self._flush_words()
        other._flush_words()
        for name in ("clips", "captions", "lengths", "words"):
            getattr(self, name).update(getattr(other, name))
        for key, value in other.seconds.items():
            self.seconds[key] += value


def _dedup(texts: Sequence[str], conf: CurationConfig, dropped: Counter) -> Tuple[List[int], List[str]]:
    """Indices and dedup keys of the captions to keep: exact duplicates (same key), then near
    duplicates (word-set Jaccard >= threshold) of an earlier kept caption are counted and left out."""
    if len(texts) == 1:
        return [0], [dedup_key(texts[0])]
    kept, keys, sets = [], [], []
    near = conf.near_duplicate_jaccard < 1.0
    for i, text in enumerate(texts):
        key = dedup_key(text)
        if key in keys:
            dropped["duplicate_exact"] += 1
            continue
        if near and keys:  # word sets only for clips with a second caption (most have one)
            if len(sets) < len(keys):
                sets = [frozenset(k.split()) for k in keys]
            words = frozenset(key.split())
            if any(_jaccard(words, other) >= conf.near_duplicate_jaccard for other in sets):
                dropped["duplicate_near"] += 1
                continue
            sets.append(words)
        kept.append(i)
        keys.append(key)
    return kept, keys


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _output_line(cut: Dict[str, Any], custom: Dict[str, Any], sups: List[Dict[str, Any]]) -> bytes:
    """The cut as read (recording and all) with its curated custom and supervisions; ``cut`` holds
    neither key (``orjson`` writes keys in insertion order, so they go last)."""
    return orjson.dumps(cut)[:-1] + b',"custom":' + orjson.dumps(custom) + b',"supervisions":' + orjson.dumps(sups) + b"}"


# --- pass 1: everything that concerns one clip alone --------------------------------------------------


@dataclass
class _Pass1Job:
    file_index: int
    path: str
    work_dir: str
    num_partitions: int
    conf: CurationConfig
    eval_origins: Optional[Set[str]]
    train: bool
    shard: int = 0
    num_shards: int = 1


def _unchanged(cut: Dict[str, Any], slots: list, usable: list, kept: List[int]) -> bool:
    """True when curation changes nothing in a cut: it has its origin id, one caption per supervision
    with all four fields, and every caption is kept as it was (so its line is written as read)."""
    if len(kept) != len(slots) or ORIGIN_ID not in (cut.get("custom") or {}):
        return False
    for sup, (text, *_), (normalized, *_) in zip(cut["supervisions"], slots, usable):
        custom = sup.get("custom") or {}
        if text != normalized or not isinstance(custom.get(CAPTION), str) or not isinstance(custom.get(STYLE), str) \
                or not isinstance(custom.get(DOMAIN), str) or not isinstance(custom.get(SOURCE), str):
            return False
    return len(cut["supervisions"]) == len(slots)


def _pass1(job: _Pass1Job) -> Dict[str, Any]:
    """Filter, normalise and de-duplicate each clip of one manifest and write its output line to the
    partition of its origin; count it as kept (pass 2 corrects the clips it merges or caps)."""
    conf = job.conf
    dropped: Counter = Counter()
    dropped_clips: Counter = Counter()
    captions_in: Counter = Counter()  # by source
    clips_in = 0
    tally = CaptionTally()
    cap_heaps: Dict[str, List[int]] = {s: [] for s in conf.source_caps}  # max-heaps (negated) of kept hashes
    handles: Dict[int, Any] = {}
    buffers: Dict[int, list] = {}
    line_no = 0
    try:
        for line_no, line, cut in iter_cut_dicts(job.path, job.shard, job.num_shards):
            clips_in += 1
            slots = cut_captions(cut)
            for slot in slots:
                captions_in[slot[3]] += 1
            origin = cut_origin(cut)
            duration = float(cut["duration"])
            reason = None
            if duration < conf.min_clip_duration:
                reason = "clip_too_short"
            elif duration > conf.max_clip_duration:
                reason = "clip_too_long"
            elif job.eval_origins is not None and origin in job.eval_origins:
                reason = "eval_overlap"
            if reason is not None:
                dropped[reason] += len(slots)
                dropped_clips[reason] += 1
                continue
            usable = []
            for slot in slots:
                text = normalize_text(slot[0])
                if not text:
                    dropped["empty"] += 1
                elif len(text) < conf.min_caption_chars:
                    dropped["caption_too_short"] += 1
                elif len(text) > conf.max_caption_chars:
                    dropped["caption_too_long"] += 1
                else:
                    usable.append((text,) + slot[1:])
            if not usable:
                dropped_clips["no_caption_left"] += 1
                continue
            indices, keys = _dedup([u[0] for u in usable], conf, dropped)
            if _unchanged(cut, slots, usable, indices):  # the common case: write the line as read
                tally.add(duration, cut["supervisions"], keys)
                _keep(job, cut["supervisions"][0]["custom"][SOURCE], cut_origin(cut), line_no, line.rstrip(),
                      cap_heaps, buffers, handles)
                continue
            cut_id = cut["id"]
            recording_id = (cut.get("recording") or {}).get("id", cut_id)
            channel = cut.get("channel", 0)
            sups = []
            for n, i in enumerate(indices):
                text, style, domain, source, derived, extra = usable[i]
                sup = {"id": f"{cut_id}-{n}", "recording_id": recording_id, "start": 0.0, "duration": duration,
                       "channel": channel}
                custom = {CAPTION: text, STYLE: style, DOMAIN: domain, SOURCE: source}
                if derived:
                    custom[DERIVED] = True
                if extra is not None:
                    sup.update(extra[0])
                    custom.update(extra[1])
                sup["custom"] = custom
                sups.append(sup)
            tally.add(duration, sups, keys)
            del cut["supervisions"]
            cut_custom = dict(cut.pop("custom", None) or {})
            cut_custom[ORIGIN_ID] = origin
            _keep(job, sups[0]["custom"][SOURCE], origin, line_no, _output_line(cut, cut_custom, sups),
                  cap_heaps, buffers, handles)
        for partition, buffer in buffers.items():
            _flush(job, partition, buffer, handles)
    except LayoutError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as err:  # a field of the wrong type or shape
        raise LayoutError(f"{job.path}:{line_no}: malformed cut ({type(err).__name__}: {err})") from None
    finally:
        for handle in handles.values():
            handle.close()
    return {"dropped": dropped, "dropped_clips": dropped_clips, "captions_in": captions_in, "clips_in": clips_in,
            "tally": tally, "cap_hashes": {s: [-h for h in heap] for s, heap in cap_heaps.items()}}


def _keep(job: _Pass1Job, source: str, origin: str, line_no: int, line: bytes, cap_heaps: Dict[str, List[int]],
          buffers: Dict[int, list], handles: Dict[int, Any]) -> None:
    """Queue a surviving clip's output line for the partition of its origin."""
    origin_hash = stable_hash(job.conf.seed, origin)
    if job.train and source in cap_heaps:  # keep the cap's smallest hashes seen so far
        heap = cap_heaps[source]
        if len(heap) < job.conf.source_caps[source]:
            heapq.heappush(heap, -origin_hash)
        elif heap and origin_hash < -heap[0]:
            heapq.heapreplace(heap, -origin_hash)
    partition = origin_hash % job.num_partitions
    buffer = buffers.setdefault(partition, [])
    buffer.append((origin, job.file_index, line_no, origin_hash, source, line))
    if len(buffer) >= FLUSH_RECORDS:
        _flush(job, partition, buffer, handles)


def _flush(job: _Pass1Job, partition: int, buffer: list, handles: Dict[int, Any]) -> None:
    """Append the buffered records of one partition as one length-prefixed marshal block."""
    if not buffer:
        return
    handle = handles.get(partition)
    if handle is None:
        handle = handles[partition] = open(
            os.path.join(job.work_dir, f"p{partition:05d}_f{job.file_index:05d}_s{job.shard:03d}.bin"), "wb",
            buffering=1 << 20)
    block = marshal.dumps(buffer)
    handle.write(len(block).to_bytes(8, "little"))
    handle.write(block)
    buffer.clear()


def _read_blocks(path: str) -> Iterator[tuple]:
    with open(path, "rb") as f:
        while True:
            size = f.read(8)
            if not size:
                return
            yield from marshal.loads(f.read(int.from_bytes(size, "little")))


# --- pass 2: what concerns several clips: merging by origin, caps, the shuffle -------------------------


@dataclass
class _Pass2Job:
    partition: int
    files: List[str]
    cap_thresholds: Dict[str, int]
    conf: CurationConfig
    train: bool


def _parsed(line: bytes) -> Tuple[Dict[str, Any], List[str]]:
    cut = orjson.loads(line)
    return cut, [dedup_key(sup["custom"][CAPTION]) for sup in cut["supervisions"]]


def _pass2(job: _Pass2Job) -> Dict[str, Any]:
    conf = job.conf
    groups: Dict[str, list] = defaultdict(list)
    for path in job.files:
        for record in _read_blocks(path):
            groups[record[0]].append(record)
    dropped: Counter = Counter()
    dropped_clips: Counter = Counter()
    merged = 0
    correction = CaptionTally()  # pass 1 counted every clip as kept alone: take out what this pass changes
    lines: List[bytes] = []
    for origin in sorted(groups):  # sorted: the output does not depend on the order files were read
        records = groups[origin]
        if job.train and job.cap_thresholds:
            capped = []
            for record in records:
                threshold = job.cap_thresholds.get(record[4])
                if threshold is not None and record[3] > threshold:
                    cut, keys = _parsed(record[5])
                    correction.add(cut["duration"], cut["supervisions"], keys, sign=-1)
                    dropped["source_cap"] += len(keys)
                    dropped_clips["source_cap"] += 1
                else:
                    capped.append(record)
            records = capped
            if not records:
                continue
        if len(records) == 1:
            lines.append(records[0][5])
            continue
        records.sort(key=lambda r: (r[1], r[2]))  # input priority: file order, then line
        parsed = [_parsed(r[5]) for r in records]
        for cut, keys in parsed:
            correction.add(cut["duration"], cut["supervisions"], keys, sign=-1)
        merged += len(records) - 1
        cut = parsed[0][0]
        all_sups = [sup for c, _ in parsed for sup in c["supervisions"]]
        indices, keys = _dedup([sup["custom"][CAPTION] for sup in all_sups], conf, dropped)
        sups = []
        for n, i in enumerate(indices):
            sup = dict(all_sups[i], id=f"{cut['id']}-{n}", duration=cut["duration"], channel=cut.get("channel", 0))
            sup["recording_id"] = cut["supervisions"][0]["recording_id"]
            sups.append(sup)
        correction.add(cut["duration"], sups, keys)
        custom = dict(cut.pop("custom"))
        custom["merged_ids"] = [c["id"] for c, _ in parsed[1:]]
        del cut["supervisions"]
        lines.append(_output_line(cut, custom, sups))
    random.Random(f"{conf.seed}/{job.partition}").shuffle(lines)
    payload = b"\n".join(lines) + b"\n" if lines else b""
    # one gzip member per partition: members concatenate into one valid .gz file (RFC 1952)
    compressed = gzip.compress(payload, compresslevel=1, mtime=0) if payload else b""
    return {"data": compressed, "clips": len(lines), "dropped": dropped, "dropped_clips": dropped_clips,
            "merged": merged, "tally": correction}


# --- driver -------------------------------------------------------------------------------------------


def _map(jobs: int, func, items: list) -> Iterator:
    if jobs <= 1 or len(items) <= 1:
        yield from map(func, items)
        return
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with context.Pool(min(jobs, len(items))) as pool:
        yield from pool.imap(func, items)  # in order: the output is the same for any number of jobs


def breakdown(tally: CaptionTally, position: int) -> Dict[str, Dict[str, Any]]:
    rows: Dict[str, list] = defaultdict(lambda: [0, 0, 0.0])
    for key, n in tally.clips.items():
        rows[key[position]][0] += n
        rows[key[position]][2] += tally.seconds[key]
    for key, n in tally.captions.items():
        rows[key[position]][1] += n
    return {name: {"clips": c, "captions": n, "hours": round(sec / 3600.0, 4)}
            for name, (c, n, sec) in sorted(rows.items()) if c or n}


def curate_split(inputs: Sequence[str], out_path: Path, conf: CurationConfig, *, train: bool,
                 eval_origins: Optional[Set[str]] = None, where: str = "") -> Dict[str, Any]:
    """Curate the manifests ``inputs`` (in priority order) into ``out_path``; returns the report.

    ``eval_origins`` (train only) are removed. Raises MissingFileError / LayoutError naming a
    missing manifest or a bad line. The output is written to a temporary name and renamed."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    for path in inputs:
        if not Path(path).is_file():
            raise MissingFileError(f"{where or 'curation'}: manifest not found: {path}")
    num_partitions = conf.num_partitions or max(
        1, min(4096, sum(Path(p).stat().st_size for p in inputs) * 6 // PARTITION_BYTES + 1))
    work_dir = tempfile.mkdtemp(prefix=".curation_", dir=out_path.parent)
    try:
        # a file larger than an even share of the work is read by several workers (each parses every
        # jobs-th line), so one large source does not leave the other cores idle
        sizes = [Path(p).stat().st_size for p in inputs]
        jobs1 = []
        for i, (path, size) in enumerate(zip(inputs, sizes)):
            shards = conf.jobs if conf.jobs > 1 and size * conf.jobs > sum(sizes) / 2 else 1
            jobs1 += [_Pass1Job(i, str(path), work_dir, num_partitions, conf, eval_origins if train else None, train,
                                shard, shards) for shard in range(shards)]
        jobs1.sort(key=lambda j: -sizes[j.file_index] / j.num_shards)  # largest first: the pool ends together
        dropped: Counter = Counter()
        dropped_clips: Counter = Counter()
        captions_in: Counter = Counter()
        clips_in = 0
        tally = CaptionTally()
        cap_hashes: Dict[str, List[int]] = defaultdict(list)
        for result in _map(conf.jobs, _pass1, jobs1):
            dropped.update(result["dropped"])
            dropped_clips.update(result["dropped_clips"])
            captions_in.update(result["captions_in"])
            clips_in += result["clips_in"]
            tally.merge(result["tally"])
            for source, hashes in result["cap_hashes"].items():
                cap_hashes[source].extend(hashes)
        # a capped source keeps its cap's smallest origin hashes over all its files
        thresholds = {s: sorted(h)[conf.source_caps[s] - 1] for s, h in cap_hashes.items()
                      if conf.source_caps.get(s, 0) > 0 and len(h) >= conf.source_caps[s]}
        thresholds.update({s: -1 for s, cap in conf.source_caps.items() if cap <= 0})
        by_partition: Dict[int, List[str]] = defaultdict(list)
        for name in sorted(os.listdir(work_dir)):  # p<partition>_f<file>_s<shard>.bin
            by_partition[int(name[1:6])].append(os.path.join(work_dir, name))
        jobs2 = [_Pass2Job(p, by_partition[p], thresholds, conf, train) for p in sorted(by_partition)]
        tmp_out = out_path.with_name("tmp_" + out_path.name)
        merged = 0
        clips_out = 0
        with open(tmp_out, "wb") as f:
            for result in _map(conf.jobs, _pass2, jobs2):
                f.write(result["data"])
                clips_out += result["clips"]
                merged += result["merged"]
                dropped.update(result["dropped"])
                dropped_clips.update(result["dropped_clips"])
                tally.merge(result["tally"])
            if clips_out == 0:  # an empty gzip stream, so the file is a valid (empty) manifest
                f.write(gzip.compress(b"", mtime=0))
        tmp_out.replace(out_path)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    captions_total_in = sum(captions_in.values())
    captions_out = sum(tally.captions.values())
    report = {
        "where": where,
        "inputs": [str(p) for p in inputs],
        "output": str(out_path),
        "clips_in": clips_in,
        "captions_in": captions_total_in,
        "clips": clips_out,
        "captions": captions_out,
        "hours": round(sum(tally.seconds.values()) / 3600.0, 4),
        "merged_clips": merged,
        "dropped_captions": {r: dropped[r] for r in DROP_REASONS if dropped[r]},
        "dropped_clips": {r: dropped_clips[r] for r in CLIP_DROP_REASONS if dropped_clips[r]},
        "captions_in_by_source": dict(sorted(captions_in.items())),
        "source_caps": dict(conf.source_caps) if train else {},
        "vocabulary_size": tally.vocabulary_size(),
        # captions with at least this many words (the key) and fewer than the next key
        "caption_words_histogram": {str(LENGTH_BINS[k - 1] if k else 0): tally.lengths[k]
                                    for k in sorted(tally.lengths) if tally.lengths[k]},
        "num_partitions": num_partitions,
    }
    for kind, position in (("domain", 0), ("source", 1), ("style", 2)):
        report[f"by_{kind}"] = breakdown(tally, position)
    report["clips_by_domain"] = {name: row["clips"] for name, row in report["by_domain"].items()}
    # the accounting identities: every input caption and clip is kept or dropped with a reason
    if captions_total_in != captions_out + sum(dropped.values()) or clips_out != sum(tally.clips.values()) \
            or clips_in != clips_out + merged + sum(dropped_clips.values()):
        raise AssertionError(f"curation accounting does not add up: {report}")
    for reason in sorted(set(dropped) | set(dropped_clips)):
        log.info("%s: dropped %d captions, %d clips (%s)", where or "curation", dropped[reason],
                 dropped_clips[reason], reason)
    log.info("%s: %d clips, %d captions, %.2f h (from %d clips, %d captions; %d clips merged by origin)",
             where or "curation", clips_out, captions_out, report["hours"], clips_in, captions_total_in, merged)
    return report


def curate_splits(splits: Dict[str, Sequence[str]], out_dir: Path, conf: CurationConfig, *,
                  train_split: str = "train", eval_manifests: Sequence[str] = ()) -> Dict[str, Dict[str, Any]]:
    """Curate every split into ``out_dir/cuts_<split>.jsonl.gz``; the training split is kept away from
    the origins of every other split and of ``eval_manifests``. Returns {split: report}."""
    out_dir = Path(out_dir)
    if train_split not in splits or not splits[train_split]:
        raise ValueError(f"no manifests for the training split {train_split!r}")
    for name, paths in splits.items():
        if not paths:
            raise ValueError(f"split {name!r} lists no manifests")
        for path in list(paths) + list(eval_manifests):
            if not Path(path).is_file():
                raise MissingFileError(f"{name}: manifest not found: {path}")
    eval_inputs = [p for name, paths in splits.items() if name != train_split for p in paths] + list(eval_manifests)
    eval_origins = read_origins(eval_inputs)
    log.info("%d evaluation origins from %d manifests", len(eval_origins), len(eval_inputs))
    reports = {}
    pending = {name: out_dir / f"pending_cuts_{name}.jsonl.gz" for name in splits}
    try:
        for name, paths in splits.items():
            train = name == train_split
            reports[name] = curate_split(paths, pending[name], conf, train=train,
                                         eval_origins=eval_origins if train else None, where=name)
            if train:
                reports[name]["eval_manifests"] = list(eval_inputs)
                reports[name]["eval_origins"] = len(eval_origins)
    except BaseException:
        for path in pending.values():  # an error leaves the earlier output as it was
            path.unlink(missing_ok=True)
        raise
    train_report = reports[train_split]
    unknown_caps = sorted(set(conf.source_caps) - set(train_report["captions_in_by_source"]))
    problem = None
    if unknown_caps:
        problem = (f"--source-cap names source(s) {', '.join(unknown_caps)} that no training manifest has; "
                   f"the sources are {', '.join(sorted(train_report['captions_in_by_source']))}")
    elif train_report["clips"] == 0:
        problem = (f"no training clip is left (dropped: {train_report['dropped_clips']}); check the filters "
                   f"and the evaluation sets")
    if problem:
        for path in pending.values():
            path.unlink(missing_ok=True)
        raise ValueError(problem)
    # every split is complete: replace the earlier output, including splits this run does not have
    for stale in out_dir.glob("cuts_*.jsonl.gz"):
        stale.unlink()
    for name, path in pending.items():
        final = out_dir / f"cuts_{name}.jsonl.gz"
        path.replace(final)
        reports[name]["output"] = str(final)
    return reports


def plot_statistics(report: Dict[str, Any], out_png: Path) -> Path:
    """Bar charts of clips / captions / hours per domain, style and source, and the caption-length
    histogram, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    for ax, kind in zip(axes.flat, ("domain", "style", "source")):
        rows = report.get(f"by_{kind}", {})
        names = list(rows)
        x = range(len(names))
        width = 0.27
        for offset, (metric, color) in zip((-width, 0, width), (("clips", "C0"), ("captions", "C1"), ("hours", "C2"))):
            values = [rows[n][metric] for n in names]
            scale = max(values) if values and max(values) > 0 else 1.0
            ax.bar([i + offset for i in x], [v / scale for v in values], width, color=color,
                   label=f"{metric} (max {scale:,.4g})")
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("share of the largest")
        ax.set_title(f"per {kind}")
        ax.legend(fontsize=7)
    ax = axes.flat[3]
    hist = report.get("caption_words_histogram", {})
    edges = [int(k) for k in hist]
    ax.bar(range(len(edges)), list(hist.values()), color="C3")
    ax.set_xticks(range(len(edges)))
    ax.set_xticklabels([f"{e}+" for e in edges], rotation=45, fontsize=8)
    ax.set_xlabel("caption length (words, bin lower edge)")
    ax.set_ylabel("captions")
    ax.set_title(f"caption lengths; vocabulary {report.get('vocabulary_size', 0):,} words")
    fig.suptitle(f"{report.get('where', '')}: {report.get('clips', 0):,} clips, {report.get('captions', 0):,} "
                 f"captions, {report.get('hours', 0):,.1f} h")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return out_png
