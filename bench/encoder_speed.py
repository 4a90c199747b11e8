"""Audio encoder training speed: throughput, model-FLOPs utilisation, attention paths, Zipformer.

    python bench/encoder_speed.py [--device auto|cpu|cuda] [--size small|large] [--out DIR]

One run measures, on batches of clips of varied length (10 ms fbank frames, 80 bins; clip
lengths drawn with a fixed seed until the batch holds at least ``--batch-seconds`` of audio; the
attention paths share one batch, the Zipformer and its Transformer another):

1. **Attention paths** of the Transformer encoder (same weights, same batch): flash-attn varlen
   (packed, nothing computed on padding; only where flash-attn is importable on CUDA), torch SDPA on
   the padded batch, and the plain math path on the padded batch. Per path: median training-step
   time (forward, backward, AdamW step; bf16 autocast on CUDA, fp32 on CPU), audio seconds per
   second, model FLOP/s from the explicit count in ``bench/flops.py`` (valid frames only), MFU
   against the card's dense bf16 peak on a GPU, and speed ratios against the math path.
2. **Zipformer vs Transformer at equal parameter count**: the Zipformer (``small``: the recipe's
   CPU config; ``large``: the published M size) against a Transformer encoder whose depth is chosen
   to match its parameter count; per model parameters, forward FLOPs per audio second (counted by
   torch's FlopCounterMode clip by clip, so padding is not counted) and training throughput.
3. On a GPU, a bf16 matrix product's FLOP/s as the card's practical ceiling.

Prints a table and writes ``encoder_speed.json`` and ``encoder_speed.md`` to ``--out``. Timings
only: nothing is asserted (these machines are shared and noisy; read the ratios, which come from
the same run). ``large`` is the GPU check's size: a ~100M-parameter Transformer encoder at >= 600 s
of audio per batch (clips of 2-30 s), the published recipe's ~600 s per GPU.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flops import (TRAINING_FLOPS_PER_FORWARD_FLOP, counted_forward_flops,  # noqa: E402
                   transformer_encoder_forward_flops)

RECIPE_CONF = ROOT / "egs" / "captionstew" / "conf"
SECTIONS = ("attention", "zipformer")
FBANK_FRAMES_PER_SECOND = 100
MEL_BINS = 80
# dense bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s; the first name contained in
# the device's name wins, so the PCIe / NVL parts come before the SXM ones
BF16_PEAK_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H200 NVL", 835.0), ("H100", 989.4),
                    ("H200", 989.4), ("A100", 312.0), ("L40S", 362.05), ("A10", 125.0))

SIZES = {
    # CPU: the CaptionStew-mini encoders (conf/train_contrastive.yaml, conf/train_contrastive_zipformer.yaml)
    "small": {"batch_seconds": 120.0, "clip_seconds": (2.0, 10.0), "steps": 4,
              "transformer": None, "zipformer": None},
    # GPU: >= 90M parameters and >= 600 s of audio per batch; head_dim 128 suits flash-attn on Hopper
    "large": {"batch_seconds": 640.0, "clip_seconds": (2.0, 30.0), "steps": 10,
              "transformer": {"d_model": 1024, "num_layers": 8, "num_heads": 8, "d_ff": 4096,
                              "subsampling_channels": 64, "dropout": 0.0},
              "zipformer": {}},  # the Config defaults: the published M size
}


def recipe_encoder_conf(config_file: str) -> dict:
    return dict(yaml.safe_load((RECIPE_CONF / config_file).read_text())["encoder_conf"])


def make_batch(batch_seconds: float, clip_seconds, device, seed: int = 0):
    """Random fbank-shaped features of clips drawn until ``batch_seconds`` of audio are reached."""
    g = torch.Generator().manual_seed(seed)
    lengths: List[int] = []
    low, high = clip_seconds
    while sum(lengths) < batch_seconds * FBANK_FRAMES_PER_SECOND:
        lengths.append(int((low + (high - low) * torch.rand(1, generator=g).item()) * FBANK_FRAMES_PER_SECOND))
    features = torch.randn(len(lengths), max(lengths), MEL_BINS, generator=g)
    lens = torch.tensor(lengths)
    features = features.masked_fill(torch.arange(max(lengths))[None, :, None] >= lens[:, None, None], 0.0)
    return features.to(device), lens.to(device)


def build_encoder(name: str, conf: dict, device):
    from audiotext.models.encoders import ENCODERS

    torch.manual_seed(0)
    return ENCODERS.build(name, dict(conf, input_dim=MEL_BINS), where="encoder_conf").to(device)


def num_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def median_step_seconds(encoder, features, lengths, steps: int) -> float:
    """Median wall time of a training step (forward, a loss over the valid frames, backward,
    AdamW) after two warm-up steps."""
    cuda = features.is_cuda
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-5)
    encoder.train()
    times = []
    for _ in range(steps + 2):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            frames, frame_lens = encoder(features, lengths)
            loss = frames.float().pow(2).sum() / frame_lens.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    warm = sorted(times[2:])
    return warm[len(warm) // 2]


def peak_flops(device, override_tflops: float):
    if override_tflops > 0:
        return override_tflops * 1e12, f"--peak-tflops {override_tflops}"
    if device.type != "cuda":
        return None, "no bf16 peak for a CPU"
    name = torch.cuda.get_device_name(device)
    for key, tflops in BF16_PEAK_TFLOPS:
        if key in name:
            return tflops * 1e12, f"{key} dense bf16 data-sheet peak"
    return None, f"unknown card {name!r}: pass --peak-tflops"


def matmul_flops_per_second(device, size: int = 8192, repeats: int = 20) -> float:
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def flash_available(device) -> bool:
    from audiotext.models.attention import flash_usable

    return device.type == "cuda" and flash_usable(torch.zeros(1, device=device, dtype=torch.bfloat16))


def attention_paths(report: Dict, size: dict, device, peak) -> None:
    features, lengths = make_batch(size["batch_seconds"], size["clip_seconds"], device)
    audio_seconds = float(lengths.sum()) / FBANK_FRAMES_PER_SECOND
    conf = size["transformer"] or recipe_encoder_conf("train_contrastive.yaml")
    paths = (["flash"] if flash_available(device) else []) + ["sdpa", "math"]
    if "flash" not in paths:
        report["attention.flash.skipped"] = ("flash-attn runs on CUDA only" if device.type != "cuda"
                                             else "flash-attn is not importable here")
    rows = {}
    for path in paths:
        encoder = build_encoder("transformer", dict(conf, attention_backend=path), device)
        train_flops = TRAINING_FLOPS_PER_FORWARD_FLOP * transformer_encoder_forward_flops(encoder.conf, lengths.tolist())
        seconds = median_step_seconds(encoder, features, lengths, size["steps"])
        row = {"step_seconds": seconds, "audio_seconds_per_second": audio_seconds / seconds,
               "model_tflops_per_second": train_flops / seconds / 1e12}
        if peak is not None:
            row["mfu"] = train_flops / seconds / peak
        rows[path] = row
        report.setdefault("attention.parameters", num_parameters(encoder))
        report.setdefault("attention.train_flops_per_step", train_flops)
        del encoder
    for path, row in rows.items():
        row["speedup_vs_math"] = rows["math"]["step_seconds"] / row["step_seconds"]
        if "sdpa" in rows:
            row["speedup_vs_sdpa"] = rows["sdpa"]["step_seconds"] / row["step_seconds"]
    report["attention.batch"] = {"clips": len(lengths), "audio_seconds": audio_seconds,
                                 "padding_fraction": 1.0 - float(lengths.sum()) / (len(lengths) * int(lengths.max()))}
    report["attention.encoder_conf"] = conf
    report["attention.paths"] = rows


def transformer_matching(params_target: int, like: dict, device) -> dict:
    """A Transformer encoder config of ``like``'s width whose depth brings its parameter count
    closest to ``params_target``."""
    one = num_parameters(build_encoder("transformer", dict(like, num_layers=1), "cpu"))
    two = num_parameters(build_encoder("transformer", dict(like, num_layers=2), "cpu"))
    per_layer, rest = two - one, one - (two - one)
    layers = max(1, round((params_target - rest) / per_layer))
    return dict(like, num_layers=layers)


def zipformer_vs_transformer(report: Dict, size: dict, device) -> None:
    from audiotext.models.encoders import ENCODERS

    if "zipformer" not in ENCODERS:
        report["zipformer.skipped"] = "no zipformer encoder registered"
        return
    features, lengths = make_batch(size["batch_seconds"], size["clip_seconds"], device, seed=1)
    audio_seconds = float(lengths.sum()) / FBANK_FRAMES_PER_SECOND
    zip_conf = size["zipformer"] if size["zipformer"] is not None else recipe_encoder_conf(
        "train_contrastive_zipformer.yaml")
    zipformer = build_encoder("zipformer", zip_conf, device)
    like = size["transformer"] or recipe_encoder_conf("train_contrastive.yaml")
    trans_conf = transformer_matching(num_parameters(zipformer), dict(like, attention_backend="math"), device)
    transformer = build_encoder("transformer", trans_conf, device)
    rows = {}
    for name, model in (("zipformer", zipformer), ("transformer", transformer)):
        model.eval()
        forward_flops = sum(counted_forward_flops(model, features[i:i + 1, :n], lengths[i:i + 1])
                            for i, n in enumerate(lengths.tolist()))
        rows[name] = {"parameters": num_parameters(model), "output_frame_ms": model.frame_shift_ms,
                      "forward_gflops_per_audio_second": forward_flops / audio_seconds / 1e9}
    # time the Transformer on its fastest padded path; both run the same batch
    transformer = build_encoder("transformer", dict(trans_conf, attention_backend="auto"), device)
    for name, model in (("zipformer", zipformer), ("transformer", transformer)):
        seconds = median_step_seconds(model, features, lengths, size["steps"])
        rows[name].update(step_seconds=seconds, audio_seconds_per_second=audio_seconds / seconds)
    rows["zipformer"]["throughput_vs_transformer"] = (rows["zipformer"]["audio_seconds_per_second"]
                                                      / rows["transformer"]["audio_seconds_per_second"])
    rows["zipformer"]["flops_per_audio_second_vs_transformer"] = (
        rows["zipformer"]["forward_gflops_per_audio_second"] / rows["transformer"]["forward_gflops_per_audio_second"])
    report["zipformer.encoder_conf"] = zip_conf
    report["zipformer.transformer_conf"] = trans_conf
    report["zipformer.batch"] = {"clips": len(lengths), "audio_seconds": audio_seconds}
    report["zipformer.models"] = rows


def table(report: Dict) -> str:
    lines = [f"device: {report['device']}; torch {report['torch']}; size {report['size']}; "
             f"peak: {report['peak']}", ""]
    if "attention.paths" in report:
        batch = report["attention.batch"]
        lines += [f"Transformer encoder, {report['attention.parameters'] / 1e6:.1f}M parameters, "
                  f"{batch['clips']} clip(s) = {batch['audio_seconds']:.0f} s of audio "
                  f"({100 * batch['padding_fraction']:.0f}% padding when padded)", "",
                  "| path | step s | audio s/s | model TFLOP/s | MFU | vs math | vs sdpa |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for path, row in report["attention.paths"].items():
            mfu = f"{100 * row['mfu']:.1f}%" if "mfu" in row else "-"
            lines.append(f"| {path} | {row['step_seconds']:.3f} | {row['audio_seconds_per_second']:.0f} | "
                         f"{row['model_tflops_per_second']:.3f} | {mfu} | {row['speedup_vs_math']:.2f}x | "
                         f"{row.get('speedup_vs_sdpa', 1.0):.2f}x |")
        if "attention.flash.skipped" in report:
            lines.append(f"\nflash varlen: skipped ({report['attention.flash.skipped']})")
    if "zipformer.models" in report:
        lines += ["", f"Zipformer vs Transformer at equal parameter count "
                      f"({report['zipformer.batch']['audio_seconds']:.0f} s of audio per batch)", "",
                  "| encoder | parameters | output frame | GFLOP per audio s | step s | audio s/s |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name, row in report["zipformer.models"].items():
            lines.append(f"| {name} | {row['parameters'] / 1e6:.2f}M | {row['output_frame_ms']:.0f} ms | "
                         f"{row['forward_gflops_per_audio_second']:.2f} | {row['step_seconds']:.3f} | "
                         f"{row['audio_seconds_per_second']:.0f} |")
        z = report["zipformer.models"]["zipformer"]
        lines.append(f"\nZipformer / Transformer: throughput {z['throughput_vs_transformer']:.2f}x, "
                     f"FLOPs per audio second {z['flops_per_audio_second_vs_transformer']:.2f}x")
    elif "zipformer.skipped" in report:
        lines.append(f"\nzipformer: skipped ({report['zipformer.skipped']})")
    if "matmul_bf16_tflops_per_second" in report:
        lines.append(f"\nbf16 8192^3 matmul: {report['matmul_bf16_tflops_per_second']:.0f} TFLOP/s")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--size", default=None, choices=["small", "large"],
                        help="model and batch size (default: large on CUDA, small on CPU)")
    parser.add_argument("--batch-seconds", type=float, default=0.0, help="audio per batch (default: the size's)")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per measurement (default: the size's)")
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="the card's bf16 peak, if not in the table")
    parser.add_argument("--sections", default="attention,zipformer",
                        help="comma-separated, from: " + ", ".join(SECTIONS))
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    size = dict(SIZES[args.size or ("large" if device.type == "cuda" else "small")])
    size["batch_seconds"] = args.batch_seconds or size["batch_seconds"]
    size["steps"] = args.steps or size["steps"]
    peak, peak_source = peak_flops(device, args.peak_tflops)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "size": args.size or ("large" if device.type == "cuda" else "small"),
              "threads": torch.get_num_threads(), "peak": peak_source, "peak_flops": peak}
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    if not sections or sections - set(SECTIONS):
        print(f"error: --sections {args.sections!r}: give one or more of {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        report["matmul_bf16_tflops_per_second"] = matmul_flops_per_second(device) / 1e12
    if "attention" in sections:
        attention_paths(report, size, device, peak)
    if "zipformer" in sections:
        zipformer_vs_transformer(report, size, device)
    text = table(report)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "encoder_speed.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "encoder_speed.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
