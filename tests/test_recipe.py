"""The mini recipe end to end, tiny: every stage of egs/mini_stew/run.sh on ~90 clips."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "egs" / "mini_stew" / "run.sh"
TOOLS = ("espeak-ng", "fluidsynth", "sox")

TINY_MODEL = " ".join([
    "encoder_conf.d_model=32", "encoder_conf.num_layers=1", "encoder_conf.num_heads=2", "encoder_conf.d_ff=64",
    "encoder_conf.subsampling_channels=8", "text_encoder_conf.d_model=32", "text_encoder_conf.num_layers=1",
    "text_encoder_conf.num_heads=2", "text_encoder_conf.d_ff=64", "objective_conf.embed_dim=32",
    "trainer.max_steps=12", "trainer.valid_interval=6", "trainer.save_interval=6", "trainer.progress_bar=false",
    "data.max_duration=60", "data.num_buckets=2", "optim.warmup_steps=3", "task_conf.normalization_clips=20",
])


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason="mini corpus tools missing (tools/install.sh)")
def test_tiny_recipe_all_stages(tmp_path):
    data, exp_root = tmp_path / "data", tmp_path / "exp"
    args = [str(RUN), "--data_dir", str(data), "--exp_root", str(exp_root), "--exp_tag", "tiny",
            "--local_data_opts", "--num_clips 90", "--vocab_size", "120", "--train_args", TINY_MODEL]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    for split in ("train", "valid", "test"):
        assert (data / "manifests" / f"cuts_{split}.jsonl.gz").is_file()
    curation = json.loads((data / "manifests" / "curation.json").read_text())
    assert curation["train"]["clips"] > 50 and set(curation["train"]["clips_by_domain"]) == {"speech", "music", "sound"}
    assert (data / "tokenizer" / "sp120.model").is_file()

    exp = exp_root / "tiny"
    ckpt = exp / "checkpoints" / "best"
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "tokenizer.model").is_file()
    results = json.loads((exp / "results.json").read_text())
    assert results["retrieval.chance.R@1"] == pytest.approx(1.0 / results["retrieval.num_clips"])
    for key in ("retrieval.t2a.R@1", "retrieval.a2t.R@1", "retrieval.t2a.R@10"):
        assert 0.0 <= results[key] <= 1.0
    for task in ("voice", "speaking_rate", "instrument", "tempo", "event_class"):
        for model in ("pretrained", "random_init"):
            assert 0.0 <= results[f"probe.{task}.{model}"] <= 1.0
    # the report stage printed the table
    assert "| retrieval.t2a.R@1" in run.stdout and (exp / "report.txt").is_file()
    for n, name in ((1, "data"), (2, "manifests"), (3, "tokenizer")):
        assert (data / f".stage{n}_{name}.done").is_file()
    for n, name in ((4, "train"), (5, "evaluate")):
        assert (exp / f".stage{n}_{name}.done").is_file()

    # a rerun skips every finished stage and leaves the results alone
    before = (exp / "results.json").stat().st_mtime_ns
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("already done") == 5
    assert (exp / "results.json").stat().st_mtime_ns == before

    # the same recipe with the captioning objective: one switch, its own experiment directory
    cap_model = " ".join(
        [o for o in TINY_MODEL.split() if not o.startswith(("text_encoder_conf", "objective_conf"))]
        + ["objective_conf.decoder.d_model=32", "objective_conf.decoder.num_layers=1",
           "objective_conf.decoder.num_heads=2", "objective_conf.decoder.d_ff=64"])
    cap_args = [str(RUN), "--data_dir", str(data), "--exp_root", str(exp_root), "--objective", "captioning",
                "--stage", "4", "--vocab_size", "120", "--train_args", cap_model]
    cap = subprocess.run(cap_args, capture_output=True, text=True, env=env, timeout=600)
    assert cap.returncode == 0, cap.stdout[-4000:] + cap.stderr[-4000:]
    cap_exp = exp_root / "mini_stew_captioning"
    cap_results = json.loads((cap_exp / "results.json").read_text())
    for key in ("caption.bleu_4", "caption.rouge_l", "caption.cider_d", "caption.baseline.cider_d"):
        assert cap_results[key] >= 0.0
    assert "retrieval.t2a.R@1" not in cap_results  # no shared audio-text space
    for task in ("voice", "speaking_rate", "instrument", "tempo", "event_class"):
        for kind in ("linear", "mlp", "attention"):
            assert 0.0 <= cap_results[f"probe.{task}.{kind}.pretrained"] <= 1.0
        assert f"lowres.{task}.linear.1.random_init" in cap_results
    assert "zeroshot.instrument" in cap_results
    report = (cap_exp / "report" / "report.md").read_text()
    assert "## Captioning" in report and (cap_exp / "report" / "lowres.png").is_file()
