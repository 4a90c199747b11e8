"""Reading training batches from Lhotse Shar against reading them from a cut manifest.

    python bench/shar_speed.py --num-clips 400 --json shar_speed.json

In one run: synthesizes ``--num-clips`` clips of 5-10 s (16-bit WAV, 16 kHz; or takes the first
``--num-clips`` cuts of ``--cuts``), exports them to Shar once per ``--audio`` format
(``python -m audiotext.bin.export_shar``'s function), and iterates a ``DataStream`` over the same
batches (the Shar run's epoch 0 on one rank) from the manifest and from each Shar directory, with
the training dataset (checked audio loading, fbank, SpecAugment, tokenization) and 0 and 1 loader
workers. Torch runs on one thread. Prints audio seconds per wall second, per core (cores: the
loading processes, max(1, workers)) of the fastest of ``--repeats`` alternating passes, and the
Shar / manifest ratio. Timings only: nothing is asserted (these machines are shared).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthesize(root: Path, num_clips: int, seed: int = 0) -> Path:
    """``num_clips`` tone-plus-noise WAVs of 5-10 s with captions; returns the cut manifest."""
    import soundfile as sf
    from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    rng = np.random.default_rng(seed)
    (root / "wav").mkdir(parents=True)
    recordings, supervisions = [], []
    for i in range(num_clips):
        seconds = float(rng.uniform(5.0, 10.0))
        t = np.arange(int(seconds * 16000)) / 16000
        audio = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) + 0.05 * rng.standard_normal(t.size)
        path = root / "wav" / f"clip-{i:05d}.wav"
        sf.write(path, audio.astype(np.float32), 16000, subtype="PCM_16")
        recording = Recording.from_file(path, recording_id=f"clip-{i:05d}")
        recordings.append(recording)
        supervisions.append(SupervisionSegment(id=f"clip-{i:05d}-0", recording_id=recording.id, start=0.0,
                                               duration=recording.duration,
                                               custom={"caption": f"a tone number {i} over soft noise"}))
    cuts = CutSet.from_manifests(RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(supervisions))
    out = root / "cuts.jsonl.gz"
    cuts.to_file(out)
    return out


def use_batches(stream, batches) -> None:
    """Make ``stream`` yield ``batches`` (global rows) in epoch 0: the same batches on both paths."""
    stream._plan, stream._dropped[0] = (0, batches), 0
    stream.batches = lambda epoch: batches


def iterate(stream) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in stream)
    elapsed = time.perf_counter() - start
    assert count == stream.num_batches()
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", help="use the first --num-clips cuts of this manifest instead of synthesized clips")
    parser.add_argument("--num-clips", type=int, default=400)
    parser.add_argument("--audio", nargs="+", default=["original", "flac"], choices=["original", "flac", "wav"])
    parser.add_argument("--shard-size", type=int, default=50)
    parser.add_argument("--max-duration", type=float, default=100.0, help="seconds of audio per batch")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--repeats", type=int, default=3, help="passes per path (the fastest counts)")
    parser.add_argument("--json", help="also write the numbers as JSON here")
    args = parser.parse_args(argv)

    import torch
    from lhotse import CutSet

    from audiotext.data.dataset import AudioCaptionDataset, DataConfig
    from audiotext.data.shar import export_shar
    from audiotext.data.sources import SourceConfig, make_stream, open_sources
    from audiotext.tokenizers.byte import ByteTokenizer

    torch.set_num_threads(1)
    results = {"num_clips": args.num_clips, "max_duration": args.max_duration, "shard_size": args.shard_size,
               "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.cuts:
            manifest = tmp / "cuts.jsonl.gz"
            CutSet.from_file(args.cuts).subset(first=args.num_clips).to_file(manifest)
        else:
            start = time.perf_counter()
            manifest = synthesize(tmp / "data", args.num_clips)
            print(f"synthesized {args.num_clips} clips in {time.perf_counter() - start:.1f} s")
        manifest_sources = open_sources([SourceConfig("train", cuts=str(manifest))], tmp / "index")
        row_of = {manifest_sources.cut(r).id: r for r in range(len(manifest_sources))}
        hours = manifest_sources.indexes[0].hours
        print(f"{len(manifest_sources)} cuts, {hours * 60:.1f} min of audio")
        results["audio_minutes"] = hours * 60
        for audio in args.audio:
            shar = tmp / f"shar_{audio}"
            start = time.perf_counter()
            info = export_shar(str(manifest), str(shar), audio=audio, shard_size=args.shard_size)
            export_s = time.perf_counter() - start
            size = sum(p.stat().st_size for p in shar.glob("recording.*.tar"))
            start = time.perf_counter()
            shar_sources = open_sources([SourceConfig("train", shar=str(shar))], tmp / "index")
            index_s = time.perf_counter() - start
            print(f"shar {audio}: export {export_s:.1f} s ({info['shards']} shards, {size / 2**20:.0f} MiB of tars), "
                  f"index {index_s:.2f} s")
            for workers in args.workers:
                conf = DataConfig(max_duration=args.max_duration, num_buckets=4, num_workers=workers)
                shar_stream = make_stream(shar_sources, AudioCaptionDataset(ByteTokenizer(), conf, seed=0), conf,
                                          seed=0, train=True)
                batches = shar_stream.batches(0)
                same = [np.asarray([row_of[shar_sources.cut(int(r)).id] for r in b], dtype=np.int64) for b in batches]
                manifest_stream = make_stream(manifest_sources, AudioCaptionDataset(ByteTokenizer(), conf, seed=0),
                                              conf, seed=0, train=True)
                use_batches(manifest_stream, same)
                seconds = float(sum(manifest_sources.durations[b].sum() for b in same))
                cores = max(1, workers)
                times = {"manifest": [], "shar": []}
                for _ in range(args.repeats):  # alternating, the best of each: the machine is shared
                    for name, stream in (("manifest", manifest_stream), ("shar", shar_stream)):
                        stream.set_epoch(1)
                        stream.set_epoch(0)
                        times[name].append(iterate(stream))
                times = {k: min(v) for k, v in times.items()}
                speed = {k: seconds / t / cores for k, t in times.items()}
                ratio = speed["shar"] / speed["manifest"]
                print(f"  workers {workers}: {len(batches)} batches, {seconds / 60:.1f} min of audio; x real time per "
                      f"core: manifest {speed['manifest']:.0f}, shar {speed['shar']:.0f}; shar / manifest {ratio:.2f}")
                results["runs"].append({"audio": audio, "workers": workers, "cores": cores, "batches": len(batches),
                                        "audio_seconds": seconds, "export_s": export_s, "index_s": index_s,
                                        "tar_mib": size / 2**20, "wall_s": times,
                                        "x_real_time_per_core": speed, "shar_over_manifest": ratio})
                del shar_stream, manifest_stream
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
