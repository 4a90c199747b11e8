"""Curation at the published CaptionStew size: captions/s, peak memory, and the ratio to a plain read.

    python bench/curation_scale.py --work-dir /tmp/stew_scale            # 10.7M captions, 8 sources
    python bench/curation_scale.py --work-dir /tmp/stew_scale --scale 0.01 --json out.json

1. Generates prepared manifests of the 8 ACL-version sources (AudioCaps, Clotho, MusicCaps, WavCaps,
   AudioSetCaps, FusionAudio, JamendoMaxCaps, ParaSpeechCaps) at the published size: 10.7M captions
   on 9.3M clips (``--scale`` multiplies every count). Rates are set to what the real sources have:
   FusionAudio re-captions AudioSet clips that AudioSetCaps also captions (90% of its clips share an
   origin; 2% of those repeat the AudioSetCaps caption exactly, 1% with other case and punctuation),
   AudioSetCaps holds most AudioCaps test clips (its card says so), Clotho has five captions per clip,
   MusicCaps a derived tag caption, ParaSpeechCaps a transcript; durations as the corpora have them
   (10-s YouTube clips, 30-600-s Jamendo tracks, 1-20-s utterances), so the 1-60-s filter acts.
2. The read floor: every manifest read once in this process, one thread: gzip and a JSON parse per
   line, as any tool must do at least once. Measured with orjson (the parser curation uses: the
   floor the target is set against) and with the standard library's json (what most tools use);
   also decompression and line splitting alone, the I/O without any parse.
3. ``python -m audiotext.bin.make_stew`` on the same manifests (``--jobs``), its peak memory summed
   over its process tree (proportional set size, so pages a forked worker shares with its parent
   count once), sampled every 0.2 s.
Prints a table and the ratio curation time / floor time; ``--json`` writes the numbers.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import threading
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

VOCAB_SIZE = 56_600  # the published corpus's vocabulary (~56.6k words)
# name, domain, style, clips, captions per clip, derived captions per clip, origin pool, duration kind
SOURCES = (
    ("audiocaps", "sound", "human", 49_500, 1, 0, "audioset", "yt10"),
    ("clotho", "sound", "human", 3_840, 5, 0, "freesound", "clotho"),
    ("musiccaps", "music", "human", 5_500, 1, 1, "musiccaps", "yt10"),
    ("wavcaps_bbc", "sound", "llm", 31_200, 1, 0, "bbc", "bbc"),
    ("wavcaps_soundbible", "sound", "llm", 1_230, 1, 0, "soundbible", "short"),
    ("audiosetcaps_audioset", "sound", "llm", 1_910_000, 1, 0, "audioset", "yt10"),
    ("audiosetcaps_vggsound", "sound", "llm", 182_000, 1, 0, "vggsound", "yt10"),
    ("audiosetcaps_youtube8m", "sound", "llm", 4_020_000, 1, 0, "yt8m", "yt10"),
    ("fusionaudio", "sound", "llm", 1_200_000, 1, 0, "audioset", "yt10"),
    ("jamendomaxcaps", "music", "llm", 362_000, 1, 0, "jamendo", "track"),
    ("paraspeechcaps", "speech", "speaking_style", 1_460_000, 1, 1, "voxceleb", "utterance"),
)
AUDIOCAPS_TEST = 975  # clips of the AudioCaps test split, the evaluation set given to curation


def vocabulary(rng: np.random.Generator):
    """56.6k made-up words of one to three syllables, in a random frequency order, and Zipf-like
    frequencies (p ~ 1 / rank^1.1)."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    n = len(syllables)
    words = syllables + [a + b for a in syllables for b in syllables]
    for i in rng.choice(n ** 3, VOCAB_SIZE - len(words), replace=False).tolist():
        words.append(syllables[i // (n * n)] + syllables[(i // n) % n] + syllables[i % n])
    words = [words[i] for i in rng.permutation(len(words)).tolist()]
    ranks = np.arange(1, VOCAB_SIZE + 1, dtype=np.float64)
    p = 1.0 / ranks ** 1.1
    return words, p / p.sum()


def origin_of(pool: str, i: int, source: str) -> str:
    if pool == "audioset":
        return f"yt:as{i:09d}:30000"
    if pool in ("vggsound", "yt8m", "musiccaps"):
        return f"yt:{pool}{i:09d}:0"
    if pool == "voxceleb":
        return f"voxceleb:id{10000 + i // 400:05d}/v{i // 20:07d}/{i % 20:05d}"
    return f"{pool}:{i}"


def durations(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "yt10":  # a few YouTube clips were cut short at download
        return np.where(rng.random(n) < 0.03, rng.uniform(0.3, 10.0, n), 10.0)
    if kind == "clotho":
        return rng.uniform(15.0, 30.0, n)
    if kind == "bbc":
        return np.exp(rng.normal(np.log(40.0), 1.0, n))
    if kind == "short":
        return rng.uniform(0.5, 30.0, n)
    if kind == "track":
        return rng.uniform(30.0, 600.0, n)
    return np.clip(rng.lognormal(np.log(5.0), 0.6, n), 0.8, 25.0)  # utterances


def shared_caption(words, i: int) -> str:
    """The caption two sources share for one origin (a deterministic function of the origin)."""
    return " ".join(words[(i * k * 7919) % len(words)] for k in range(1, 11))


def _line(cut_id, origin, duration, source, domain, captions) -> str:
    n = int(duration * 16000)
    sups = ", ".join(
        f'{{"id": "{cut_id}-{j}", "recording_id": "{cut_id}", "start": 0.0, "duration": {duration:.3f}, '
        f'"channel": 0, "custom": {{"caption": "{text}", "style": "{style}", "domain": "{domain}", '
        f'"source": "{source}"{derived}}}}}'
        for j, (text, style, derived) in enumerate(captions))
    return (f'{{"id": "{cut_id}", "start": 0.0, "duration": {duration:.3f}, "channel": 0, "supervisions": [{sups}], '
            f'"recording": {{"id": "{cut_id}", "sources": [{{"type": "file", "channels": [0], '
            f'"source": "/corpora/{source}/audio/{cut_id}.flac"}}], "sampling_rate": 16000, "num_samples": {n}, '
            f'"duration": {duration:.3f}, "channel_ids": [0]}}, "custom": {{"origin_id": "{origin}"}}, '
            f'"type": "MonoCut"}}\n')


def generate_source(job) -> dict:
    spec, scale, out_dir, seed = job
    name, domain, style, clips, per_clip, derived, pool, kind = spec
    n = max(1, int(round(clips * scale)))
    rng = np.random.default_rng([seed, abs(hash(name)) % (2**31)])
    words, p = vocabulary(np.random.default_rng(seed))
    path = Path(out_dir) / f"{name}.jsonl.gz"
    captions_written = 0
    with gzip.open(path, "wt", compresslevel=1, encoding="utf-8") as f:
        for start in range(0, n, 50_000):
            m = min(50_000, n - start)
            dur = durations(kind, rng, m)
            lengths = rng.integers(5, 32, size=(m, per_clip))
            word_ids = rng.choice(VOCAB_SIZE, size=int(lengths.sum()), p=p).tolist()
            lengths = lengths.tolist()
            pos = 0
            for k in range(m):
                i = start + k
                if name == "fusionaudio":  # 90% of its clips are AudioSet clips AudioSetCaps captions too
                    shared = k % 10 != 9
                    idx = (i * 7) % max(1, int(1_910_000 * scale)) if shared else 10_000_000 + i
                elif name == "audiosetcaps_audioset" and i < int(round(AUDIOCAPS_TEST * scale * 10)) and i % 10 < 9:
                    idx = 50_000_000 + i // 10 * 10 + i % 10  # the AudioCaps test clips its metadata holds
                else:
                    idx = i
                origin = origin_of(pool, idx, name)
                texts = []
                for j in range(per_clip):
                    length = lengths[k][j]
                    text = " ".join(words[w] for w in word_ids[pos:pos + length])
                    pos += length
                    if pool == "audioset" and idx % 50 == 0:
                        text = shared_caption(words, idx)  # AudioSetCaps and FusionAudio: the same caption
                        if name == "fusionaudio" and idx % 100 == 0:
                            text = text.capitalize() + "."  # ... or the same with other case and punctuation
                    if name == "clotho" and j == 4 and k % 200 == 0:
                        text = texts[0][0]  # a duplicated caption slot
                    texts.append((text, style, ""))
                for j in range(derived):
                    tag_style = "tags" if domain == "music" else "transcript"
                    texts.append((" ".join(words[(idx + 13 * j + t) % VOCAB_SIZE] for t in range(6)), tag_style,
                                  ', "derived": true'))
                captions_written += len(texts)
                f.write(_line(f"{name}_{i}", origin, float(dur[k]), name, domain, texts))
    return {"source": name, "clips": n, "captions": captions_written, "path": str(path),
            "bytes": path.stat().st_size}


def write_eval_manifest(out_dir: Path, scale: float) -> str:
    path = out_dir / "eval" / "audiocaps_test.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i in range(max(1, int(round(AUDIOCAPS_TEST * scale)))):
            idx = 50_000_000 + i * 10
            f.write(_line(f"audiocaps_test_{i}", origin_of("audioset", idx, "audiocaps"), 10.0, "audiocaps", "sound",
                          [("an evaluation caption", "human", "")]))
    return str(path)


def read_bytes_floor(paths) -> float:
    """Decompressing and splitting the lines only: the I/O part of any read."""
    start = time.perf_counter()
    for path in paths:
        with gzip.open(path, "rb") as f:
            for _ in f:
                pass
    return time.perf_counter() - start


def read_floor(paths, loads) -> tuple:
    start = time.perf_counter()
    lines = captions = 0
    for path in paths:
        with gzip.open(path, "rb") as f:
            for line in f:
                cut = loads(line)
                lines += 1
                captions += len(cut["supervisions"])
    return time.perf_counter() - start, lines, captions


def _tree_rss(root_pid: int) -> int:
    """Proportional set size in bytes of a process and all its descendants (Linux /proc; resident
    size where smaps_rollup is not readable)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        for name, field in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
            try:
                with open(name) as f:
                    value = next((int(line.split()[1]) * 1024 for line in f if line.startswith(field)), None)
            except OSError:
                continue
            if value is not None:
                total += value
                break
    return total


def run_curation(paths, eval_manifest: str, out_dir: Path, jobs: int) -> tuple:
    cmd = [sys.executable, "-m", "audiotext.bin.make_stew", "--out-dir", str(out_dir), "--jobs", str(jobs),
           "--split", "train=" + ",".join(paths), "--split", f"test={eval_manifest}"]
    peak = [0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    elapsed = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"make_stew failed ({proc.returncode}):\n{output[-3000:]}")
    return elapsed, peak[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every source's size")
    parser.add_argument("--jobs", type=int, default=2, help="generation and curation processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="write the numbers here")
    parser.add_argument("--reuse", action="store_true", help="reuse manifests generated by an earlier run")
    args = parser.parse_args(argv)

    work = Path(args.work_dir)
    manifests = work / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    summary_path = manifests / "generated.json"
    t0 = time.perf_counter()
    if args.reuse and summary_path.is_file():
        generated = json.loads(summary_path.read_text())
    else:
        with Pool(args.jobs) as pool:
            generated = pool.map(generate_source, [(s, args.scale, str(manifests), args.seed) for s in SOURCES],
                                 chunksize=1)
        summary_path.write_text(json.dumps(generated, indent=1))
    eval_manifest = write_eval_manifest(work, args.scale)
    gen_s = time.perf_counter() - t0
    paths = [g["path"] for g in generated]
    captions_in = sum(g["captions"] for g in generated)
    clips_in = sum(g["clips"] for g in generated)
    print(f"generated {len(paths)} manifests: {clips_in:,} clips, {captions_in:,} captions, "
          f"{sum(g['bytes'] for g in generated) / 1e9:.2f} GB gzipped ({gen_s:.0f} s)", flush=True)

    import orjson

    floor_s, lines, floor_captions = read_floor(paths, orjson.loads)
    assert lines == clips_in and floor_captions == captions_in, (lines, floor_captions)
    json_floor_s, _, _ = read_floor(paths, json.loads)
    bytes_floor_s = read_bytes_floor(paths)
    print(f"read floor (gzip + orjson, 1 thread): {floor_s:.1f} s; with json: {json_floor_s:.1f} s", flush=True)
    out_dir = work / "stew"
    curate_s, peak_rss = run_curation(paths, eval_manifest, out_dir, args.jobs)
    report = json.loads((out_dir / "curation.json").read_text())["train"]
    assert report["captions_in"] == captions_in
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "scale": args.scale, "jobs": args.jobs, "sources": len(paths),
        "clips_in": clips_in, "captions_in": captions_in,
        "clips_out": report["clips"], "captions_out": report["captions"], "hours_out": report["hours"],
        "merged_clips": report["merged_clips"], "dropped_captions": report["dropped_captions"],
        "num_partitions": report["num_partitions"],
        "read_floor_s": round(floor_s, 1), "read_floor_stdlib_json_s": round(json_floor_s, 1),
        "read_bytes_only_s": round(bytes_floor_s, 1),
        "curation_s": round(curate_s, 1), "ratio_to_floor": round(curate_s / floor_s, 2),
        "ratio_to_stdlib_json_floor": round(curate_s / json_floor_s, 2),
        "captions_per_s": round(captions_in / curate_s), "peak_rss_gb": round(peak_rss / 2**30, 2),
    }
    print(f"| input captions / clips | {captions_in:,} / {clips_in:,} |")
    print(f"| output captions / clips / hours | {report['captions']:,} / {report['clips']:,} / {report['hours']:,.0f} |")
    print(f"| merged clips (shared origin) | {report['merged_clips']:,} |")
    print(f"| dropped captions | {json.dumps(report['dropped_captions'])} |")
    print(f"| read floor, gzip + orjson (1 thread) | {floor_s:.1f} s |")
    print(f"| read floor, gzip + json (1 thread) | {json_floor_s:.1f} s |")
    print(f"| gzip and line splitting only (1 thread) | {bytes_floor_s:.1f} s |")
    print(f"| curation (--jobs {args.jobs}) | {curate_s:.1f} s, {captions_in / curate_s:,.0f} captions/s |")
    print(f"| ratio curation / orjson floor | {curate_s / floor_s:.2f}x (target <= 2x) |")
    print(f"| ratio curation / json floor | {curate_s / json_floor_s:.2f}x |")
    print(f"| peak memory (process tree, PSS) | {peak_rss / 2**30:.2f} GB (target <= 4 GB) |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
