"""Training data sources, their mixing, and a data order that restores in O(1).

A run reads one or more **sources** (``data.sources``: ``{name, cuts, weight}``). Each source's
Lhotse cut manifest is **indexed** once: the byte offset and duration of every cut, beside an
uncompressed copy of the manifest that is memory-mapped, so any cut is read by its row number
without reading the ones before it. The index lives in ``<exp dir>/data_index`` and is reused by
every later start of the run.

The order of an epoch is a pure function of ``(seed, epoch, rank, world size)``:

1. each source is shuffled (``numpy`` generator seeded with ``(seed, epoch, source)``);
2. the sources are interleaved as ``lhotse.CutSet.mux`` interleaves them: each next cut comes from
   source ``s`` with probability proportional to ``w_s`` among the sources not yet exhausted, where
   ``w_s`` = hours of ``s`` × its configured weight (the published toolkit's weighting). Drawn
   here as a race of Poisson processes (source ``s`` emits at rate ``w_s``), which is that draw;
3. cuts are packed into batches of at most ``max_duration`` seconds in ``num_buckets`` duration
   buckets (bucket edges: duration quantiles), as lhotse's ``DynamicBucketingSampler`` packs;
4. batch ``i`` of the epoch goes to rank ``i mod world_size``; every rank gets the same number.

So the data position is just ``(epoch, batches consumed)``: restoring it recomputes the epoch's
order (about a second for a million cuts) and starts at that batch, reading no cut before it
(lhotse's samplers restore by replaying the epoch up to the position instead).

A source may instead be a Lhotse Shar directory (``{name, shar, weight}``; indexed by
:mod:`audiotext.data.shar`). Then each rank reads its own shards (:func:`sharded_epoch_plan`):
the shards are shuffled per epoch and dealt to the ranks by hours, manifest sources are split by
row, and each rank mixes and packs its share as above; all ranks stop at the shortest rank's count.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import mmap
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - lhotse installs orjson
    _loads = json.loads

log = logging.getLogger(__name__)


@dataclass
class SourceConfig:
    name: str = ""
    cuts: str = ""  # Lhotse cut manifest (.jsonl or .jsonl.gz)
    weight: float = 1.0  # multiplies the source's hours in the mixing weight
    shar: str = ""  # instead of cuts: a Lhotse Shar directory (python -m audiotext.bin.export_shar)


class ManifestIndex:
    """Random access to the cuts of one manifest by row number.

    ``durations`` (N,) float64 seconds and ``offsets`` (N + 1,) int64 byte offsets into ``jsonl``,
    an uncompressed JSON-lines manifest (the manifest itself when it is not compressed).
    """

    def __init__(self, name: str, jsonl: Path, durations: np.ndarray, offsets: np.ndarray, manifest: str):
        self.name = name
        self.jsonl = Path(jsonl)
        self.durations = durations
        self.offsets = offsets
        self.manifest = manifest
        self._map = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.durations)

    @property
    def hours(self) -> float:
        return float(self.durations.sum()) / 3600.0

    def __getstate__(self):  # worker processes open their own map
        state = dict(self.__dict__)
        state["_map"] = None
        state["_pid"] = None
        return state

    def cut(self, row: int):
        """The cut at ``row`` (a lhotse Cut)."""
        from lhotse.serialization import deserialize_item

        if self._map is None or self._pid != os.getpid():
            with open(self.jsonl, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            self._pid = os.getpid()
        line = self._map[int(self.offsets[row]):int(self.offsets[row + 1])]
        return deserialize_item(_loads(line))


def _cache_key(path: Path) -> str:
    st = path.stat()
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    return hashlib.sha1(raw).hexdigest()[:16]


def read_cut_lines(reader, where: str) -> Iterator[Tuple[int, bytes, Dict[str, Any]]]:
    """(line number, the line ending in a newline, the parsed cut) of every non-blank line of a
    JSON-lines cut file open in binary mode; ValueError naming ``where`` and the line for one that
    is not a cut with an id and a duration."""
    for number, line in enumerate(reader, start=1):
        if not line.strip():
            continue
        try:
            item = _loads(line)
            float(item["duration"]), item["id"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{where} line {number} is not a cut with a duration "
                             f"({type(err).__name__}: {err})") from None
        yield number, line if line.endswith(b"\n") else line + b"\n", item


def index_manifest(name: str, manifest: str, cache_dir: Path) -> ManifestIndex:
    """Index ``manifest`` (cached in ``cache_dir`` under a key of its path, size and mtime).

    Raises FileNotFoundError for a missing manifest, ValueError naming the manifest and line for
    a line that is not a JSON cut with a duration, or for a manifest without cuts.
    """
    path = Path(manifest)
    if path.is_dir():
        if (path / "cuts.000000.jsonl.gz").is_file():
            raise ValueError(f"data source {name!r}: {manifest} is a Shar directory; give it as shar: {manifest}")
        raise ValueError(f"data source {name!r}: {manifest} is a directory; give the cut manifest file "
                         "(e.g. cuts_train.jsonl.gz)")
    if not path.is_file():
        raise FileNotFoundError(f"data source {name!r}: manifest not found: {manifest}")
    cache_dir = Path(cache_dir)
    key = f"{name}-{_cache_key(path)}"
    index_file = cache_dir / f"{key}.npz"
    compressed = path.suffix == ".gz"
    jsonl = cache_dir / f"{key}.jsonl" if compressed else path
    if index_file.is_file() and jsonl.is_file():
        data = np.load(index_file)
        return ManifestIndex(name, jsonl, data["durations"], data["offsets"], str(manifest))
    cache_dir.mkdir(parents=True, exist_ok=True)
    durations: List[float] = []
    offsets = [0]
    reader = gzip.open(path, "rb") if compressed else open(path, "rb")
    tmp_jsonl = jsonl.with_name(jsonl.name + f".tmp-{os.getpid()}")
    writer = open(tmp_jsonl, "wb") if compressed else None
    try:
        with reader:
            for number, line, item in read_cut_lines(reader, f"data source {name!r}: {manifest}"):
                durations.append(float(item["duration"]))
                if len(durations) == 1 and not str(item.get("type", "")).endswith("Cut"):
                    raise ValueError(f"data source {name!r}: {manifest} is not a cut manifest (line {number} has "
                                     "no cut type: a recordings or supervisions manifest?)")
                if writer is not None:
                    writer.write(line)
                offsets.append(offsets[-1] + len(line))
                if writer is None and number != len(offsets) - 1:
                    # blank lines in an uncompressed manifest would shift the offsets: copy instead
                    raise ValueError(f"data source {name!r}: {manifest} has blank lines; compress it or remove them")
    finally:
        if writer is not None:
            writer.close()
    if not durations:
        raise ValueError(f"data source {name!r}: manifest {manifest} holds no cuts")
    if writer is not None:
        os.replace(tmp_jsonl, jsonl)
    tmp_index = index_file.with_name(index_file.name + f".tmp-{os.getpid()}.npz")
    np.savez(tmp_index, durations=np.asarray(durations, dtype=np.float64), offsets=np.asarray(offsets, dtype=np.int64))
    os.replace(tmp_index, index_file)
    return ManifestIndex(name, jsonl, np.asarray(durations, dtype=np.float64), np.asarray(offsets, dtype=np.int64),
                         str(manifest))


def is_shar(index) -> bool:
    """Whether ``index`` is a Shar directory's (:class:`audiotext.data.shar.SharIndex`)."""
    return getattr(index, "kind", "manifest") == "shar"


class SourceSet:
    """The indexed sources of a run (:class:`ManifestIndex` or :class:`audiotext.data.shar.SharIndex`),
    addressed by a global row (sources one after another)."""

    def __init__(self, indexes: Sequence[ManifestIndex], weights: Sequence[float]):
        self.indexes = list(indexes)
        self.weights = [float(w) for w in weights]
        self.starts = np.cumsum([0] + [len(i) for i in self.indexes])
        self.durations = np.concatenate([i.durations for i in self.indexes])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def cut(self, row: int):
        s = int(np.searchsorted(self.starts, row, side="right") - 1)
        return self.indexes[s].cut(int(row - self.starts[s]))

    @property
    def has_shar(self) -> bool:
        return any(is_shar(i) for i in self.indexes)

    def mixing_weights(self) -> np.ndarray:
        """Hours × configured weight per source (what the interleaving draws with)."""
        return np.array([i.hours * w for i, w in zip(self.indexes, self.weights)], dtype=np.float64)


def open_sources(sources: Sequence[SourceConfig], cache_dir: Path) -> SourceSet:
    """Index every source (ValueError for a bad weight or name, naming the source)."""
    seen = set()
    for i, src in enumerate(sources):
        where = f"data.sources[{i}]"
        if not src.name or not (src.cuts or src.shar):
            raise ValueError(f"{where}: a source needs a name and a cuts manifest or a shar directory, got {src}")
        if src.cuts and src.shar:
            raise ValueError(f"{where} ({src.name}): give cuts (a manifest) or shar (a Shar directory), not both")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", src.name):
            raise ValueError(f"{where}: source name {src.name!r} may hold only letters, digits, '_', '.' and '-'")
        if src.name in seen:
            raise ValueError(f"{where}: source name {src.name!r} appears twice")
        seen.add(src.name)
        if not src.weight > 0:
            raise ValueError(f"{where} ({src.name}): weight must be > 0, got {src.weight}")
    from audiotext.data.shar import index_shar

    indexes = [index_shar(src.name, src.shar, cache_dir) if src.shar else index_manifest(src.name, src.cuts, cache_dir)
               for src in sources]
    return SourceSet(indexes, [s.weight for s in sources])


# ---------------------------------------------------------------- the order of an epoch

@dataclass
class PackingConfig:
    max_duration: float  # seconds of audio per batch (per rank)
    num_buckets: int
    max_clip_duration: float  # longer cuts are never drawn


def interleave(sources: SourceSet, keep: np.ndarray, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """Global rows of one epoch in mixing order (kept rows only)."""
    if not shuffle:
        return np.flatnonzero(keep)
    weights = sources.mixing_weights()
    rows, times = [], []
    for s, index in enumerate(sources.indexes):
        start = int(sources.starts[s])
        local = np.flatnonzero(keep[start:start + len(index)]) + start
        if len(local) == 0 or weights[s] <= 0:
            continue
        rng = np.random.default_rng([seed, epoch, s])
        rows.append(local[rng.permutation(len(local))])
        # the k-th cut of source s arrives at the k-th event of a Poisson process of rate w_s
        times.append(np.cumsum(rng.exponential(1.0 / weights[s], size=len(local))))
    if not rows:
        return np.zeros(0, dtype=np.int64)
    rows_all, times_all = np.concatenate(rows), np.concatenate(times)
    return rows_all[np.argsort(times_all, kind="stable")]


def bucket_edges(durations: np.ndarray, num_buckets: int) -> np.ndarray:
    if num_buckets < 2 or len(durations) == 0:
        return np.zeros(0)
    return np.quantile(durations, np.linspace(0, 1, num_buckets + 1)[1:-1])


def pack(order: np.ndarray, durations: np.ndarray, conf: PackingConfig, drop_last: bool) -> List[np.ndarray]:
    """Pack rows (in ``order``) into batches of at most ``max_duration`` seconds per duration bucket."""
    edges = bucket_edges(durations[order], conf.num_buckets) if drop_last else np.zeros(0)
    buckets = np.searchsorted(edges, durations[order], side="right") if len(edges) else np.zeros(len(order), int)
    open_rows: Dict[int, List[int]] = {}
    open_seconds: Dict[int, float] = {}
    batches: List[np.ndarray] = []
    for row, b, d in zip(order.tolist(), buckets.tolist(), durations[order].tolist()):
        current = open_rows.setdefault(b, [])
        if current and open_seconds[b] + d > conf.max_duration:
            batches.append(np.asarray(current, dtype=np.int64))
            current = open_rows[b] = []
            open_seconds[b] = 0.0
        current.append(row)
        open_seconds[b] = open_seconds.get(b, 0.0) + d
    if not drop_last:
        batches.extend(np.asarray(r, dtype=np.int64) for b, r in sorted(open_rows.items()) if r)
    return batches


# streams of the seeded generators of the per-rank plan (apart from a manifest source's shuffle,
# which is the one of the single plan: default_rng([seed, epoch, source]))
_SHARD_ORDER, _CUT_ORDER, _MIX = 1, 2, 3


def check_shards(sources: SourceSet, world_size: int) -> None:
    """ValueError when a Shar source has fewer shards holding cuts than there are ranks."""
    for index in sources.indexes:
        if is_shar(index):
            shards = int((np.diff(index.shard_starts) > 0).sum())
            if shards < world_size:
                raise ValueError(f"data source {index.name!r} ({index.manifest}) has {shards} shards for world size "
                                 f"{world_size}: every rank reads its own shards; re-export it with a smaller "
                                 "--shard-size")


def rank_shares(sources: SourceSet, keep: np.ndarray, seed: int, epoch: int,
                world_size: int) -> List[List[np.ndarray]]:
    """``shares[r][s]``: the global rows of source ``s`` that rank ``r`` reads in ``epoch``, in order.

    A Shar source: its shards (those holding cuts) in a seeded shuffled order, each given to the
    rank with the fewest hours (of kept cuts) so far, ties to the lowest rank; a rank reads its
    shards in that order, the cuts of each shard shuffled (seeded per shard). A manifest source:
    shuffled as in :func:`interleave`, rank ``r`` taking rows ``r, r + W, ...`` of that order.
    """
    shares: List[List[np.ndarray]] = [[] for _ in range(world_size)]
    for s, index in enumerate(sources.indexes):
        start = int(sources.starts[s])
        if not is_shar(index):
            local = np.flatnonzero(keep[start:start + len(index)]) + start
            shuffled = local[np.random.default_rng([seed, epoch, s]).permutation(len(local))]
            for r in range(world_size):
                shares[r].append(shuffled[r::world_size])
            continue
        bounds = index.shard_starts
        shards = np.flatnonzero(np.diff(bounds) > 0)
        shards = shards[np.random.default_rng([seed, epoch, s, _SHARD_ORDER]).permutation(len(shards))]
        hours = np.zeros(world_size)
        taken: List[List[np.ndarray]] = [[] for _ in range(world_size)]
        for k in shards.tolist():
            rows = np.flatnonzero(keep[start + bounds[k]:start + bounds[k + 1]]) + start + int(bounds[k])
            rows = rows[np.random.default_rng([seed, epoch, s, _CUT_ORDER, k]).permutation(len(rows))]
            r = int(np.argmin(hours))  # the first of the least loaded
            taken[r].append(rows)
            hours[r] += sources.durations[rows].sum() / 3600.0
        for r in range(world_size):
            shares[r].append(np.concatenate(taken[r]) if taken[r] else np.zeros(0, dtype=np.int64))
    return shares


def mix(share: Sequence[np.ndarray], weights: np.ndarray, seed: int, epoch: int, rank: int) -> np.ndarray:
    """One rank's rows of all sources (``share[s]``, each in reading order) interleaved as
    :func:`interleave` does: a race of Poisson processes of rates ``weights`` (seeded per rank)."""
    rows, times = [], []
    for s, local in enumerate(share):
        if len(local) == 0 or weights[s] <= 0:
            continue
        rng = np.random.default_rng([seed, epoch, s, _MIX, rank])
        rows.append(local)
        times.append(np.cumsum(rng.exponential(1.0 / weights[s], size=len(local))))
    if not rows:
        return np.zeros(0, dtype=np.int64)
    rows_all, times_all = np.concatenate(rows), np.concatenate(times)
    return rows_all[np.argsort(times_all, kind="stable")]


@dataclass
class EpochPlan:
    """The training batches of one epoch on every rank (``batches[r]``: rank ``r``'s, all of one
    length) and ``dropped[r]``: the cuts of rank ``r``'s share in none of them (incomplete batches
    of its buckets, and the batches past the shortest rank's count)."""

    batches: List[List[np.ndarray]]
    dropped: List[int]


def sharded_epoch_plan(sources: SourceSet, conf: PackingConfig, seed: int, epoch: int,
                       world_size: int) -> EpochPlan:
    """Each rank on its own shards: per rank, :func:`rank_shares` interleaved by :func:`mix` and
    packed by :func:`pack`; every rank computes every rank's batches and all keep the shortest count.
    ValueError when a Shar source has fewer shards than ranks."""
    check_shards(sources, world_size)
    keep = sources.durations <= conf.max_clip_duration
    weights = sources.mixing_weights()
    shares = rank_shares(sources, keep, seed, epoch, world_size)
    packed = [pack(mix(shares[r], weights, seed, epoch, r), sources.durations, conf, drop_last=True)
              for r in range(world_size)]
    steps = min(len(b) for b in packed)
    dropped = [sum(len(x) for x in shares[r]) - sum(len(b) for b in packed[r][:steps]) for r in range(world_size)]
    return EpochPlan([b[:steps] for b in packed], dropped)


def epoch_batches(sources: SourceSet, conf: PackingConfig, seed: int, epoch: int, train: bool,
                  world_size: int = 1, rank: int = 0) -> List[np.ndarray]:
    """This rank's batches (arrays of global rows) of ``epoch``.

    Training: shuffled, mixed, bucketed; incomplete batches dropped; every rank gets
    ``len(all batches) // world_size``. With a Shar source among the sources, each rank reads its
    own shards instead (:func:`sharded_epoch_plan`). Evaluation: manifest order, no buckets,
    nothing dropped; ranks get ``ceil(len / world_size)`` entries, the missing ones empty (so ranks
    stay in step).
    """
    return _epoch(sources, conf, seed, epoch, train, world_size, rank)[0]


def _epoch(sources: SourceSet, conf: PackingConfig, seed: int, epoch: int, train: bool, world_size: int,
           rank: int) -> Tuple[List[np.ndarray], int]:
    """(this rank's batches, kept cuts of the epoch in no rank's batch)."""
    keep = sources.durations <= conf.max_clip_duration
    if train and sources.has_shar:
        plan = sharded_epoch_plan(sources, conf, seed, epoch, world_size)
        return plan.batches[rank], sum(plan.dropped)
    order = interleave(sources, keep, seed, epoch, shuffle=train)
    batches = pack(order, sources.durations, conf, drop_last=train)
    if train:
        per_rank = len(batches) // world_size
        given = batches[:per_rank * world_size]
        return batches[rank: per_rank * world_size: world_size], len(order) - sum(len(b) for b in given)
    per_rank = -(-len(batches) // world_size)
    mine = batches[rank::world_size]
    return mine + [np.zeros(0, dtype=np.int64)] * (per_rank - len(mine)), 0


# ---------------------------------------------------------------- the data state the trainer sees

@dataclass(frozen=True)
class BatchRequest:
    """What the sampler hands the dataset: which rows make batch ``index`` of ``epoch``."""

    epoch: int
    index: int
    rows: np.ndarray


class _ReadRequests(torch.utils.data.Dataset):
    """Reads a request's cuts and has the task's dataset make the batch (in a loader worker)."""

    def __init__(self, sources: SourceSet, dataset):
        self.sources = sources
        self.dataset = dataset

    def __getitem__(self, request: BatchRequest):
        cuts = [self.sources.cut(row) for row in request.rows.tolist()]
        return self.dataset.make_batch(cuts, request.epoch, request.index)


class _Requests(torch.utils.data.Sampler):
    def __init__(self, data: "DataStream"):
        self.data = data

    def __iter__(self) -> Iterator[BatchRequest]:
        d = self.data
        epoch, start = d.epoch, d.position
        batches = d.batches(epoch)
        for index in range(start, len(batches)):
            yield BatchRequest(epoch, index, batches[index])

    def __len__(self) -> int:
        return len(self.data.batches(self.data.epoch)) - self.data.position


class DataStream:
    """Batches of the sources for one rank, and their position: the trainer's view of data.

    ``set_epoch(e)`` starts epoch ``e``; iterating yields the epoch's batches (a :class:`Batch`
    each, built by ``dataset`` from a :class:`BatchRequest`) from the current position and counts a
    batch as consumed when it is handed out, not when a loader worker prefetched it.
    ``state()`` / ``restore(state)`` save and restore ``{epoch, batches_consumed, world_size}``.
    """

    def __init__(self, sources: SourceSet, dataset, packing: PackingConfig, seed: int, train: bool,
                 world_size: int = 1, rank: int = 0, num_workers: int = 0, prefetch_factor: int = 4):
        self.sources = sources
        self.dataset = dataset
        self.packing = packing
        self.seed = seed
        self.train = train
        self.world_size = world_size
        self.rank = rank
        self.epoch = 0
        self.position = 0
        self._plan: Tuple[int, Optional[List[np.ndarray]]] = (-1, None)
        self._dropped: Dict[int, int] = {}
        if train and sources.has_shar:
            check_shards(sources, world_size)
        self.num_too_long = int((sources.durations > packing.max_clip_duration).sum())
        if self.num_too_long:
            log.warning("%d cuts longer than max_clip_duration %.1f s are never drawn", self.num_too_long,
                        packing.max_clip_duration)
        self.loader = torch.utils.data.DataLoader(
            _ReadRequests(sources, dataset), sampler=_Requests(self), batch_size=None, num_workers=num_workers,
            persistent_workers=num_workers > 0, prefetch_factor=prefetch_factor if num_workers > 0 else None,
        )

    def batches(self, epoch: int) -> List[np.ndarray]:
        if self._plan[0] != epoch:
            started = time.time()
            batches, dropped = _epoch(self.sources, self.packing, self.seed, epoch, self.train, self.world_size,
                                      self.rank)
            self._plan = (epoch, batches)
            log.debug("epoch %d order: %d batches in %.2f s", epoch, len(batches), time.time() - started)
            if dropped and epoch not in self._dropped:
                log.info("epoch %d: %d cuts are in no rank's batch (incomplete batches of the buckets%s)", epoch,
                         dropped, ", and batches past the rank with the fewest"
                         if self.sources.has_shar and self.world_size > 1 else "")
            self._dropped[epoch] = dropped
        return self._plan[1]

    def dropped_cuts(self, epoch: Optional[int] = None) -> int:
        """Kept cuts (not too long) of ``epoch`` (default: the current one) that no rank is given:
        those of incomplete batches, and, when ranks read their own Shar shards, those of the
        batches a rank has beyond the rank with the fewest (summed over ranks)."""
        epoch = self.epoch if epoch is None else epoch
        self.batches(epoch)
        return self._dropped[epoch]

    def num_batches(self, epoch: Optional[int] = None) -> int:
        return len(self.batches(self.epoch if epoch is None else epoch))

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def __iter__(self):
        for batch in self.loader:
            self.position += 1
            yield batch

    def order(self) -> Dict[str, Any]:
        """What defines the data order: a position means nothing under other values."""
        return {"seed": self.seed, "max_duration": self.packing.max_duration, "num_buckets": self.packing.num_buckets,
                "max_clip_duration": self.packing.max_clip_duration,
                "sources": [[i.name, w, len(i)] + (["shar", i.num_shards] if is_shar(i) else [])
                            for i, w in zip(self.sources.indexes, self.sources.weights)]}

    def state(self) -> Dict[str, Any]:
        return {"epoch": self.epoch, "batches_consumed": self.position, "world_size": self.world_size,
                "order": self.order()}

    def restore(self, state: Dict[str, Any]) -> None:
        """Continue at ``state``'s position. ValueError when it was saved with another world size or
        another data order (seed, batching, sources), whose batches are other batches."""
        if int(state["world_size"]) != self.world_size:
            raise ValueError(f"the checkpoint's data position was saved with world size {state['world_size']}; "
                             f"this run has {self.world_size} (resume with the same number of processes)")
        saved, now = state.get("order"), self.order()
        if saved is not None and saved != now:
            changed = sorted(k for k in now if saved.get(k) != now[k])
            raise ValueError(f"the checkpoint's data position belongs to another data order: {', '.join(changed)} "
                             f"changed (saved {[saved.get(k) for k in changed]}, now {[now[k] for k in changed]}); "
                             "resume with the data settings and trainer.seed of the run")
        self.epoch, self.position = int(state["epoch"]), int(state["batches_consumed"])


def training_sources(conf, cache_dir: Path) -> SourceSet:
    """The training sources of a ``DataConfig``: ``data.sources``, or ``data.train_cuts`` as one
    source named ``train`` (ValueError when both or neither are given)."""
    if conf.sources and conf.train_cuts:
        raise ValueError("data: give data.sources or data.train_cuts, not both")
    if not conf.sources and not conf.train_cuts:
        raise FileNotFoundError("data: no training data (set data.train_cuts or data.sources)")
    sources = conf.sources or [SourceConfig(name="train", cuts=conf.train_cuts)]
    return open_sources(sources, cache_dir)


def make_stream(sources: SourceSet, dataset, conf, seed: int, train: bool, world_size: int = 1,
                rank: int = 0) -> DataStream:
    """A :class:`DataStream` over ``sources`` with the batching and loader settings of ``conf``
    (a ``DataConfig``)."""
    if not conf.max_duration > 0 or not conf.max_clip_duration > 0:
        raise ValueError(f"data.max_duration and data.max_clip_duration must be > 0 seconds, got "
                         f"{conf.max_duration} and {conf.max_clip_duration}")
    packing = PackingConfig(max_duration=conf.max_duration, num_buckets=conf.num_buckets,
                            max_clip_duration=conf.max_clip_duration)
    return DataStream(sources, dataset, packing, seed, train, world_size, rank, conf.num_workers,
                      conf.prefetch_factor)
