"""Shared pieces of the downstream preparers: errors, path checks and the CutSet writer.

Every preparer turns a data set's official metadata into a list of :class:`Item`
(split, audio path, clip id, label fields) and hands it to :func:`write_splits`,
which reads each file's header with ``Recording.from_file`` (no samples are
decoded for WAV/FLAC/AU), measures how much audio the file really holds
(:func:`audiotext.data.audio_checks.measured_frames`: a header may promise more),
skips and counts unreadable, truncated, empty and too short files, and writes
``cuts_<split>.jsonl.gz`` plus ``prepare_summary.json`` into the output directory.

Label schema of the first supervision's ``custom`` dict::

    {"label": str}            multi-class data sets
    {"labels": [str, ...]}    multi-label data sets (FSD50K, MagnaTagATune)
    "fold": int               where the data set has (official or documented) folds
    "domain": "sound" | "speech" | "music"
    "task": the preparer's name
    ...                       data-set extras (speaker, pitch, ...)
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from lhotse import CutSet, Recording, SupervisionSegment

# the errors and file readers every preparer shares (downstream and corpora alike)
from audiotext.data.layout import (  # noqa: F401  (re-exported for the downstream preparers)
    DataLayoutError, LayoutError, MissingFileError, index_audio, read_table, require_dir, require_file, to_float,
    to_int,
)

from audiotext.data.audio_checks import default_min_input_seconds, measured_frames  # noqa: E402
from audiotext.data.schema import ORIGIN_ID  # noqa: E402

DownstreamError = DataLayoutError  # the name the downstream preparers and their CLI use

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
SUMMARY_NAME = "prepare_summary.json"
DOMAINS = ("sound", "speech", "music")
# how many example paths per skip reason the summary keeps (the counts are always complete)
MAX_EXAMPLES = 50
# individual warnings logged per skip reason before only the final count is reported
MAX_WARNINGS = 20


@dataclass
class Item:
    """One clip to write: ``custom`` holds the label fields (without domain/task)."""

    split: str
    path: Path
    id: str
    custom: Dict[str, Any]
    # the audio's identity across corpora (audiotext.data.schema), so curation can keep training data
    # away from this evaluation set; default "<task>:<id>"
    origin: str = ""


@dataclass
class SkipLog:
    """Counts (and a few examples of) clips left out, by reason."""

    counts: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=dict)

    def add(self, reason: str, what: str, detail: str = "", warn: bool = True) -> None:
        """Count one clip under ``reason``; ``warn=False`` for deliberate exclusions (logged at debug)."""
        self.counts[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{what}: {detail}" if detail else what)
        if not warn:
            log.debug("leaving out %s (%s)", what, reason)
        elif self.counts[reason] <= MAX_WARNINGS:
            log.warning("skipping %s (%s)%s", what, reason, f": {detail}" if detail else "")
        elif self.counts[reason] == MAX_WARNINGS + 1:
            log.warning("more clips skipped as %r; only the count is reported from here on", reason)


def check_listed_audio(items: Sequence[Item], listed_in: PathLike) -> None:
    """Raise if any listed audio file is absent, naming the first one and the total."""
    missing = [item.path for item in items if not item.path.is_file()]
    if missing:
        more = f" ({len(missing)} of {len(items)} listed audio files are missing)" if len(missing) > 1 else ""
        raise MissingFileError(f"audio file listed in {listed_in} not found: {missing[0]}{more}")


def _read_header(item: Item) -> Tuple[Item, Optional[Recording], str, str]:
    """(item, recording, "", "") or (item, None, reason, detail); the recording's length is what
    the file really holds, not what its header promises."""
    try:
        recording = Recording.from_file(item.path, recording_id=item.id)
    except Exception as err:  # lhotse wraps every backend failure in its own error types
        detail = " ".join(str(err).split())
        detail = (detail[:400] + " ...") if len(detail) > 400 else (detail or type(err).__name__)
        return item, None, "unreadable", detail
    frames, why = measured_frames(item.path, recording.num_samples)
    if frames is None:
        return item, None, "truncated", why
    if frames < recording.num_samples:
        log.debug("%s: header promises %d frames, the file holds %d", item.path, recording.num_samples, frames)
        recording = replace(recording, num_samples=frames, duration=frames / recording.sampling_rate)
    return item, recording, "", ""


def _ordered_custom(custom: Dict[str, Any], domain: str, task: str) -> Dict[str, Any]:
    """label/labels, fold, domain, task first; then the data set's extras in their order."""
    out: Dict[str, Any] = {}
    for key in ("label", "labels", "fold"):
        if key in custom:
            out[key] = custom[key]
    out["domain"] = domain
    out["task"] = task
    for key, value in custom.items():
        if key not in out:
            out[key] = value
    return out


def write_splits(task: str, domain: str, items: Iterable[Item], output_dir: PathLike, *,
                 split_order: Sequence[str] = (), skipped: Optional[SkipLog] = None,
                 extra_summary: Optional[Dict[str, Any]] = None, num_jobs: int = 1,
                 sampling_rate: Optional[int] = None, min_seconds: Optional[float] = None) -> Dict[str, Path]:
    """Read the headers of ``items``' audio and write one CutSet per split.

    Splits are written in ``split_order``, then any other split in order of first
    appearance; a split without usable clips gets no file (lhotse would read an empty
    manifest back as ``None``) and is listed under ``empty_splits`` in the summary.
    ``cuts_*.jsonl.gz`` files of an earlier run in ``output_dir`` are removed first.
    Files are skipped, counted and logged as ``unreadable`` (lhotse cannot read their header),
    ``truncated`` (the header promises frames a non-WAV file does not hold), ``empty`` (zero
    samples) or ``too_short`` (under ``min_seconds``, default the default encoder's minimum input,
    :func:`~audiotext.data.audio_checks.default_min_input_seconds`); a WAV whose data chunk is
    cut short is measured by what it holds. ``skipped`` carries counts the preparer gathered
    before (missing clips, excluded files). ``sampling_rate``, when given, adds a lazy
    resampling transform to every recording at another rate. Returns ``{split: path}``
    and writes ``prepare_summary.json`` next to the CutSets.
    """
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    items = list(items)
    skipped = skipped if skipped is not None else SkipLog()
    splits: List[str] = list(split_order)
    for item in items:
        if item.split not in splits:
            splits.append(item.split)
    seen: Dict[str, Path] = {}
    for item in items:
        if item.id in seen:
            raise LayoutError(f"{task}: clip id {item.id!r} occurs twice ({seen[item.id]} and {item.path})")
        seen[item.id] = item.path

    if num_jobs > 1:
        with ThreadPoolExecutor(max_workers=num_jobs) as pool:
            headers = list(pool.map(_read_header, items))
    else:
        headers = [_read_header(item) for item in items]

    if min_seconds is None:
        min_seconds = default_min_input_seconds()
    cuts_by_split: Dict[str, list] = {split: [] for split in splits}
    labels_by_split: Dict[str, Counter] = {split: Counter() for split in splits}
    sample_rates: Counter = Counter()
    channels: Counter = Counter()
    seconds = 0.0
    for item, recording, reason, detail in headers:
        if recording is None:
            skipped.add(reason, str(item.path), detail)
            continue
        if recording.num_samples == 0:
            skipped.add("empty", str(item.path), "no audio samples")
            continue
        if recording.duration < min_seconds:  # shorter than the encoder's minimum input: no embedding
            skipped.add("too_short", str(item.path), f"{recording.duration * 1000:.2f} ms < {min_seconds * 1000:g} ms")
            continue
        sample_rates[recording.sampling_rate] += 1
        channels[recording.num_channels] += 1
        if sampling_rate and recording.sampling_rate != sampling_rate:
            recording = recording.resample(sampling_rate)
        seconds += recording.duration
        channel = recording.channel_ids[0] if recording.num_channels == 1 else list(recording.channel_ids)
        custom = _ordered_custom(item.custom, domain, task)
        supervision = SupervisionSegment(id=item.id, recording_id=recording.id, start=0.0,
                                         duration=recording.duration, channel=channel, custom=custom)
        cut = recording.to_cut()
        cut.supervisions = [supervision]
        cut.custom = {ORIGIN_ID: item.origin or f"{task}:{item.id}"}
        cuts_by_split[item.split].append(cut)
        if "label" in custom:
            labels_by_split[item.split][str(custom["label"])] += 1
        for label in custom.get("labels", ()):
            labels_by_split[item.split][str(label)] += 1

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for stale in sorted(output_dir.glob("cuts_*.jsonl.gz")):  # an earlier run's must not pass for this one's
        log.info("removing %s from an earlier run", stale)
        stale.unlink()
    paths: Dict[str, Path] = {}
    empty_splits = []
    for split in splits:
        path = output_dir / f"cuts_{split}.jsonl.gz"
        if not cuts_by_split[split]:  # lhotse reads an empty manifest back as None: write none
            empty_splits.append(split)
            log.warning("%s: split %s has no usable clips; no %s written", task, split, path.name)
            continue
        CutSet.from_cuts(cuts_by_split[split]).to_file(path)
        paths[split] = path

    vocabulary = sorted(set().union(*labels_by_split.values())) if labels_by_split else []
    summary: Dict[str, Any] = {
        "task": task,
        "domain": domain,
        "files": {split: str(path) for split, path in paths.items()},
        "clips": {split: len(cuts_by_split[split]) for split in splits},
        "empty_splits": empty_splits,
        "hours": round(seconds / 3600.0, 4),
        "num_labels": len(vocabulary),
        "label_counts": {split: dict(sorted(labels_by_split[split].items())) for split in splits},
        "sampling_rates": {str(k): v for k, v in sorted(sample_rates.items())},
        "channels": {str(k): v for k, v in sorted(channels.items())},
        "resampled_to": sampling_rate,
        "skipped": dict(sorted(skipped.counts.items())),
        "skipped_examples": {k: skipped.examples[k] for k in sorted(skipped.examples)},
    }
    if extra_summary:
        summary.update(extra_summary)
    (output_dir / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n")
    log.info("%s: wrote %s; skipped %s", task, {s: len(c) for s, c in cuts_by_split.items()},
             dict(skipped.counts) or "nothing")
    return paths


def read_summary(output_dir: PathLike) -> Dict[str, Any]:
    """The ``prepare_summary.json`` a preparer wrote into ``output_dir``."""
    return json.loads((Path(output_dir) / SUMMARY_NAME).read_text())
