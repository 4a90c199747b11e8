"""The main job end to end, tiny: every stage of egs/captionstew/run.sh (build CaptionStew-mini,
prepare, curate, tokenizer, train, evaluate, report) with no corpus configured."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lhotse import CutSet

from audiotext.data.captionstew_mini import MissingToolError, check_tools
from audiotext.data.curation import CLIP_DROP_REASONS, DROP_REASONS
from audiotext.data.schema import ORIGIN_ID

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs" / "captionstew"
RUN = RECIPE / "run.sh"
TASKS = ("spoken_language", "speaker", "sound_effect", "sample_family", "instrument", "voice", "speaking_rate", "tempo",
         "event_class")

TINY_MODEL = " ".join([
    "encoder_conf.d_model=32", "encoder_conf.num_layers=1", "encoder_conf.num_heads=2", "encoder_conf.d_ff=64",
    "encoder_conf.subsampling_channels=8", "text_encoder_conf.d_model=32", "text_encoder_conf.num_layers=1",
    "text_encoder_conf.num_heads=2", "text_encoder_conf.d_ff=64", "objective_conf.embed_dim=32",
    "trainer.max_steps=12", "trainer.valid_interval=6", "trainer.save_interval=6", "trainer.progress_bar=false",
    "data.max_duration=60", "data.num_buckets=2", "scheduler_conf.warmup_steps=3", "data.feature_stats_clips=20",
])

try:
    check_tools()
    TOOLS_MISSING = None
except MissingToolError as err:
    TOOLS_MISSING = str(err)


def _eval_config(tmp_path: Path, data: Path) -> Path:
    """The recipe's eval config with probes cut short (its probe sets follow --data_dir: ${DATA_DIR})."""
    text = (RECIPE / "conf" / "eval.yaml").read_text()
    assert text.count("\"${DATA_DIR}/captionstew_mini/probes/") == len(TASKS)
    text = text.replace("max_epochs: 400, patience: 50", "max_epochs: 30, patience: 5")
    path = tmp_path / "eval.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    if TOOLS_MISSING:
        pytest.skip(TOOLS_MISSING)
    tmp = tmp_path_factory.mktemp("recipe")
    data, exp_root = tmp / "data", tmp / "exp"
    # the scratch text encoder: tiny enough for a test (the default's frozen MiniLM is 22M parameters)
    args = [str(RUN), "--data_dir", str(data), "--exp_root", str(exp_root), "--exp_tag", "tiny",
            "--objective", "contrastive_scratch", "--local_build_opts", "--scale 0.05", "--eval_config", str(_eval_config(tmp, data)),
            "--vocab_size", "150", "--train_args", TINY_MODEL,
            # the recipe caps the YouTube-8M AudioSetCaps clips at 60, more than this tiny build has
            "--stew_opts", "--source-cap audiosetcaps_youtube8m=3"]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return data, exp_root, args, env, run


def test_every_stage_runs_with_no_configuration(tiny_run):
    data, exp_root, _, _, run = tiny_run
    summary = json.loads((data / "captionstew_mini" / "summary.json").read_text())
    assert summary["scale"] == 0.05
    for n, name in ((0, "build"), (1, "data"), (2, "manifests"), (3, "tokenizer")):
        assert (data / f".stage{n}_{name}.done").is_file()
    prepared = (data / "splits" / "train.list").read_text().split()
    assert [Path(p).parent.name for p in prepared] == ["audiocaps", "clotho", "musiccaps", "wavcaps", "audiosetcaps",
                                                        "paraspeechcaps"]
    exp = exp_root / "tiny"
    assert (exp / "checkpoints" / "best" / "model.safetensors").is_file()
    assert (exp / ".stage4_train.done").is_file() and (exp / ".stage5_evaluate.done").is_file()
    assert "| retrieval.t2a.R@1" in run.stdout and (exp / "report.txt").is_file()


def test_curation_report_shows_every_planted_defect(tiny_run):
    data = tiny_run[0]
    report = json.loads((data / "manifests" / "curation.json").read_text())["train"]
    assert set(report["dropped_captions"]) == set(DROP_REASONS)
    assert set(report["dropped_clips"]) == set(CLIP_DROP_REASONS)
    assert report["dropped_clips"]["eval_overlap"] == 4  # one AudioCaps test clip, three probe prompts
    assert report["merged_clips"] == 3
    assert set(report["clips_by_domain"]) == {"speech", "music", "sound"}
    # no probe clip in training
    probe_origins = {cut.custom[ORIGIN_ID] for path in (data / "captionstew_mini" / "probes").rglob("cuts_*.jsonl.gz")
                     for cut in CutSet.from_file(path)}
    train = CutSet.from_file(data / "manifests" / "cuts_train.jsonl.gz")
    assert not {cut.custom[ORIGIN_ID] for cut in train} & probe_origins


def test_every_probe_reports_both_models_and_the_paired_gain(tiny_run):
    results = json.loads((tiny_run[1] / "tiny" / "results.json").read_text())
    assert results["retrieval.chance.R@1"] == pytest.approx(1.0 / results["retrieval.num_clips"])
    for task in TASKS:
        pre, rnd = results[f"probe.{task}.pretrained"], results[f"probe.{task}.random_init"]
        low, gain, high = (results[f"probe.{task}.linear.{k}"] for k in ("ci95_low", "gain", "ci95_high"))
        assert low <= gain <= high
        if task not in ("sound_effect", "sample_family"):  # k-fold: mean over folds; the gain pools every clip
            assert gain == pytest.approx(pre - rnd, abs=1e-9)


def test_rerun_skips_finished_stages(tiny_run):
    _, exp_root, args, env, _ = tiny_run
    before = (exp_root / "tiny" / "results.json").stat().st_mtime_ns
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("already done") == 6
    assert (exp_root / "tiny" / "results.json").stat().st_mtime_ns == before


def test_a_real_corpus_root_swaps_its_source(tiny_run, tmp_path):
    """AUDIOCAPS set: stage 1 reads that corpus and CaptionStew-mini's copies of the other five."""
    from tests.corpus_fixtures import audiocaps

    data, _, _, env, _ = tiny_run
    expected = audiocaps.build(tmp_path / "AudioCaps")
    work = tmp_path / "data"
    work.mkdir()
    (work / "captionstew_mini").symlink_to(data / "captionstew_mini")
    path = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # data.sh alone: the venv's python
    run = subprocess.run([str(RECIPE / "local" / "data.sh"), "--data_dir", str(work)], cwd=RECIPE,
                         capture_output=True, text=True,
                         env={**env, "PATH": path, "AUDIOCAPS": str(tmp_path / "AudioCaps")}, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((work / "corpora" / "audiocaps" / "prepare_summary.json").read_text())
    assert summary["total"]["clips_written"] == expected["summary"]["total"]["clips_written"]
    assert "reading CaptionStew-mini's copy" in run.stdout and "audiocaps: AUDIOCAPS is not set" not in run.stdout


def test_captioning_objective_is_one_switch(tiny_run):
    data, exp_root, _, env, _ = tiny_run
    cap_model = " ".join(
        [o for o in TINY_MODEL.split() if not o.startswith(("text_encoder_conf", "objective_conf"))]
        + ["objective_conf.decoder.d_model=32", "objective_conf.decoder.num_layers=1",
           "objective_conf.decoder.num_heads=2", "objective_conf.decoder.d_ff=64"])
    eval_config = _eval_config(exp_root, data)
    args = [str(RUN), "--data_dir", str(data), "--exp_root", str(exp_root), "--objective", "captioning",
            "--stage", "4", "--vocab_size", "150", "--eval_config", str(eval_config), "--train_args", cap_model]
    cap = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert cap.returncode == 0, cap.stdout[-4000:] + cap.stderr[-4000:]
    results = json.loads((exp_root / "captionstew_captioning" / "results.json").read_text())
    for key in ("caption.bleu_4", "caption.rouge_l", "caption.cider_d", "caption.baseline.cider_d"):
        assert key in results
    assert "retrieval.t2a.R@1" not in results  # no shared audio-text space
    assert "probe.speaker.linear.gain" in results


def test_zipformer_with_scaled_adam_and_eden_is_one_switch(tiny_run):
    """conf/train_contrastive_zipformer.yaml (narrowed for the test) trains, evaluates and reports
    through the recipe: the Zipformer's 40 ms frames and ScaledAdam/Eden need nothing else."""
    data, exp_root, _, env, _ = tiny_run
    narrow = " ".join([
        "encoder_conf.encoder_dim=[32,48,64,48]", "encoder_conf.feedforward_dim=[64,96,128,96]",
        "encoder_conf.num_heads=[2,2,2,2]", "encoder_conf.frontend_channels=[4,8,16]", "objective_conf.embed_dim=32",
        "trainer.max_steps=6", "trainer.valid_interval=3", "trainer.save_interval=3", "trainer.progress_bar=false",
        "data.max_duration=60", "data.num_buckets=2", "data.feature_stats_clips=20", "scheduler_conf.warmup_batches=2"])
    args = [str(RUN), "--data_dir", str(data), "--exp_root", str(exp_root), "--objective", "contrastive_zipformer",
            "--stage", "4", "--vocab_size", "150", "--eval_config", str(_eval_config(exp_root, data)),
            "--train_args", narrow]
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    exp = exp_root / "captionstew_contrastive_zipformer"
    config = yaml.safe_load((exp / "checkpoints" / "best" / "config.yaml").read_text())
    assert (config["encoder"], config["optim"], config["scheduler"]) == ("zipformer", "scaled_adam", "eden")
    assert config["encoder_conf"]["encoder_dim"] == [32, 48, 64, 48]
    summary = json.loads((exp / "train_summary.json").read_text())
    assert summary["steps"] == 6
    results = json.loads((exp / "results.json").read_text())
    assert "retrieval.t2a.R@1" in results and "probe.speaker.linear.gain" in results
    assert (exp / "report.txt").is_file() and (exp / ".stage5_evaluate.done").is_file()


def test_a_sweep_of_scales_and_inits_through_the_recipe(tiny_run, tmp_path):
    """--scale makes a nested subset on first use, --init starts from a checkpoint's encoder, and the
    sweep runs both through the real recipe (stages 4-5) and tabulates them."""
    data, exp_root, _, env, _ = tiny_run
    scales = tmp_path / "scales.yaml"
    scales.write_text("scales:\n  t_s: {captions: 60}\n  t_l: {all: true}\n")
    eval_config = tmp_path / "eval.yaml"
    eval_config.write_text(
        "retrieval: true\ncaptioning: {enabled: false}\ndiagnostics: false\nrandom_init: false\n"
        "probe_settings: {lr_grid: [3.0e-3], seeds: [0], max_epochs: 20, patience: 5}\n"
        "probes:\n  - {name: event_class, cuts_dir: \"${DATA_DIR}/captionstew_mini/probes/event_class\"}\n")
    # the supervised init: local/train_tagger.sh on the tiny build's AudioSet files, the tiny encoder
    init = exp_root / "captionstew_tagger" / "checkpoints" / "best"
    tagger_args = " ".join([o for o in TINY_MODEL.split() if o.startswith(("encoder_conf", "trainer", "data"))])
    short = TINY_MODEL.replace("trainer.max_steps=12", "trainer.max_steps=4").replace(
        "trainer.valid_interval=6", "trainer.valid_interval=4").replace("trainer.save_interval=6", "trainer.save_interval=4")
    plan = tmp_path / "plan.yaml"
    plan.write_text(json.dumps({
        "name": "t", "scales_config": str(scales), "scale_dir": str(data / "scales"), "exp_root": str(exp_root),
        "recipe": str(RUN),
        "recipe_args": ["--data_dir", str(data), "--vocab_size", "150", "--eval_config", str(eval_config),
                        "--train_args", short],
        "runs": [{"objectives": ["contrastive_scratch"], "scales": ["t_s"], "init": "scratch"},
                 {"objectives": ["contrastive_scratch"], "scales": ["t_s"], "init": "tiny"}],
        "inits": {"tiny": {"checkpoint": str(init), "make": [
            str(RECIPE / "local" / "train_tagger.sh"), "--data_dir", str(data), "--exp_root", str(exp_root),
            "--train_args", tagger_args.replace("trainer.max_steps=12", "trainer.max_steps=4")]}},
        "groups": {"sound": ["probe.event_class.linear.pretrained"], "language": ["retrieval.t2a.R@1"]},
    }))
    run = subprocess.run([sys.executable, "-m", "audiotext.bin.sweep", "--plan", str(plan)], cwd=RECIPE,
                         capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    subset = CutSet.from_file(data / "scales" / "t_s" / "cuts_train.jsonl.gz")
    full_ids = set(CutSet.from_file(data / "manifests" / "cuts_train.jsonl.gz").ids)
    assert set(subset.ids) < full_ids
    assert 60 <= sum(len(c.supervisions) for c in subset)
    sweep_dir = exp_root / "sweep_t"
    for tag in ("contrastive_scratch_t_s_scratch", "contrastive_scratch_t_s_tiny"):
        assert "retrieval.t2a.R@1" in json.loads((sweep_dir / tag / "results.json").read_text())
    summary = json.loads((exp_root / "captionstew_tagger" / "train_summary.json").read_text())
    assert isinstance(summary["last_valid"]["mAP"], float) and summary["steps"] == 4
    assert "init_from: loaded" in (sweep_dir / "logs" / "contrastive_scratch_t_s_tiny.log").read_text()
    import yaml

    saved = yaml.safe_load((sweep_dir / "contrastive_scratch_t_s_tiny" / "config.yaml").read_text())
    assert saved["init_from"]["checkpoint"] == str(init) and saved["init_from"]["modules"] == ["encoder"]
    assert saved["data"]["train_cuts"] == str(data / "scales" / "t_s" / "cuts_train.jsonl.gz")
    table = (sweep_dir / "scaling.md").read_text()
    assert "| contrastive_scratch | scratch | t_s |" in table and "| contrastive_scratch | tiny | t_s |" in table
