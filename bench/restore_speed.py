"""Restoring the data position of a resumed run on a large manifest: audiotext vs lhotse.

    python bench/restore_speed.py --num-cuts 1000000 --lhotse-cuts 200000

Writes a manifest of ``--num-cuts`` cuts (durations 1-30 s; the audio is never opened), then
times, in this process:

* audiotext: indexing the manifest (once per experiment), and a restore at 90 % of epoch 0: load
  the cached index, compute the epoch's order, read the first batch after the position;
* lhotse (the baseline): ``DynamicBucketingSampler.load_state_dict`` at 90 % of epoch 0 over a lazy
  manifest of ``--lhotse-cuts`` cuts (it replays the epoch up to the position), then its next batch.

Prints the times and, per cut of manifest, the ratio lhotse / audiotext. Timings only: nothing is
asserted (these machines are shared).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_manifest(path: Path, num_cuts: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    durations = rng.uniform(1.0, 30.0, num_cuts).round(2)
    with gzip.open(path, "wt", compresslevel=1) as f:
        for i, d in enumerate(durations.tolist()):
            cut = {"id": f"c{i:08d}", "start": 0.0, "duration": d, "channel": 0,
                   "recording": {"id": f"r{i:08d}", "sources": [{"type": "file", "channels": [0],
                                                                  "source": f"/audio/r{i:08d}.flac"}],
                                 "sampling_rate": 16000, "num_samples": int(d * 16000), "duration": d,
                                 "channel_ids": [0]},
                   "supervisions": [{"id": f"s{i:08d}", "recording_id": f"r{i:08d}", "start": 0.0, "duration": d,
                                     "channel": 0, "custom": {"caption": "a dog barks twice in a quiet room"}}],
                   "type": "MonoCut"}
            f.write(json.dumps(cut) + "\n")


def audiotext_restore(manifest: Path, cache: Path, max_duration: float):
    from audiotext.data.sources import PackingConfig, SourceConfig, epoch_batches, open_sources

    start = time.perf_counter()
    open_sources([SourceConfig("train", str(manifest))], cache)
    indexing = time.perf_counter() - start
    start = time.perf_counter()
    sources = open_sources([SourceConfig("train", str(manifest))], cache)  # cached: what a resume does
    batches = epoch_batches(sources, PackingConfig(max_duration, 8, 30.0), seed=0, epoch=0, train=True)
    position = int(0.9 * len(batches))
    first = [sources.cut(int(r)).id for r in batches[position]]
    restore = time.perf_counter() - start
    return indexing, restore, len(batches), len(first)


def lhotse_restore(manifest: Path, max_duration: float):
    from lhotse import CutSet
    from lhotse.dataset import DynamicBucketingSampler

    def sampler():
        return DynamicBucketingSampler(CutSet.from_file(manifest), max_duration=max_duration, num_buckets=8,
                                       shuffle=True, drop_last=True, seed=0, num_cuts_for_bins_estimate=2000,
                                       buffer_size=5000)

    # the state a checkpoint at 90 % of the epoch holds (counting batches costs one pass itself)
    count = sum(1 for _ in sampler())
    position = int(0.9 * count)
    s = sampler()
    for i, _ in enumerate(s):
        if i + 1 == position:
            break
    state = s.state_dict()
    start = time.perf_counter()
    restored = sampler()
    restored.load_state_dict(state)
    first = next(iter(restored))
    return time.perf_counter() - start, count, len(first)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-cuts", type=int, default=1_000_000)
    parser.add_argument("--lhotse-cuts", type=int, default=200_000, help="manifest size for the lhotse baseline")
    parser.add_argument("--max-duration", type=float, default=640.0, help="seconds per batch (the published 640)")
    parser.add_argument("--out", help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = tmp / "big.jsonl.gz"
        start = time.perf_counter()
        write_manifest(big, args.num_cuts)
        print(f"wrote {args.num_cuts} cuts in {time.perf_counter() - start:.1f} s")
        indexing, ours, batches, first = audiotext_restore(big, tmp / "index", args.max_duration)
        print(f"audiotext: index {args.num_cuts} cuts once: {indexing:.1f} s; restore at batch "
              f"{int(0.9 * batches)} of {batches}: {ours:.2f} s ({first} cuts read)")
        small = tmp / "small.jsonl.gz"
        write_manifest(small, args.lhotse_cuts)
        theirs, count, first = lhotse_restore(small, args.max_duration)
        print(f"lhotse DynamicBucketingSampler: restore at batch {int(0.9 * count)} of {count} "
              f"({args.lhotse_cuts} cuts): {theirs:.2f} s")
        per_cut_ours = ours / args.num_cuts
        per_cut_theirs = theirs / args.lhotse_cuts
        print(f"per cut of manifest: lhotse / audiotext = {per_cut_theirs / per_cut_ours:.1f}x; lhotse at "
              f"{args.num_cuts} cuts, extrapolated linearly: {per_cut_theirs * args.num_cuts:.0f} s")
        if args.out:
            Path(args.out).write_text(json.dumps({
                "num_cuts": args.num_cuts, "audiotext_index_s": indexing, "audiotext_restore_s": ours,
                "lhotse_cuts": args.lhotse_cuts, "lhotse_restore_s": theirs,
                "ratio_per_cut": per_cut_theirs / per_cut_ours}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
