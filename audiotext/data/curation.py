"""Curation (the stew): prepared per-corpus manifests -> one curated CutSet per split, streaming.

What it does to the training split, in order, per input clip (pass 1, one worker per input file):
  - text normalisation of every caption (Unicode NFKC, control characters removed, white space
    collapsed); a caption empty after it is dropped (``empty``), one shorter than
    ``min_caption_chars`` or longer than ``max_caption_chars`` too (``caption_too_short`` /
    ``caption_too_long``);
  - the duration filter, default 1-60 s as in the published recipe (``clip_too_short`` /
    ``clip_too_long``: all the clip's captions go with it);
  - removal of every clip whose ``origin_id`` appears in an evaluation set (``eval_overlap``): the
    other splits given to :func:`curate_splits` and any extra evaluation manifests (downstream
    data sets such as ESC-50 or VoxCeleb1, whose cuts carry origin ids too);
  - a per-source cap in clips (``source_cap``), chosen by a hash of ``origin_id`` so that a smaller
    cap keeps a subset of what a larger one keeps.
Survivors are written to hash partitions by ``origin_id``. Pass 2 (one worker per partition) merges
the clips that share an origin across sources into one clip holding all their captions (the
recording of the first input that has it; ``merged_clips`` counts the others), drops exact
duplicates (the same text after lower-casing and removing punctuation, ``duplicate_exact``) and
near duplicates (word-set Jaccard similarity >= ``near_duplicate_jaccard``, ``duplicate_near``)
within the merged clip, and shuffles the partition. Partitions are assigned by a seeded hash and
each is shuffled, so the concatenation is a uniformly random order of all clips (the two-pass
shuffle of Rao 1961 and Sandelius 1962) with memory bounded by the largest partition.
Evaluation splits get the same normalisation, de-duplication and merging, never caps or overlap
removal.

The report accounts for every input caption: ``captions_in == captions_out + sum(dropped_captions)``,
and for every input clip: ``clips_in == clips_out + merged_clips + sum(dropped_clips)``. It also
gives clips / captions / hours per domain, style and source, a caption-length histogram (words) and
the vocabulary size; :func:`plot_statistics` draws them.

Manifests are read and written as JSON lines (the Lhotse ``MonoCut`` dict), not as Lhotse objects:
curation never needs the audio, and a dict costs a fraction of an object to build at 10M captions.
"""
from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import logging
import multiprocessing as mp
import os
import pickle
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

from audiotext.data.layout import LayoutError, MissingFileError
from audiotext.data.schema import CAPTION, DERIVED, DOMAIN, ORIGIN_ID, SOURCE, STYLE, UNKNOWN

log = logging.getLogger(__name__)

DROP_REASONS = ("empty", "caption_too_short", "caption_too_long", "clip_too_short", "clip_too_long", "eval_overlap",
                "source_cap", "duplicate_exact", "duplicate_near")
CLIP_DROP_REASONS = ("clip_too_short", "clip_too_long", "eval_overlap", "source_cap", "no_caption_left")
LENGTH_BINS = (1, 2, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200)  # caption words, lower edges
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PARTITION_BYTES = 48 << 20  # target size of one pass-2 partition on disk (pickled records)


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
    """NFKC, control characters removed, white space collapsed and stripped."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def dedup_key(text: str) -> str:
    """The key two captions are exact duplicates under: lower case, no punctuation, single spaces."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def _stable_hash(seed: int, text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=str(seed).encode()).digest(), "big")


def _open_text(path: str):
    return gzip.open(path, "rt", encoding="utf-8") if str(path).endswith(".gz") else open(path, encoding="utf-8")


def iter_cut_dicts(path: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """(line number, cut dict) of a JSONL(.gz) CutSet manifest; a bad line is a LayoutError naming it."""
    if not Path(path).is_file():
        raise MissingFileError(f"manifest not found: {path}")
    with _open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                cut = json.loads(line)
            except json.JSONDecodeError as err:
                raise LayoutError(f"{path}:{line_no}: not a JSON line ({err.msg})") from None
            if not isinstance(cut, dict) or "id" not in cut or "duration" not in cut:
                raise LayoutError(f"{path}:{line_no}: expected a Lhotse cut with an id and a duration")
            yield line_no, cut


_SUPERVISION_SPAN = ("id", "recording_id", "start", "duration", "channel", "custom")


def cut_captions(cut: Dict[str, Any]) -> List[tuple]:
    """(text, style, domain, source, derived, extra) of every caption slot of a cut dict, in order.

    ``custom["caption"]`` may be a string or a list of strings (the published CaptionStew form);
    a supervision without it is not a caption. ``extra`` keeps what else the supervision said
    (speaker, language, label fields in ``custom``) so curation carries it through, or None.
    Mirrors :func:`audiotext.data.schema.caption_records` on dicts (empty strings are kept here:
    curation counts them)."""
    out = []
    for sup in cut.get("supervisions") or []:
        custom = sup.get("custom") or {}
        value = custom.get(CAPTION)
        if value is None:
            continue
        texts = [value] if isinstance(value, str) else list(value)
        style = str(custom.get(STYLE) or UNKNOWN)
        domain = str(custom.get(DOMAIN) or UNKNOWN)
        source = str(custom.get(SOURCE) or UNKNOWN)
        derived = bool(custom.get(DERIVED, False))
        fields = {k: v for k, v in sup.items() if k not in _SUPERVISION_SPAN and v is not None}
        labels = {k: v for k, v in custom.items() if k not in (CAPTION, STYLE, DOMAIN, SOURCE, DERIVED)}
        extra = (fields, labels) if fields or labels else None
        for text in texts:
            out.append((text if isinstance(text, str) else "", style, domain, source, derived, extra))
    return out


def cut_origin(cut: Dict[str, Any]) -> str:
    """The cut's origin id; a manifest without one makes each cut its own origin (``cut:<id>``)."""
    return (cut.get("custom") or {}).get(ORIGIN_ID) or f"cut:{cut['id']}"


def read_origins(paths: Iterable[str]) -> Set[str]:
    """Every origin id in some manifests (the evaluation sets curation keeps training away from)."""
    origins: Set[str] = set()
    for path in paths:
        for _, cut in iter_cut_dicts(path):
            origins.add(cut_origin(cut))
    return origins


# --- pass 1: filter each input clip, write survivors to partitions by origin ------------------------


@dataclass
class _Pass1Job:
    file_index: int
    path: str
    work_dir: str
    num_partitions: int
    conf: CurationConfig
    eval_origins: Optional[Set[str]]
    train: bool


def _primary_source(captions) -> str:
    return captions[0][3] if captions else UNKNOWN


def _pass1(job: _Pass1Job) -> Dict[str, Any]:
    conf = job.conf
    dropped: Counter = Counter()
    dropped_clips: Counter = Counter()
    captions_in: Counter = Counter()  # by source
    clips_in = 0
    cap_heaps: Dict[str, List[int]] = {s: [] for s in conf.source_caps}  # max-heaps (negated) of kept hashes
    handles = {}
    try:
        for line_no, cut in iter_cut_dicts(job.path):
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
            kept = []
            for text, style, domain, source, derived, extra in slots:
                text = normalize_text(text)
                if not text:
                    dropped["empty"] += 1
                elif len(text) < conf.min_caption_chars:
                    dropped["caption_too_short"] += 1
                elif len(text) > conf.max_caption_chars:
                    dropped["caption_too_long"] += 1
                else:
                    kept.append((text, style, domain, source, derived, extra))
            if not kept:
                dropped_clips["no_caption_left"] += 1
                continue
            source = _primary_source(kept)
            origin_hash = _stable_hash(conf.seed, origin)
            if job.train and source in cap_heaps:  # keep the cap's smallest hashes seen so far
                heap = cap_heaps[source]
                if len(heap) < conf.source_caps[source]:
                    heapq.heappush(heap, -origin_hash)
                elif heap and origin_hash < -heap[0]:
                    heapq.heapreplace(heap, -origin_hash)
            cut.pop("supervisions", None)
            record = (origin, (job.file_index, line_no), origin_hash, source, cut, kept)
            partition = origin_hash % job.num_partitions
            handle = handles.get(partition)
            if handle is None:
                handle = handles[partition] = open(
                    os.path.join(job.work_dir, f"p{partition:05d}_f{job.file_index:05d}.pkl"), "wb", buffering=1 << 20)
            pickle.dump(record, handle, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for handle in handles.values():
            handle.close()
    return {"dropped": dropped, "dropped_clips": dropped_clips, "captions_in": captions_in, "clips_in": clips_in,
            "cap_hashes": {s: [-h for h in heap] for s, heap in cap_heaps.items()}}


# --- pass 2: merge by origin, de-duplicate, shuffle, serialise one partition ---------------------------


@dataclass
class _Pass2Job:
    partition: int
    files: List[str]
    cap_thresholds: Dict[str, int]
    conf: CurationConfig
    train: bool


def _word_set(key: str) -> frozenset:
    return frozenset(key.split())


def _jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _supervision(cut: Dict[str, Any], index: int, caption) -> Dict[str, Any]:
    text, style, domain, source, derived, extra = caption
    custom = {CAPTION: text, STYLE: style, DOMAIN: domain, SOURCE: source}
    if derived:
        custom[DERIVED] = True
    sup = {"id": f"{cut['id']}-{index}", "recording_id": (cut.get("recording") or {}).get("id", cut["id"]),
           "start": 0.0, "duration": cut["duration"], "channel": cut.get("channel", 0)}
    if extra is not None:
        sup.update(extra[0])
        custom.update(extra[1])
    sup["custom"] = custom
    return sup


def _pass2(job: _Pass2Job) -> Dict[str, Any]:
    conf = job.conf
    groups: Dict[str, list] = defaultdict(list)
    for path in job.files:
        with open(path, "rb") as f:
            while True:
                try:
                    record = pickle.load(f)
                except EOFError:
                    break
                groups[record[0]].append(record)
    dropped: Counter = Counter()
    dropped_clips: Counter = Counter()
    merged = 0
    stats = {k: defaultdict(lambda: [0, 0, 0.0]) for k in ("domain", "style", "source")}  # clips, captions, s
    lengths: Counter = Counter()
    vocabulary: Set[str] = set()
    lines: List[str] = []
    for origin in sorted(groups):  # sorted: the output does not depend on the order files were read
        records = sorted(groups[origin], key=lambda r: r[1])
        if job.train and job.cap_thresholds:
            capped = []
            for record in records:
                threshold = job.cap_thresholds.get(record[3])
                if threshold is not None and record[2] > threshold:
                    dropped["source_cap"] += len(record[5])
                    dropped_clips["source_cap"] += 1
                else:
                    capped.append(record)
            records = capped
            if not records:
                continue
        kept, kept_keys, kept_sets = [], set(), []
        for record in records:
            for caption in record[5]:
                key = dedup_key(caption[0])
                if key in kept_keys:
                    dropped["duplicate_exact"] += 1
                    continue
                words = _word_set(key)
                if conf.near_duplicate_jaccard < 1.0 and any(
                        _jaccard(words, other) >= conf.near_duplicate_jaccard for other in kept_sets):
                    dropped["duplicate_near"] += 1
                    continue
                kept_keys.add(key)
                kept_sets.append(words)
                kept.append(caption)
        merged += len(records) - 1
        cut = records[0][4]
        custom = dict(cut.get("custom") or {})
        custom[ORIGIN_ID] = origin
        if len(records) > 1:
            custom["merged_ids"] = [r[4]["id"] for r in records[1:]]
        cut["custom"] = custom
        cut["supervisions"] = [_supervision(cut, i, c) for i, c in enumerate(kept)]
        lines.append(json.dumps(cut, ensure_ascii=False))
        duration = float(cut["duration"])
        first = kept[0]
        for kind, value in (("domain", first[2]), ("source", first[3]), ("style", first[1])):
            stats[kind][value][0] += 1
            stats[kind][value][2] += duration
        for text, style, domain, source, _, _ in kept:
            stats["domain"][domain][1] += 1
            stats["style"][style][1] += 1
            stats["source"][source][1] += 1
            words = dedup_key(text).split()
            lengths[_length_bin(len(words))] += 1
            vocabulary.update(words)
    random.Random(f"{conf.seed}/{job.partition}").shuffle(lines)
    payload = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
    # one gzip member per partition: members concatenate into one valid .gz file (RFC 1952)
    compressed = gzip.compress(payload, compresslevel=1, mtime=0) if payload else b""
    return {"data": compressed, "clips": len(lines), "dropped": dropped, "dropped_clips": dropped_clips,
            "merged": merged, "stats": {k: {name: list(v) for name, v in d.items()} for k, d in stats.items()},
            "lengths": lengths, "vocabulary": vocabulary}


def _length_bin(n: int) -> int:
    edge = 0
    for lower in LENGTH_BINS:
        if n >= lower:
            edge = lower
    return edge


# --- driver -------------------------------------------------------------------------------------------


def _map(jobs: int, func, items: list) -> Iterator:
    if jobs <= 1 or len(items) <= 1:
        yield from map(func, items)
        return
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with context.Pool(min(jobs, len(items))) as pool:
        yield from pool.imap(func, items)  # in order: the output is the same for any number of jobs


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
        jobs1 = [_Pass1Job(i, str(p), work_dir, num_partitions, conf, eval_origins if train else None, train)
                 for i, p in enumerate(inputs)]
        dropped: Counter = Counter()
        dropped_clips: Counter = Counter()
        captions_in: Counter = Counter()
        clips_in = 0
        cap_hashes: Dict[str, List[int]] = defaultdict(list)
        for result in _map(conf.jobs, _pass1, jobs1):
            dropped.update(result["dropped"])
            dropped_clips.update(result["dropped_clips"])
            captions_in.update(result["captions_in"])
            clips_in += result["clips_in"]
            for source, hashes in result["cap_hashes"].items():
                cap_hashes[source].extend(hashes)
        # a capped source keeps its cap's smallest origin hashes over all its files
        thresholds = {s: sorted(h)[conf.source_caps[s] - 1] for s, h in cap_hashes.items()
                      if conf.source_caps.get(s, 0) > 0 and len(h) >= conf.source_caps[s]}
        thresholds.update({s: -1 for s, cap in conf.source_caps.items() if cap <= 0})
        by_partition: Dict[int, List[str]] = defaultdict(list)
        for name in sorted(os.listdir(work_dir)):
            by_partition[int(name[1:6])].append(os.path.join(work_dir, name))
        jobs2 = [_Pass2Job(p, by_partition[p], thresholds, conf, train) for p in sorted(by_partition)]
        tmp_out = out_path.with_name("tmp_" + out_path.name)
        merged = 0
        clips_out = 0
        stats = {k: defaultdict(lambda: [0, 0, 0.0]) for k in ("domain", "style", "source")}
        lengths: Counter = Counter()
        vocabulary: Set[str] = set()
        with open(tmp_out, "wb") as f:
            for result in _map(conf.jobs, _pass2, jobs2):
                f.write(result["data"])
                clips_out += result["clips"]
                merged += result["merged"]
                dropped.update(result["dropped"])
                dropped_clips.update(result["dropped_clips"])
                lengths.update(result["lengths"])
                vocabulary |= result["vocabulary"]
                for kind, values in result["stats"].items():
                    for name, (clips, captions, seconds) in values.items():
                        row = stats[kind][name]
                        row[0] += clips
                        row[1] += captions
                        row[2] += seconds
            if clips_out == 0:  # an empty gzip stream, so the file is a valid (empty) manifest
                f.write(gzip.compress(b"", mtime=0))
        tmp_out.replace(out_path)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    captions_total_in = sum(captions_in.values())
    captions_out = sum(row[1] for row in stats["domain"].values())
    report = {
        "where": where,
        "inputs": [str(p) for p in inputs],
        "output": str(out_path),
        "clips_in": clips_in,
        "captions_in": captions_total_in,
        "clips": clips_out,
        "captions": captions_out,
        "hours": round(sum(row[2] for row in stats["domain"].values()) / 3600.0, 4),
        "merged_clips": merged,
        "dropped_captions": {r: dropped[r] for r in DROP_REASONS if dropped[r]},
        "dropped_clips": {r: dropped_clips[r] for r in CLIP_DROP_REASONS if dropped_clips[r]},
        "captions_in_by_source": dict(sorted(captions_in.items())),
        "source_caps": dict(conf.source_caps) if train else {},
        "vocabulary_size": len(vocabulary),
        "caption_words_histogram": {str(k): lengths[k] for k in sorted(lengths)},
        "num_partitions": num_partitions,
    }
    for kind in ("domain", "style", "source"):
        report[f"by_{kind}"] = {name: {"clips": c, "captions": n, "hours": round(s / 3600.0, 4)}
                                for name, (c, n, s) in sorted(stats[kind].items())}
    report["clips_by_domain"] = {name: row["clips"] for name, row in report["by_domain"].items()}
    # the accounting identities: every input caption and clip is kept or dropped with a reason
    assert captions_total_in == captions_out + sum(dropped.values()), (captions_total_in, captions_out, dropped)
    assert clips_in == clips_out + merged + sum(dropped_clips.values()), (clips_in, clips_out, merged, dropped_clips)
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
    eval_inputs = [p for name, paths in splits.items() if name != train_split for p in paths] + list(eval_manifests)
    eval_origins = read_origins(eval_inputs)
    log.info("%d evaluation origins from %d manifests", len(eval_origins), len(eval_inputs))
    reports = {}
    for name, paths in splits.items():
        train = name == train_split
        reports[name] = curate_split(paths, out_dir / f"cuts_{name}.jsonl.gz", conf, train=train,
                                     eval_origins=eval_origins if train else None, where=name)
        if train:
            reports[name]["eval_manifests"] = list(eval_inputs)
            reports[name]["eval_origins"] = len(eval_origins)
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
