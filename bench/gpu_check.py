"""GPU check: attention paths agree on CUDA, bf16 training runs, and step speed per path.

    python bench/gpu_check.py [--out DIR] [--wheels DIR] [--budget-seconds 480]

flash-attn: when the device's torch cannot import it and ``--wheels`` (default ``.whl`` in the
repository root) holds a ``flash_attn-*.whl`` built for that torch and CUDA, it is installed from
there into a temporary folder first (no network: the device reaches nothing outside). Sections run
in order of importance and a section is skipped, and reported as skipped, when the time left of
``--budget-seconds`` is under its estimate, so the whole check fits one device call.

Prints (1) dispatch equivalence on CUDA (SDPA vs math, fp32 and bf16, padded, causal),
(2) the mini recipe's model: training step time fp32 vs bf16 autocast and SDPA vs math, as
ratios measured in the same run, (3) a real `audiotext.bin.train` run on CUDA (precision auto ->
bf16) on a generated toy corpus, whose checkpoint then loads through the HEAR API on CPU,
(4) with flash-attn, the packed (varlen) audio encoder, text encoder and decoder against the
same weights padded on SDPA, (5) the encoder benchmark (``bench/encoder_speed.py --size large``:
training throughput and MFU of a ~100M-parameter Transformer encoder per attention path,
Zipformer M against a Transformer of equal size), (6) the generative side: captioning and joint
training runs on CUDA, the causal mask on CUDA,
greedy/beam decoding and caption log-likelihoods on CUDA against CPU for the same checkpoint,
and (7) training step time of the three objectives as ratios to the contrastive one.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from audiotext.data.batch import Batch  # noqa: E402  (after the path is set)

MINI = ["encoder_conf.d_model=192", "encoder_conf.num_layers=4", "encoder_conf.num_heads=4", "encoder_conf.d_ff=768",
        "encoder_conf.subsampling_channels=32", "encoder_conf.dropout=0.0", "text_encoder_conf.d_model=192",
        "text_encoder_conf.num_layers=2", "text_encoder_conf.d_ff=768", "text_encoder_conf.dropout=0.0",
        "objective_conf.embed_dim=192"]


def attention_equivalence(report):
    from audiotext.models import attention as attn

    report["flash_attn_importable"] = attn.HAVE_FLASH_ATTN
    g = torch.Generator(device="cuda").manual_seed(0)
    b, h, t, d = 8, 4, 300, 48
    lens = torch.randint(5, t + 1, (b,), generator=g, device="cuda")
    mask = torch.arange(t, device="cuda")[None] < lens[:, None]
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        q, k, v = (torch.randn(b, h, t, d, generator=g, device="cuda").to(dtype) for _ in range(3))
        for causal in (False, True):
            ref = attn.attention(q.float(), k.float(), v.float(), key_mask=mask, causal=causal, backend="math")
            for backend in ("sdpa", "math", "auto") + (("flash",) if attn.flash_usable(q) else ()):
                out = attn.attention(q, k, v, key_mask=mask, causal=causal, backend=backend).float()
                report[f"attn.{name}.causal={causal}.{backend}.max_abs_diff_vs_fp32_math"] = float((out - ref).abs().max())
    report["attn.auto_resolves_to"] = attn.resolve_backend("auto", torch.zeros(1, device="cuda", dtype=torch.bfloat16))


def packed_models(report):
    """With flash-attn on CUDA: each packed model (flash varlen) against the same weights padded
    (SDPA), bf16 autocast, outputs at valid positions and the gradients of a shared loss."""
    from audiotext.models import attention as attn
    from audiotext.models.encoders import ENCODERS
    from audiotext.models.text_decoder import TextDecoder, TextDecoderConfig
    from audiotext.models.text_encoders import TEXT_ENCODERS

    if not attn.flash_usable(torch.zeros(1, device="cuda", dtype=torch.bfloat16)):
        report["packed.skipped"] = "flash-attn is not importable on CUDA"
        return
    g = torch.Generator().manual_seed(0)
    frames = torch.tensor([1000, 731, 402, 77])
    tokens, token_lens = torch.randint(4, 500, (4, 30), generator=g), torch.tensor([30, 22, 9, 2])
    memory, memory_lens = torch.randn(4, 250, 256, generator=g), torch.tensor([250, 182, 100, 19])

    def audio(backend):
        return ENCODERS.build("transformer", {"d_model": 256, "num_layers": 2, "num_heads": 4, "d_ff": 512,
                                              "dropout": 0.0, "attention_backend": backend})

    def text(backend):
        return TEXT_ENCODERS.build("transformer", {"d_model": 256, "num_layers": 2, "num_heads": 4, "d_ff": 512,
                                                   "dropout": 0.0, "attention_backend": backend}, vocab_size=500)

    def decoder(backend):
        return TextDecoder(TextDecoderConfig(d_model=256, num_layers=2, num_heads=4, d_ff=512, dropout=0.0,
                                             attention_backend=backend), vocab_size=500, memory_dim=256)

    features = torch.randn(4, 1000, 80, generator=g)
    # each case: (builder, model -> (outputs (B, T, ...), valid lengths (B,)))
    cases = {
        "audio_encoder": (audio, lambda m: m(features.cuda(), frames.cuda())),
        "text_encoder": (text, lambda m: m(tokens.cuda(), token_lens.cuda())),
        "decoder_causal": (decoder, lambda m: (m(tokens.cuda(), token_lens.cuda(), m.prepare_memory(memory.cuda()),
                                                 memory_lens.cuda(), causal=True), token_lens.cuda())),
        "decoder_parallel": (decoder, lambda m: (m(tokens.cuda(), token_lens.cuda(), m.prepare_memory(memory.cuda()),
                                                   memory_lens.cuda(), causal=False), token_lens.cuda())),
    }
    for name, (build, run) in cases.items():
        torch.manual_seed(0)
        packed = build("flash").cuda()
        padded = build("sdpa").cuda()
        padded.load_state_dict(packed.state_dict())
        outs, grads, projection = [], [], None
        for model in (packed, padded):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out, valid_lens = run(model)
            valid = torch.arange(out.shape[1], device="cuda")[None] < valid_lens[:, None]
            out = out.float()[valid]
            if projection is None:  # a random projection: every parameter's gradient matters (a
                # squared output after a final norm would leave the blocks' gradients in the noise)
                projection = torch.randn(out.shape, generator=torch.Generator("cuda").manual_seed(2), device="cuda")
            (out * projection).sum().backward()
            outs.append(out)
            grads.append({n: p.grad.float() for n, p in model.named_parameters() if p.grad is not None})
        report[f"packed.{name}.max_abs_diff_vs_padded_sdpa"] = float((outs[0] - outs[1]).abs().max())
        report[f"packed.{name}.output_max_abs"] = float(outs[1].abs().max())
        # per parameter, relative to that parameter's largest gradient; the worst one is reported
        rel = {n: float((grads[0][n] - g).abs().max() / g.abs().max().clamp(min=1e-12)) for n, g in grads[1].items()}
        worst = max(rel, key=rel.get)
        report[f"packed.{name}.grad_max_rel_diff"] = rel[worst]
        report[f"packed.{name}.grad_worst_parameter"] = worst
        report[f"packed.{name}.grad_parameters_compared"] = len(rel)


def median_step_seconds(exp, batch, bf16: bool, steps: int = 12) -> float:
    """Median wall time of a full training step (forward, backward, AdamW) after 2 warm-up steps."""
    from audiotext.experiment import build_task

    torch.manual_seed(0)
    task = build_task(exp).cuda()
    opt = torch.optim.AdamW(task.parameters(), 1e-4)
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = task(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times[2:])[len(times[2:]) // 2]


def step_timing(report):
    from audiotext.experiment import load_experiment

    B, T = 64, 1000  # 64 clips of 10 s: 640 s of audio per batch, the paper's ~600 s per GPU
    batch = Batch(cut_ids=[""] * B, features=torch.randn(B, T, 80, device="cuda"),
                  feature_lens=torch.full((B,), T, device="cuda"), tokens=torch.randint(4, 260, (B, 24), device="cuda"),
                  token_lens=torch.full((B,), 24, device="cuda"), captions=["x"] * B)
    results = {}
    for backend in ("sdpa", "math"):
        for bf16 in (False, True):
            exp = load_experiment(None, ["tokenizer=byte", f"encoder_conf.attention_backend={backend}",
                                         f"text_encoder_conf.attention_backend={backend}"] + MINI)
            step = median_step_seconds(exp, batch, bf16)
            key = f"{backend}.{'bf16' if bf16 else 'fp32'}"
            results[key] = step
            report[f"step.{key}.seconds"] = step
            report[f"step.{key}.audio_x_realtime"] = B * T / 100.0 / step
    report["ratio.sdpa_bf16_vs_sdpa_fp32_speedup"] = results["sdpa.fp32"] / results["sdpa.bf16"]
    report["ratio.sdpa_vs_math_fp32_speedup"] = results["math.fp32"] / results["sdpa.fp32"]
    report["ratio.sdpa_vs_math_bf16_speedup"] = results["math.bf16"] / results["sdpa.bf16"]


def _train_cli(report, workdir: Path, name: str, overrides, steps: int) -> Path:
    """A real ``audiotext.bin.train`` run on a generated toy corpus; returns its exp dir."""
    from audiotext.bin import train as train_cli
    from fixtures import make_corpus

    cuts = make_corpus(workdir / f"{name}_data", num_clips=64)
    config = workdir / f"{name}.yaml"
    config.write_text(textwrap.dedent(f"""
        tokenizer: byte
        data: {{train_cuts: {cuts}, valid_cuts: {cuts}, max_duration: 30, num_buckets: 2, num_workers: 2}}
        trainer: {{max_steps: {steps}, valid_interval: {steps // 2}, save_interval: {steps // 2}, log_interval: 10,
                   progress_bar: false}}
    """))
    exp_dir = workdir / name
    start = time.time()
    report[f"{name}.rc"] = train_cli.main(["--config", str(config), "--exp-dir", str(exp_dir)] + list(overrides))
    report[f"{name}.seconds"] = time.time() - start
    summary = json.loads((exp_dir / "train_summary.json").read_text())
    report[f"{name}.steps"] = summary["steps"]
    report[f"{name}.best_valid_loss"] = summary["best_valid_loss"]
    return exp_dir


def train_run(report, workdir: Path):
    from audiotext import hear

    exp_dir = _train_cli(report, workdir, "train_cli", MINI, steps=40)
    model = hear.load_model(str(exp_dir / "checkpoints" / "best"))  # loads on CPU
    emb = hear.get_scene_embeddings(torch.zeros(2, 16000), model)
    report["hear.scene_shape"] = list(emb.shape)
    report["hear.finite"] = bool(torch.isfinite(emb).all())


CAPTIONING = ["objective=captioning", "objective_conf.decoder.d_model=192", "objective_conf.decoder.num_layers=2",
              "objective_conf.decoder.d_ff=768", "objective_conf.decoder.dropout=0.0"]
JOINT = ["objective=joint", "objective_conf.contrastive.embed_dim=192", "objective_conf.captioning.decoder.d_model=192",
         "objective_conf.captioning.decoder.num_layers=2", "objective_conf.captioning.decoder.d_ff=768",
         "objective_conf.captioning.decoder.dropout=0.0"]
ENCODER_ONLY = [o for o in MINI if o.startswith("encoder_conf")]
WITH_TEXT_ENCODER = [o for o in MINI if not o.startswith("objective_conf")]


def generative_runs(report, workdir: Path):
    """Captioning and joint through the real train CLI on CUDA, then CUDA decoding against CPU."""
    from audiotext.decoding import DecodeConfig
    from audiotext.experiment import load_task_from_dir

    _train_cli(report, workdir, "joint.train_cli", WITH_TEXT_ENCODER + JOINT, steps=60)
    exp_dir = _train_cli(report, workdir, "captioning.train_cli", ENCODER_ONLY + CAPTIONING, steps=60)
    task, _ = load_task_from_dir(str(exp_dir / "checkpoints" / "best"))
    task.eval()
    objective = task.objective
    g = torch.Generator().manual_seed(0)
    frames, frame_lens = torch.randn(6, 50, 192, generator=g), torch.tensor([50, 44, 37, 30, 21, 12])
    tokens = torch.randint(4, 200, (6, 20), generator=g)
    token_lens = torch.tensor([20, 18, 15, 11, 7, 3])
    # causal mask on CUDA: changing the last tokens leaves the logits before them unchanged
    objective.cuda()
    dec = objective.decoder
    memory = dec.prepare_memory(frames.cuda())
    with torch.no_grad():
        a = dec(tokens.cuda(), token_lens.cuda(), memory, frame_lens.cuda(), causal=True)
        changed = tokens.clone()
        changed[:, 10:] = torch.randint(4, 200, changed[:, 10:].shape, generator=g)
        b = dec(changed.cuda(), token_lens.cuda(), memory, frame_lens.cuda(), causal=True)
    report["captioning.cuda.causal_prefix_max_abs_diff"] = float((a[:, :10] - b[:, :10]).abs().max())
    report["captioning.cuda.changed_suffix_max_abs_diff"] = float((a[:, 10:] - b[:, 10:]).abs().max())
    ll_cuda = objective.sequence_log_likelihood(frames.cuda(), frame_lens.cuda(), tokens.cuda(), token_lens.cuda()).cpu()
    out = {}
    for beam in (1, 3):
        conf = DecodeConfig(beam_size=beam, max_length=30)
        out[f"cuda.{beam}"] = objective.generate(frames.cuda(), frame_lens.cuda(), conf)
    objective.cpu()
    ll_cpu = objective.sequence_log_likelihood(frames, frame_lens, tokens, token_lens)
    report["captioning.log_likelihood.cuda_vs_cpu_max_abs_diff"] = float((ll_cuda - ll_cpu).abs().max())
    for beam in (1, 3):
        cpu = objective.generate(frames, frame_lens, DecodeConfig(beam_size=beam, max_length=30))
        same = sum(x == y for x, y in zip(cpu, out[f"cuda.{beam}"]))
        report[f"captioning.decode.beam{beam}.cuda_equals_cpu"] = f"{same}/{len(cpu)}"
        report[f"captioning.decode.beam{beam}.mean_length"] = sum(map(len, cpu)) / len(cpu)


def objective_timing(report):
    """bf16 SDPA training step of each objective on the mini model, as ratios to contrastive."""
    from audiotext.experiment import load_experiment

    B, T, L = 64, 1000, 24
    batch = Batch(cut_ids=[""] * B, features=torch.randn(B, T, 80, device="cuda"),
                  feature_lens=torch.full((B,), T, device="cuda"), tokens=torch.randint(4, 260, (B, L), device="cuda"),
                  token_lens=torch.full((B,), L, device="cuda"), captions=["x"] * B)
    steps = {}
    for name, extra in (("contrastive", MINI), ("captioning", ENCODER_ONLY + CAPTIONING), ("joint", WITH_TEXT_ENCODER + JOINT)):
        exp = load_experiment(None, ["tokenizer=byte"] + extra)
        torch.cuda.reset_peak_memory_stats()
        steps[name] = median_step_seconds(exp, batch, bf16=True)
        report[f"objective_step.{name}.bf16.seconds"] = steps[name]
        report[f"objective_step.{name}.bf16.peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    for name in ("captioning", "joint"):
        report[f"ratio.{name}_vs_contrastive_step_time"] = steps[name] / steps["contrastive"]


def install_flash_attn(report, wheel_dir: Path, target: Path) -> None:
    """Make flash-attn importable from a carried wheel when the device has none."""
    try:
        import flash_attn  # noqa: F401  (the device's own)

        report["flash_attn.source"] = "installed on the device"
        return
    except Exception as err:  # ImportError, or a build for another torch/CUDA
        report["flash_attn.device_import_error"] = repr(err)
    wheels = sorted(wheel_dir.glob("flash_attn-*.whl"))
    if not wheels:
        report["flash_attn.source"] = f"none: no flash_attn-*.whl in {wheel_dir}"
        return
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                           str(target), str(wheels[-1])], capture_output=True, text=True)
    if done.returncode != 0:
        report["flash_attn.source"] = f"{wheels[-1].name} did not install: {done.stderr.strip()[-500:]}"
        return
    sys.path.insert(0, str(target))
    report["flash_attn.source"] = wheels[-1].name


def encoder_speed(report, out: Path):
    """bench/encoder_speed.py at the GPU size, its table and JSON next to this report."""
    import encoder_speed as bench

    out.mkdir(parents=True, exist_ok=True)
    report["encoder_speed.rc"] = bench.main(["--device", "cuda", "--size", "large", "--out", str(out)])
    report["encoder_speed"] = json.loads((out / "encoder_speed.json").read_text())


# (name, estimated seconds on an H200): the order is the order of importance
SECTION_ESTIMATES = (("attention", 10), ("packed", 15), ("encoder_speed", 150), ("train_cli", 60), ("timing", 30),
                     ("generative", 120), ("objective_timing", 30))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="")
    parser.add_argument("--wheels", default=str(ROOT / ".whl"), help="folder of carried wheels (flash-attn)")
    parser.add_argument("--budget-seconds", type=float, default=480.0, help="skip sections that would run past it")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 1
    start = time.time()
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda}
    with tempfile.TemporaryDirectory() as tmp:
        install_flash_attn(report, Path(args.wheels), Path(tmp) / "site")
        out = Path(args.out) if args.out else Path(tmp) / "out"
        functions = {"attention": attention_equivalence, "packed": packed_models, "train_cli": lambda r: train_run(r, Path(tmp)),
                     "encoder_speed": lambda r: encoder_speed(r, out), "timing": step_timing,
                     "generative": lambda r: generative_runs(r, Path(tmp)), "objective_timing": objective_timing}
        for name, estimate in SECTION_ESTIMATES:
            left = args.budget_seconds - (time.time() - start)
            if left < estimate:
                report[f"{name}.skipped"] = f"{left:.0f} s of the budget left, the section takes ~{estimate} s"
                continue
            section_start = time.time()
            try:
                functions[name](report)
            except Exception as err:  # keep going: every section reports on its own
                report[f"{name}.error"] = repr(err)
            report[f"{name}.seconds"] = round(time.time() - section_start, 1)
    report["total_seconds"] = round(time.time() - start, 1)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
