"""HEAR embedding speed: CPU seconds per hour of audio, against a target and an fbank-only baseline.

    python bench/hear_speed.py [MODEL_DIR] --minutes 10

MODEL_DIR is an exported model or a checkpoint directory. Without one, the mini
recipe's architecture (egs/captionstew/conf/train_contrastive.yaml) is built at
random initialisation, with a small sentencepiece model trained in a temp dir
(speed does not depend on the weights or the vocabulary of the text side).

Synthetic audio (tones + noise) is cut into ``--clip-seconds`` clips and embedded in
batches of ``--batch-size`` with ``audiotext.hear.get_scene_embeddings``. Both runs
below happen in this process on ``--threads`` torch threads, after one warm-up batch:

  baseline  fbank only: the front end HEAR runs first, clip by clip
  hear      get_scene_embeddings: fbank + normalisation + encoder + mean

CPU time is ``time.process_time()`` (all threads of this process); the target is
120 CPU seconds per hour of audio.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from audiotext import hear  # noqa: E402

TARGET_CPU_S_PER_HOUR = 120.0
RECIPE_CONFIG = ROOT / "egs" / "captionstew" / "conf" / "train_contrastive.yaml"


def random_init_model() -> hear.HearModel:
    """The recipe's audio side at random init (HEAR needs nothing else)."""
    from audiotext.embedding import AudioModel
    from audiotext.experiment import load_experiment

    exp = load_experiment(str(RECIPE_CONFIG))
    torch.manual_seed(0)
    return hear.HearModel(AudioModel(exp))


def synth_clips(num: int, seconds: float, sample_rate: int) -> torch.Tensor:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    clips = np.empty((num, t.size), dtype=np.float32)
    for i in range(num):
        tone = np.sin(2 * np.pi * rng.uniform(100, 4000) * t)
        clips[i] = 0.2 * tone + 0.05 * rng.standard_normal(t.size)
    return torch.from_numpy(clips)


def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", nargs="?", default=None, help="export or checkpoint directory")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of audio to embed")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the numbers are per core)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.model_dir:
        model, what = hear.load_model(args.model_dir), args.model_dir
    else:
        model, what = random_init_model(), f"{RECIPE_CONFIG.relative_to(ROOT)} at random init"
    num_clips = max(1, int(round(args.minutes * 60 / args.clip_seconds)))
    clips = synth_clips(num_clips, args.clip_seconds, model.sample_rate)
    hours = num_clips * args.clip_seconds / 3600.0
    batches = [clips[i:i + args.batch_size] for i in range(0, num_clips, args.batch_size)]
    params = sum(p.numel() for p in model.model.encoder.parameters())
    print(f"model: {what} (audio encoder {params / 1e6:.2f} M parameters, {model.scene_embedding_size}-d)")
    print(f"audio: {num_clips} clips x {args.clip_seconds:g} s = {hours * 60:.1f} min, batches of {args.batch_size}, "
          f"{torch.get_num_threads()} torch thread(s)")

    fbank = model.model.fbank
    hear.get_scene_embeddings(batches[0], model)  # warm-up (allocator, kernels)
    fbank(batches[0][0].numpy())

    def run_fbank():
        for clip in clips:
            fbank(clip.numpy())

    out = []

    def run_hear():
        for batch in batches:
            out.append(hear.get_scene_embeddings(batch, model))

    base_cpu, base_wall = timed(run_fbank)
    hear_cpu, hear_wall = timed(run_hear)
    assert sum(o.shape[0] for o in out) == num_clips and all(torch.isfinite(o).all() for o in out)

    def row(name, cpu, wall):
        return (f"{name:<9} {cpu:8.2f} {wall:8.2f} {cpu / hours:12.1f} {hours * 3600 / wall:10.0f}x "
                f"{cpu / hours / TARGET_CPU_S_PER_HOUR:12.3f}")

    print()
    print(f"{'run':<9} {'cpu_s':>8} {'wall_s':>8} {'cpu_s/hour':>12} {'realtime':>11} {'vs_target':>12}")
    print(row("baseline", base_cpu, base_wall) + "   (fbank only)")
    print(row("hear", hear_cpu, hear_wall) + "   (scene embeddings)")
    print()
    print(f"hear: {hear_cpu / hours:.1f} CPU s per hour of audio = {hear_cpu / hours / TARGET_CPU_S_PER_HOUR:.3f} x "
          f"the target of {TARGET_CPU_S_PER_HOUR:.0f} s/hour "
          f"({'within' if hear_cpu / hours <= TARGET_CPU_S_PER_HOUR else 'OVER'} target); "
          f"{hear_cpu / base_cpu:.2f} x the fbank-only baseline "
          f"(encoder and the rest: {(hear_cpu - base_cpu) / hours:.1f} CPU s/hour)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
