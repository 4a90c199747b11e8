"""Data path speed: x real time per core and padded fraction, against a simple baseline loader.

    python bench/data_speed.py --cuts egs/captionstew/data/manifests/cuts_train.jsonl.gz

Both loaders run in this process on one thread (so the number is per core):
  baseline  fixed-size random batches (batch_size=32) of soundfile + fbank per clip
  audiotext the recipe's path: indexed sources, duration-bucketed order -> AudioCaptionDataset
            (checked audio loading, fbank, SpecAugment, tokenisation)
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch


def padded_fraction(lengths_per_batch) -> float:
    padded = total = 0
    for lens in lengths_per_batch:
        padded += max(lens) * len(lens)
        total += sum(lens)
    return 1.0 - total / padded


def run_baseline(cuts, fbank, batch_size: int, seed: int = 0):
    items = list(cuts)
    random.Random(seed).shuffle(items)
    seconds, batches = 0.0, []
    start = time.perf_counter()
    for i in range(0, len(items), batch_size):
        feats = []
        for cut in items[i:i + batch_size]:
            source = cut.recording.sources[0].source
            audio, _ = sf.read(source, dtype="float32")
            feats.append(fbank(audio))
            seconds += cut.duration
        lens = [f.shape[0] for f in feats]
        x = torch.zeros(len(feats), max(lens), feats[0].shape[1])
        for j, f in enumerate(feats):
            x[j, : f.shape[0]] = f
        batches.append(lens)
    return seconds, time.perf_counter() - start, padded_fraction(batches)


def run_audiotext(manifest, conf, tokenizer):
    import tempfile

    from audiotext.data.dataset import AudioCaptionDataset
    from audiotext.data.sources import SourceConfig, make_stream, open_sources

    sources = open_sources([SourceConfig("bench", manifest)], Path(tempfile.mkdtemp()))
    stream = make_stream(sources, AudioCaptionDataset(tokenizer, conf, train=True), conf, seed=0, train=True)
    seconds, batches = 0.0, []
    start = time.perf_counter()
    for batch in stream:
        if batch.feature_lens is None:
            continue
        lens = batch.feature_lens.tolist()
        seconds += sum(lens) / 100.0
        batches.append(lens)
    return seconds, time.perf_counter() - start, padded_fraction(batches)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", required=True)
    parser.add_argument("--max-duration", type=float, default=240.0)
    parser.add_argument("--num-buckets", type=int, default=20)
    parser.add_argument("--baseline-batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="best of N passes for each loader")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from lhotse import CutSet

    from audiotext.data.dataset import DataConfig
    from audiotext.data.features import Fbank, FbankConfig
    from audiotext.tokenizers.byte import ByteTokenizer

    cuts = CutSet.from_file(args.cuts)  # lazy, as in training
    conf = DataConfig(max_duration=args.max_duration, num_buckets=args.num_buckets, num_workers=0)
    fbank = Fbank(FbankConfig())
    durations = [c.duration for c in cuts]
    print(f"{len(durations)} clips, {sum(durations) / 3600:.2f} h, torch threads = 1")
    results = {}
    for name, fn in (("baseline", lambda: run_baseline(cuts, fbank, args.baseline_batch_size)),
                     ("audiotext", lambda: run_audiotext(args.cuts, conf, ByteTokenizer()))):
        best = None
        for _ in range(args.repeats):
            seconds, wall, pad = fn()
            if best is None or wall < best[1]:
                best = (seconds, wall, pad)
        seconds, wall, pad = best
        results[name] = (seconds / wall, pad)
        print(f"{name:10s} {seconds / wall:8.0f} x real time per core   padded fraction {pad:6.1%}")
    speed_ratio = results["audiotext"][0] / results["baseline"][0]
    pad_ratio = results["audiotext"][1] / max(results["baseline"][1], 1e-9)
    print(f"ratio audiotext/baseline: speed {speed_ratio:.2f}x, padding {pad_ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
