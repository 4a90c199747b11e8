"""Nested data-scale subsets of a curated training split (the paper's 400K ⊂ 1M ⊂ 4M ⊂ 10.7M captions).

Every clip gets a **priority** from a hash of its ``origin_id`` alone: ``log(u) / w``, with
``u`` in (0, 1) from a 64-bit BLAKE2b hash of (``seed``, origin id) and ``w`` the configured weight
of the clip's source (default 1). Clips are ranked by priority, highest first, and a scale of size
``N`` is the shortest prefix of that ranking that holds at least ``N`` captions (or clips, or hours).
So:

* every smaller subset lies inside every larger one (a prefix of a prefix);
* a clip's captions stay together (a clip is one cut), and cuts that share an origin id get the
  group's highest priority, so they are taken together too;
* the selection does not depend on the order of the manifest or on which other scales are made;
* with equal weights each subset is a uniform sample of clips, so sources keep their shares of
  the full split; a weight ``w_s`` is weighted sampling without replacement (Efraimidis and
  Spirakis 2006, keys ``u^(1/w)``), which over-represents source ``s`` at small scales and converges
  to the full split as the scale grows.

The hash salt differs from the one curation uses for its per-source caps, so a capped source's kept
clips are not the first (or last) ones taken here.
"""
from __future__ import annotations

import gzip
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from audiotext.data.curation import (LENGTH_BINS, CaptionTally, breakdown, cut_captions, cut_origin, dedup_key,
                                     iter_cut_dicts, stable_hash)
from audiotext.data.layout import LayoutError
from audiotext.data.schema import DOMAIN, SOURCE, STYLE

log = logging.getLogger(__name__)

UNITS = ("captions", "clips", "hours")
_SALT = "data-scale subset"


@dataclass
class Scale:
    """One named scale: a size in ``captions``, ``clips`` or ``hours`` (exactly one), or ``all``."""

    name: str
    captions: Optional[int] = None
    clips: Optional[int] = None
    hours: Optional[float] = None
    all: bool = False

    def target(self) -> Optional[tuple]:
        """(unit, size), or None for the whole split."""
        if self.all:
            return None
        return next((unit, getattr(self, unit)) for unit in UNITS if getattr(self, unit) is not None)


@dataclass
class ScalesConfig:
    """``conf/scales.yaml``: ``seed`` (the hash salt), ``source_weights`` ({source: weight > 0};
    unnamed sources weigh 1) and ``scales`` ({name: {captions|clips|hours: size} or {all: true}})."""

    seed: int = 0
    source_weights: Dict[str, float] = field(default_factory=dict)
    scales: Dict[str, Dict[str, Any]] = field(default_factory=dict)


def parse_scales(conf: ScalesConfig, where: str = "scales") -> List[Scale]:
    """The scales of ``conf`` in file order; ValueError naming the scale for a bad entry."""
    import re

    out = []
    for name, spec in (conf.scales or {}).items():
        here = f"{where}: scale {name!r}"
        if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", str(name)):
            raise ValueError(f"{here}: a scale name may hold only letters, digits, '_', '.' and '-', and may not "
                             "start with '.'")
        if not isinstance(spec, dict):
            raise ValueError(f"{here}: expected a mapping like {{captions: 400000}} or {{all: true}}, got {spec!r}")
        unknown = sorted(set(spec) - set(UNITS) - {"all"})
        if unknown:
            raise ValueError(f"{here}: unknown key(s) {unknown}; a scale has one of {list(UNITS)} or all: true")
        given = [k for k in UNITS if spec.get(k) is not None] + (["all"] if spec.get("all") else [])
        if len(given) != 1:
            raise ValueError(f"{here}: give exactly one of captions, clips, hours or all: true (got {given or 'none'})")
        scale = Scale(str(name), all=bool(spec.get("all", False)))
        if not scale.all:
            unit = given[0]
            value = spec[unit]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                    or not math.isfinite(value) or (unit != "hours" and int(value) != value):
                raise ValueError(f"{here}: {unit} must be a positive {'number' if unit == 'hours' else 'integer'}, "
                                 f"got {value!r}")
            setattr(scale, unit, float(value) if unit == "hours" else int(value))
        out.append(scale)
    if not out:
        raise ValueError(f"{where}: no scales")
    for source, weight in (conf.source_weights or {}).items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise ValueError(f"{where}: source_weights.{source} must be a number > 0, got {weight!r}")
    return out


def load_scales(path: str) -> tuple:
    """(ScalesConfig, [Scale]) of a scales YAML file (FileNotFoundError / ConfigError / ValueError)."""
    from audiotext.config import dataclass_from_dict, load_yaml

    if not Path(path).is_file():
        raise FileNotFoundError(f"scales file not found: {path}")
    conf = dataclass_from_dict(ScalesConfig, load_yaml(path) or {}, str(path))
    return conf, parse_scales(conf, str(path))


def _source_of(cut: Dict[str, Any], captions: List[tuple]) -> str:
    return captions[0][3] if captions else "unknown"


def clip_priorities(manifest: str, seed: int, source_weights: Dict[str, float]) -> Dict[str, np.ndarray]:
    """One pass over ``manifest``: per cut (manifest order) its ``priority`` (float64), ``captions``,
    ``seconds`` and ``group`` (int64: cuts sharing an origin id share a group). LayoutError naming
    the line for a malformed cut."""
    priorities, captions, seconds, origin_keys = [], [], [], []
    sources_seen = set()
    for line_no, _, cut in iter_cut_dicts(manifest):
        try:
            caps = cut_captions(cut)
            origin = cut_origin(cut)
        except (TypeError, AttributeError) as err:
            raise LayoutError(f"{manifest}:{line_no}: malformed cut ({err})") from None
        h = stable_hash(seed, f"{_SALT}\x00{origin}")
        u = (h + 0.5) / 2.0 ** 64  # in (0, 1)
        source = _source_of(cut, caps)
        sources_seen.add(source)
        weight = float(source_weights.get(source, 1.0))
        priorities.append(math.log(u) / weight)
        captions.append(len(caps))
        seconds.append(float(cut["duration"]))
        origin_keys.append(h)
    if not priorities:
        raise ValueError(f"{manifest}: holds no cuts")
    unknown = sorted(set(source_weights) - sources_seen)
    if unknown:
        raise ValueError(f"source_weights name source(s) {', '.join(unknown)} that no clip of {manifest} has "
                         f"(a clip's source is its first caption's; the sources are {', '.join(sorted(sources_seen))})")
    keys = np.asarray(origin_keys, dtype=np.uint64)
    _, group = np.unique(keys, return_inverse=True)
    priority = np.asarray(priorities, dtype=np.float64)
    best = np.full(group.max() + 1, -np.inf)
    np.maximum.at(best, group, priority)  # an origin's cuts go in with its best-placed one
    return {"priority": best[group], "captions": np.asarray(captions, dtype=np.int64),
            "seconds": np.asarray(seconds, dtype=np.float64), "group": group.astype(np.int64)}


def subset_ranks(clips: Dict[str, np.ndarray]) -> np.ndarray:
    """The rank of every cut in the selection order (0 = taken first): priority descending, an
    origin's cuts adjacent (ties broken by group, then manifest order)."""
    order = np.lexsort((np.arange(len(clips["group"])), clips["group"], -clips["priority"]))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def subset_size(clips: Dict[str, np.ndarray], ranks: np.ndarray, scale: Scale) -> int:
    """How many cuts (a prefix of the ranking) make ``scale``: the first origin-group boundary at
    which the size reaches the target; all cuts when the split is smaller than the target."""
    n = len(ranks)
    target = scale.target()
    if target is None:
        return n
    unit, size = target
    order = np.argsort(ranks)
    per_cut = {"captions": clips["captions"], "clips": np.ones(n, dtype=np.int64),
               "hours": clips["seconds"] / 3600.0}[unit][order]
    cumulative = np.cumsum(per_cut)
    groups = clips["group"][order]
    boundary = np.ones(n, dtype=bool)  # True where a cut ends its origin group in the ranking
    boundary[:-1] = groups[1:] != groups[:-1]
    reached = np.flatnonzero((cumulative >= size - 1e-9) & boundary)
    return int(reached[0]) + 1 if len(reached) else n


def _report(name: str, scale: Scale, tally: CaptionTally, clips: int, total: Dict[str, float]) -> Dict[str, Any]:
    target = scale.target()
    report = {
        "where": f"scale {name}",
        "scale": name,
        "requested": {"all": True} if target is None else {target[0]: target[1]},
        "clips": clips,
        "captions": int(sum(tally.captions.values())),
        "hours": round(sum(tally.seconds.values()) / 3600.0, 4),
        "share_of_split": {k: round(v / total[k], 6) if total[k] else 0.0 for k, v in (
            ("clips", clips), ("captions", sum(tally.captions.values())), ("hours", sum(tally.seconds.values()) / 3600.0))},
        "vocabulary_size": tally.vocabulary_size(),
        "caption_words_histogram": {str(LENGTH_BINS[k - 1] if k else 0): tally.lengths[k]
                                    for k in sorted(tally.lengths) if tally.lengths[k]},
    }
    for kind, position in (("domain", 0), ("source", 1), ("style", 2)):
        report[f"by_{kind}"] = breakdown(tally, position)
    return report


def _fingerprint(manifest: str, seed: int, weights: Dict[str, float], scale: Scale) -> Dict[str, Any]:
    """What a scale's subset is made from: the manifest file (path, size, mtime), the hash salt,
    the weights and the size asked for."""
    st = Path(manifest).stat()
    target = scale.target()
    return {"manifest": str(Path(manifest).resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
            "seed": seed, "source_weights": weights, "requested": {"all": True} if target is None else
            {target[0]: target[1]}}


def make_subsets(manifest: str, out_dir: Path, scales: Sequence[Scale], seed: int = 0,
                 source_weights: Optional[Dict[str, float]] = None, plots: bool = True,
                 reuse: bool = False) -> Dict[str, Any]:
    """Write ``out_dir/<scale>/cuts_train.jsonl.gz`` for every scale (two passes over ``manifest``),
    its report ``out_dir/<scale>/subset.json`` (size reached, and clips, captions, hours per source,
    domain and style; and the scale's fingerprint: manifest path, size and mtime, seed, weights,
    size asked for), with ``plots`` ``out_dir/<scale>/subset.png``, and ``out_dir/subsets.json``
    (every scale made so far from the same manifest and hash). Returns the report of this call.

    With ``reuse``, a scale whose subset was made with the same fingerprint is kept as it is (the
    recipe calls this before every training run: an edited scale or a re-curated split is remade).
    A scale larger than the split gets the whole split (logged, and ``"whole_split": true`` in its
    report). Raises FileNotFoundError / LayoutError / ValueError naming the manifest or line.
    """
    out_dir = Path(out_dir)
    if not Path(manifest).is_file():
        raise FileNotFoundError(f"manifest not found: {manifest}")
    weights = dict(source_weights or {})
    kept: Dict[str, Dict[str, Any]] = {}
    for scale in scales if reuse else ():
        path = out_dir / scale.name / "subset.json"
        if not (path.is_file() and (out_dir / scale.name / "cuts_train.jsonl.gz").is_file()):
            continue
        try:
            earlier = json.loads(path.read_text())
        except ValueError:
            continue
        if earlier.get("fingerprint") == _fingerprint(manifest, seed, weights, scale):
            kept[scale.name] = earlier
            log.info("scale %s: up to date (%d captions), kept", scale.name, earlier["captions"])
    todo = [scale for scale in scales if scale.name not in kept]
    if todo:
        report = _make_subsets(manifest, out_dir, todo, seed, weights, plots)
    else:
        report = {"manifest": str(manifest), "seed": seed, "source_weights": weights,
                  "split": next(iter(kept.values()))["split"], "scales": {}}
    report["scales"] = {scale.name: kept.get(scale.name) or report["scales"][scale.name] for scale in scales}
    # subsets.json gathers every scale made so far from this manifest and hash (scales can be made
    # one at a time: a scale's subset does not depend on the others)
    combined = out_dir / "subsets.json"
    gathered = dict(report)
    if combined.is_file():
        try:
            earlier = json.loads(combined.read_text())
        except ValueError:
            earlier = {}
        if all(earlier.get(k) == report[k] for k in ("manifest", "seed", "source_weights", "split")):
            gathered["scales"] = {**{k: v for k, v in earlier.get("scales", {}).items() if k not in report["scales"]},
                                  **report["scales"]}
    _write_json(combined, gathered)
    return report


def _make_subsets(manifest: str, out_dir: Path, scales: Sequence[Scale], seed: int, weights: Dict[str, float],
                  plots: bool) -> Dict[str, Any]:
    clips = clip_priorities(manifest, seed, weights)
    ranks = subset_ranks(clips)
    n = len(ranks)
    total = {"clips": n, "captions": int(clips["captions"].sum()), "hours": float(clips["seconds"].sum()) / 3600.0}
    sizes = {s.name: subset_size(clips, ranks, s) for s in scales}
    tallies = {s.name: CaptionTally() for s in scales}
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = {s.name: out_dir / s.name / f"tmp_cuts_train.{os.getpid()}.jsonl.gz" for s in scales}
    handles = {}
    try:
        for s in scales:
            tmp[s.name].parent.mkdir(parents=True, exist_ok=True)
            handles[s.name] = gzip.open(tmp[s.name], "wb", compresslevel=5)
        for i, (_, line, cut) in enumerate(iter_cut_dicts(manifest)):
            wanted = [name for name, size in sizes.items() if ranks[i] < size]
            if not wanted:
                continue
            # one record per caption text (a supervision may hold a list of them; missing fields: unknown)
            caps = cut_captions(cut)
            records = [{"custom": {DOMAIN: c[2], SOURCE: c[3], STYLE: c[1]}} for c in caps]
            keys = [dedup_key(c[0]) for c in caps]
            if not line.endswith(b"\n"):
                line += b"\n"
            for name in wanted:
                handles[name].write(line)
                if records:
                    tallies[name].add(float(cut["duration"]), records, keys)
    except BaseException:
        for h in handles.values():
            h.close()
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise
    for h in handles.values():
        h.close()
    report: Dict[str, Any] = {"manifest": str(manifest), "seed": seed, "source_weights": weights,
                              "split": {k: round(v, 4) if k == "hours" else v for k, v in total.items()},
                              "scales": {}}
    for s in scales:
        final = out_dir / s.name / "cuts_train.jsonl.gz"
        tmp[s.name].replace(final)
        entry = _report(s.name, s, tallies[s.name], sizes[s.name], total)
        entry["output"] = str(final)
        target = s.target()
        entry["whole_split"] = target is not None and total[target[0]] < target[1]
        if entry["whole_split"]:
            log.warning("scale %s asks for %s %s; the split has %s: the subset is the whole split",
                        s.name, target[1], target[0], round(total[target[0]], 4))
        log.info("scale %s: %d clips, %d captions, %.3f h", s.name, entry["clips"], entry["captions"], entry["hours"])
        report["scales"][s.name] = entry
        if plots:
            from audiotext.data.curation import plot_statistics

            plot_statistics(entry, out_dir / s.name / "subset.png")
        entry["split"] = report["split"]
        entry["fingerprint"] = _fingerprint(manifest, seed, weights, s)
        _write_json(out_dir / s.name / "subset.json", entry)
    return report


def _write_json(path: Path, data: Dict[str, Any]) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def format_report(report: Dict[str, Any]) -> str:
    """A plain-text table: per scale, its size and per-domain / per-source shares of captions."""
    scales = report["scales"]
    lines = [f"{'scale':<12}{'clips':>10}{'captions':>11}{'hours':>10}  captions by domain"]
    for name, entry in scales.items():
        domains = ", ".join(f"{d} {row['captions'] / max(1, entry['captions']):.0%}"
                            for d, row in entry["by_domain"].items())
        lines.append(f"{name:<12}{entry['clips']:>10,}{entry['captions']:>11,}{entry['hours']:>10.2f}  {domains}")
    return "\n".join(lines)
