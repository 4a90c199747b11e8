"""Lhotse Shar as a training data source: export a cut manifest to Shar, and index a Shar directory.

A Shar directory (lhotse's layout) holds numbered shards: ``cuts.NNNNNN.jsonl.gz`` (the cuts, their
recordings replaced by a placeholder) and ``recording.NNNNNN.tar`` (per cut, in the same order, an
audio member ``<cut id>.<format>`` followed by a metadata member ``<cut id>.json``). We store only the
``recording`` field (no features), and a ``shar_info.json`` beside the shards.

:func:`export_shar` writes one with ``CutSet.to_shar``. :func:`index_shar` indexes one like a
manifest (:class:`audiotext.data.sources.ManifestIndex`): the rows of every shard in shard order,
their durations and byte offsets in an uncompressed copy of the cut lines, the row range of each
shard, and per row the byte offset and size of its audio member in the shard's tar, so
:meth:`SharIndex.cut` reads one cut and its audio without reading anything before them. Which rank
reads which shard is decided in :mod:`audiotext.data.sources`.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import mmap
import os
import re
import tarfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from audiotext.data.sources import ManifestIndex, read_cut_lines

log = logging.getLogger(__name__)

AUDIO_FORMATS = ("original", "flac", "wav")
INFO_FILE = "shar_info.json"
_CUT_SHARD = re.compile(r"cuts\.(\d{6})\.jsonl\.gz")
_SHARD_FILE = re.compile(r"(cuts\.\d{6}\.jsonl\.gz|recording\.\d{6}\.tar)")


try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - lhotse installs orjson
    _loads = json.loads


# ---------------------------------------------------------------- export

def export_shar(cuts: str, out_dir: str, audio: str = "original", shard_size: int = 1000,
                jobs: int = 1) -> Dict[str, Any]:
    """Write the cuts of manifest ``cuts`` with their audio as a Shar directory ``out_dir``.

    ``audio``: ``original`` (lhotse 1.33 does not copy the file's bytes: it decodes each cut and
    encodes it again in its file's own format, as 16-bit PCM, so a 16-bit WAV or FLAC comes back
    sample for sample, while 24-bit or float files lose what lies below 16 bits), ``flac`` or ``wav``
    (re-encoded as 16-bit PCM: equally lossless for 16-bit sources; FLAC is about 3-7x smaller).
    ``shard_size``: cuts per shard; ``jobs``: processes writing shards. Features are not stored.
    A cut whose audio cannot be read is skipped (lhotse's ``fault_tolerant``), counted and logged.
    ``out_dir`` is created; returns what is written to its ``shar_info.json``: shards, cuts, hours,
    audio_format, source_manifest, shard_size, skipped_unreadable (count) and skipped_examples (ids).

    Raises FileNotFoundError for a missing manifest; ValueError for a bad format/size/jobs, an
    ``out_dir`` that already holds shards (named), or a manifest without cuts.
    """
    from lhotse import CutSet

    if audio not in AUDIO_FORMATS:
        raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {audio!r}")
    if shard_size < 1 or jobs < 1:
        raise ValueError(f"shard size and jobs must be >= 1, got {shard_size} and {jobs}")
    source = Path(cuts)
    if not source.is_file():
        raise FileNotFoundError(f"cut manifest not found: {cuts}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a directory")
    if out.is_dir():
        held = sorted(p.name for p in out.iterdir() if _SHARD_FILE.fullmatch(p.name) or p.name == INFO_FILE)
        if held:
            raise ValueError(f"output directory {out} already holds Shar shards ({held[0]}, {len(held)} files "
                             "in all); give an empty or new directory")
    out.mkdir(parents=True, exist_ok=True)
    wanted: List[str] = []
    seconds: Dict[str, float] = {}
    try:
        manifest = CutSet.from_file(source)
        for cut in manifest or []:
            wanted.append(cut.id)
            seconds[cut.id] = cut.duration
    except (TypeError, ValueError, KeyError, AttributeError) as err:  # lhotse's errors for a line that is no cut
        raise ValueError(f"{cuts} (cut {len(wanted) + 1}) is not a Lhotse cut manifest "
                         f"({type(err).__name__}: {err})") from None
    if not wanted:
        raise ValueError(f"cut manifest {cuts} holds no cuts")
    manifest.map(_without_features).to_shar(out, fields={"recording": audio}, shard_size=shard_size,
                                            num_jobs=jobs, fault_tolerant=True, warn_unused_fields=False)
    written: List[str] = []
    shards = 0
    for path in _cut_shards(out):
        shards += 1
        with gzip.open(path, "rb") as f:
            written.extend(_loads(line)["id"] for line in f if line.strip())
    kept = set(written)
    skipped = [cut_id for cut_id in wanted if cut_id not in kept]
    if skipped:
        log.warning("skipped %d of %d cuts whose audio could not be read (first: %s)", len(skipped), len(wanted),
                    ", ".join(skipped[:5]))
    info = {"shards": shards, "cuts": len(written), "hours": sum(seconds[c] for c in written) / 3600.0,
            "audio_format": audio, "shard_size": shard_size, "source_manifest": str(source.resolve()),
            "fields": ["recording"], "skipped_unreadable": len(skipped), "skipped_examples": skipped[:20]}
    tmp = out / (INFO_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp, out / INFO_FILE)
    if not written:
        raise ValueError(f"no cut's audio could be read: all {len(wanted)} skipped (first: {', '.join(skipped[:3])}); "
                         f"{out} holds no shards (see {INFO_FILE} there)")
    return info


def _without_features(cut):
    return cut.drop_features() if cut.has_features else cut


def _cut_shards(directory: Path) -> List[Path]:
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _CUT_SHARD.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


# ---------------------------------------------------------------- index

class SharIndex(ManifestIndex):
    """Random access to the cuts of one Shar directory by row number (shards one after another).

    ``durations`` (N,) float64 seconds; ``offsets`` (N + 1,) int64 byte offsets of the cut lines in
    ``jsonl`` (an uncompressed copy of all cut shards); ``shard_starts`` (S + 1,) int64: shard ``k``
    holds rows ``shard_starts[k]:shard_starts[k+1]``; ``audio_offsets`` / ``audio_sizes`` (N,)
    int64: where row's audio bytes lie in ``tars[shard of row]``.
    """

    kind = "shar"

    def __init__(self, name: str, directory: str, jsonl: Path, durations: np.ndarray, offsets: np.ndarray,
                 shard_starts: np.ndarray, audio_offsets: np.ndarray, audio_sizes: np.ndarray, tars: Sequence[str],
                 audio_names: Sequence[str]):
        super().__init__(name, jsonl, durations, offsets, directory)
        self.shard_starts = shard_starts
        self.audio_offsets = audio_offsets
        self.audio_sizes = audio_sizes
        self.tars = list(tars)
        self.audio_names = list(audio_names)
        self._files: Dict[int, int] = {}

    @property
    def num_shards(self) -> int:
        return len(self.tars)

    def shard_of(self, row: int) -> int:
        return int(np.searchsorted(self.shard_starts, row, side="right") - 1)

    def __getstate__(self):  # worker processes open their own files
        state = dict(self.__dict__)
        state.update(_map=None, _files={}, _pid=None)
        return state

    def __del__(self):
        for fd in getattr(self, "_files", {}).values():
            if self._pid == os.getpid():
                try:
                    os.close(fd)
                except OSError:
                    pass

    def cut(self, row: int):
        """The cut at ``row`` (a lhotse MonoCut) with its recording's audio in memory."""
        from lhotse.serialization import deserialize_item
        from lhotse.shar.utils import fill_shar_placeholder

        if self._pid != os.getpid():
            self._map, self._files, self._pid = None, {}, os.getpid()
        if self._map is None:
            with open(self.jsonl, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        cut = deserialize_item(_loads(self._map[int(self.offsets[row]):int(self.offsets[row + 1])]))
        shard = self.shard_of(row)
        fd = self._files.get(shard)
        if fd is None:
            fd = self._files[shard] = os.open(self.tars[shard], os.O_RDONLY)
        size = int(self.audio_sizes[row])
        data = os.pread(fd, size, int(self.audio_offsets[row]))
        if len(data) != size:
            raise ValueError(f"data source {self.name!r}: {self.tars[shard]} is shorter than when it was indexed "
                             f"(cut {cut.id})")
        fill_shar_placeholder(cut, data=data, tarpath=self.audio_names[row], field="recording")
        return cut


def _shar_key(name: str, shards: List[Path], tars: List[Path]) -> str:
    parts = [str(shards[0].parent.resolve())]
    for p in shards + tars:
        st = p.stat()
        parts.append(f"{p.name}|{st.st_size}|{st.st_mtime_ns}")
    return f"{name}-shar-{hashlib.sha1('|'.join(parts).encode()).hexdigest()[:16]}"


def index_shar(name: str, directory: str, cache_dir: Path) -> SharIndex:
    """Index the Shar directory ``directory`` (cached in ``cache_dir`` under a key of its shard files'
    names, sizes and mtimes).

    Raises FileNotFoundError for a missing directory, one without ``cuts.NNNNNN.jsonl.gz`` shards, or
    a cuts shard without its ``recording.NNNNNN.tar``; ValueError naming the shard file for a line
    that is not a cut with a duration, a cut without its audio member, or audio members whose ids
    do not match the shard's cuts (count or order), and for a directory without cuts.
    """
    root = Path(directory)
    where = f"data source {name!r}"
    if not root.is_dir():
        raise FileNotFoundError(f"{where}: Shar directory not found: {directory}")
    shards = _cut_shards(root)
    if not shards:
        raise FileNotFoundError(f"{where}: {directory} holds no cut shards (cuts.NNNNNN.jsonl.gz); "
                                "export one with python -m audiotext.bin.export_shar")
    tars = [p.with_name(p.name.replace("cuts.", "recording.", 1).replace(".jsonl.gz", ".tar")) for p in shards]
    for shard, tar in zip(shards, tars):
        if not tar.is_file():
            raise FileNotFoundError(f"{where}: {shard} has no recording tar ({tar.name} is missing)")
    cache_dir = Path(cache_dir)
    key = _shar_key(name, shards, tars)
    index_file, jsonl = cache_dir / f"{key}.npz", cache_dir / f"{key}.jsonl"
    if index_file.is_file() and jsonl.is_file():
        data = np.load(index_file)
        return SharIndex(name, str(directory), jsonl, data["durations"], data["offsets"], data["shard_starts"],
                         data["audio_offsets"], data["audio_sizes"], [str(t) for t in tars],
                         data["audio_names"].tolist())
    cache_dir.mkdir(parents=True, exist_ok=True)
    durations: List[float] = []
    offsets, shard_starts = [0], [0]
    audio_offsets: List[int] = []
    audio_sizes: List[int] = []
    audio_names: List[str] = []
    tmp_jsonl = jsonl.with_name(jsonl.name + f".tmp-{os.getpid()}")
    with open(tmp_jsonl, "wb") as writer:
        for shard, tar in zip(shards, tars):
            ids: List[str] = []
            with gzip.open(shard, "rb") as reader:
                for _, line, item in read_cut_lines(reader, f"{where}: {shard}"):
                    durations.append(float(item["duration"]))
                    ids.append(str(item["id"]))
                    writer.write(line)
                    offsets.append(offsets[-1] + len(line))
            members = _audio_members(tar, where)
            if len(members) != len(ids):
                raise ValueError(f"{where}: {tar} holds {len(members)} cuts' audio, {shard.name} holds {len(ids)} "
                                 "cuts (a shard written only in part?)")
            for cut_id, (member_id, member, offset, size) in zip(ids, members):
                if member_id != cut_id:
                    raise ValueError(f"{where}: {tar} holds audio of {member_id!r} where {shard.name} has cut "
                                     f"{cut_id!r} (ids do not match)")
                if member.endswith(".nodata"):
                    raise ValueError(f"{where}: cut {cut_id!r} of {shard.name} has no audio in {tar.name}")
                audio_offsets.append(offset)
                audio_sizes.append(size)
                audio_names.append(member)
            shard_starts.append(len(durations))
    if not durations:
        tmp_jsonl.unlink()
        raise ValueError(f"{where}: Shar directory {directory} holds no cuts")
    os.replace(tmp_jsonl, jsonl)
    arrays = dict(durations=np.asarray(durations, dtype=np.float64), offsets=np.asarray(offsets, dtype=np.int64),
                  shard_starts=np.asarray(shard_starts, dtype=np.int64),
                  audio_offsets=np.asarray(audio_offsets, dtype=np.int64),
                  audio_sizes=np.asarray(audio_sizes, dtype=np.int64), audio_names=np.asarray(audio_names))
    tmp_index = index_file.with_name(index_file.name + f".tmp-{os.getpid()}.npz")
    np.savez(tmp_index, **arrays)
    os.replace(tmp_index, index_file)
    return SharIndex(name, str(directory), jsonl, arrays["durations"], arrays["offsets"], arrays["shard_starts"],
                     arrays["audio_offsets"], arrays["audio_sizes"], [str(t) for t in tars], audio_names)


def _audio_members(tar: Path, where: str):
    """(cut id, member name, data offset, size) of each cut's audio member in ``tar``, in order.

    A Shar tar holds per cut its data member then its metadata member (``.json``, or ``.nometa``
    with a ``.nodata`` placeholder for a cut without that field)."""
    try:
        with tarfile.open(tar, "r:") as archive:
            members = archive.getmembers()
    except (tarfile.TarError, OSError) as err:
        raise ValueError(f"{where}: {tar} is not a readable tar ({err})") from None
    if len(members) % 2:
        raise ValueError(f"{where}: {tar} holds an odd number of members ({len(members)}): every cut needs an "
                         "audio member and a metadata member")
    out = []
    for data, meta in zip(members[0::2], members[1::2]):
        cut_id, _, _ = data.name.rpartition(".")
        meta_id, _, meta_ext = meta.name.rpartition(".")
        if meta_ext not in ("json", "nometa") or meta_id != cut_id:
            raise ValueError(f"{where}: {tar}: member {data.name} is not followed by its metadata "
                             f"(found {meta.name})")
        out.append((cut_id, data.name, int(data.offset_data), int(data.size)))
    return out


def read_info(directory: str) -> Optional[Dict[str, Any]]:
    """The ``shar_info.json`` of a Shar directory, or None when it has none."""
    path = Path(directory) / INFO_FILE
    return json.loads(path.read_text()) if path.is_file() else None
