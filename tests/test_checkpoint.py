"""End-to-end train CLI on a tiny corpus: atomic checkpoints, LATEST, resume, config errors."""
import json
import logging
import re

import pytest
import torch
import yaml
from safetensors.torch import load_file

from audiotext.bin.train import main
from audiotext.registry import RegistryError
from tests.fixtures import make_corpus

CONFIG = {
    "task": "pretrain",
    "tokenizer": "byte",
    "encoder": "transformer",
    "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8,
                     "dropout": 0.0},
    "text_encoder": "transformer",
    "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "max_length": 64},
    "objective": "contrastive",
    "objective_conf": {"embed_dim": 32},
    "data": {"max_duration": 4.0, "num_buckets": 1, "num_workers": 0, "max_caption_tokens": 40,
             "specaug": {"enabled": False}},
    "optim_conf": {"lr": 0.001}, "scheduler_conf": {"warmup_steps": 2},
    "trainer": {"max_steps": 6, "save_interval": 3, "valid_interval": 3, "log_interval": 1,
                "progress_bar": False, "precision": "fp32"},
}
FILES = {"model.safetensors", "trainer_state.pt", "config.yaml"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    conf = dict(CONFIG)
    conf["data"] = dict(CONFIG["data"], train_cuts=str(make_corpus(root / "train", 16, seed=0, name="tr")),
                        valid_cuts=str(make_corpus(root / "valid", 4, seed=1, name="va")))
    path = root / "exp.yaml"
    path.write_text(yaml.safe_dump(conf))
    return root, path


class LogRecorder(logging.Handler):
    """Collects audiotext's INFO records (pytest leaves the root logger at WARNING)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        self.logger = logging.getLogger("audiotext")
        self.old_level = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.old_level)

    def steps(self):
        return [int(m.group(1)) for msg in self.messages if (m := re.match(r"step (\d+) train:", msg))]


def assert_complete(ckpt):
    assert ckpt.is_dir()
    assert {p.name for p in ckpt.iterdir()} >= FILES
    state = torch.load(ckpt / "trainer_state.pt", map_location="cpu", weights_only=True)
    weights = load_file(str(ckpt / "model.safetensors"))
    assert weights and all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    cfg = yaml.safe_load((ckpt / "config.yaml").read_text())
    assert cfg["tokenizer"] == "byte" and cfg["encoder_conf"]["d_model"] == 32
    return state, weights


@pytest.fixture(scope="module")
def first_run(setup):
    """Train 6 steps (checkpoints at 3 and 6, validation at 3 and 6)."""
    root, config = setup
    exp = root / "exp"
    with LogRecorder() as logs:
        rc = main(["--config", str(config), "--exp-dir", str(exp)])
    return {"rc": rc, "exp": exp, "config": config, "steps": logs.steps()}


def test_train_writes_complete_checkpoints(first_run):
    exp = first_run["exp"]
    assert first_run["rc"] == 0
    ckroot = exp / "checkpoints"
    assert (ckroot / "LATEST").read_text().strip() == "step-00000006"
    assert (exp / "config.yaml").is_file()
    assert first_run["steps"] == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in ckroot.glob("step-*")) == ["step-00000003", "step-00000006"]
    s3, _ = assert_complete(ckroot / "step-00000003")
    s6, w6 = assert_complete(ckroot / "step-00000006")
    assert s3["step"] == 3 and s6["step"] == 6
    assert s6["scheduler"]["last_epoch"] == 6
    assert set(s6) == {"optimizer", "scheduler", "step", "epoch", "best_valid", "world_size", "audio_seconds"}
    assert {float(v["step"]) for v in s6["optimizer"]["state"].values()} == {6.0}
    rank0 = torch.load(ckroot / "step-00000006" / "rank_state.0.pt", weights_only=True)
    assert rank0["skipped"] == {} and set(rank0["data"]) == {"epoch", "batches_consumed", "world_size", "order"}
    assert rank0["data"]["epoch"] == s6["epoch"] and rank0["data"]["world_size"] == 1
    assert 0 < s6["best_valid"] < float("inf")
    assert_complete(ckroot / "best")
    # the feature statistics from prepare() are saved with the weights
    assert not torch.equal(w6["feature_mean"], torch.zeros_like(w6["feature_mean"]))
    assert (w6["feature_std"] > 0).all() and not torch.equal(w6["feature_std"], torch.ones_like(w6["feature_std"]))
    # step 3 and step 6 hold different weights: training happened in between
    _, w3 = assert_complete(ckroot / "step-00000003")
    assert any(not torch.equal(w3[k], w6[k]) for k in w6)
    summary = json.loads((exp / "train_summary.json").read_text())
    assert summary["steps"] == 6 and summary["skipped_audio"]["total"] == 0
    assert set(summary["last_valid"]) >= {"loss", "logit_scale"}
    assert not list(exp.rglob("*.tmp")) and not list(ckroot.glob("*.old"))


def test_resume_continues_from_latest(first_run):
    exp, config = first_run["exp"], first_run["config"]
    assert first_run["rc"] == 0
    ckroot = exp / "checkpoints"
    _, w6 = assert_complete(ckroot / "step-00000006")
    with LogRecorder() as logs:
        rc = main(["--config", str(config), "--exp-dir", str(exp), "--resume", "trainer.max_steps=8"])
    assert rc == 0
    resumed = [m for m in logs.messages if m.startswith("resumed from")]
    assert len(resumed) == 1 and resumed[0].endswith("step-00000006 at step 6")
    assert logs.steps() == [7, 8]  # continued, not restarted
    summary = json.loads((exp / "train_summary.json").read_text())
    assert summary["steps"] == 8
    assert (ckroot / "LATEST").read_text().strip() == "step-00000008"
    assert sorted(p.name for p in ckroot.glob("step-*")) == ["step-00000006", "step-00000008"]
    s8, w8 = assert_complete(ckroot / "step-00000008")
    assert s8["step"] == 8 and s8["scheduler"]["last_epoch"] == 8
    # AdamW's step count continues from the restored optimizer state
    assert {float(v["step"]) for v in s8["optimizer"]["state"].values()} == {8.0}
    # resumed weights: the statistics are the first run's (prepare() is not rerun)
    assert torch.equal(w8["feature_mean"], w6["feature_mean"])
    assert any(not torch.equal(w8[k], w6[k]) for k in w6 if k not in ("feature_mean", "feature_std"))
    # the audio seen counts every start of the run, not the part since the resume
    assert summary["audio_hours_seen"] * 3600 == pytest.approx(s8["audio_seconds"], abs=2.0)
    assert s8["audio_seconds"] > torch.load(ckroot / "step-00000006" / "trainer_state.pt",
                                            weights_only=True)["audio_seconds"] > 0
    # step-00000006 is untouched by the second run
    assert torch.load(ckroot / "step-00000006" / "trainer_state.pt", weights_only=True)["step"] == 6
    assert not list(exp.rglob("*.tmp")) and not list(ckroot.glob("*.old"))


def test_unknown_override_key_exits_2(setup, tmp_path, capsys):
    _, config = setup
    exp = tmp_path / "bad"
    rc = main(["--config", str(config), "--exp-dir", str(exp), "encoder_conf.num_layrs=2"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "encoder_conf.num_layrs" in err and str(config) in err
    assert not (exp / "checkpoints").exists()


def test_wrong_type_override_exits_2(setup, tmp_path, capsys):
    _, config = setup
    rc = main(["--config", str(config), "--exp-dir", str(tmp_path / "bad"), "trainer.max_steps=lots"])
    assert rc == 2
    assert "trainer.max_steps" in capsys.readouterr().err


def test_missing_config_exits_2(tmp_path, capsys):
    rc = main(["--config", str(tmp_path / "nope.yaml"), "--exp-dir", str(tmp_path / "x")])
    assert rc == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_unknown_component_name_exits_2(setup, tmp_path, capsys):
    _, config = setup
    rc = main(["--config", str(config), "--exp-dir", str(tmp_path / "bad"), "encoder=conformerr"])
    assert rc == 2
    assert "conformerr" in capsys.readouterr().err


def test_weights_load_strictly(tmp_path):
    """A checkpoint never loads silently into a model whose keys differ."""
    from audiotext.train.checkpoint import WeightsError, load_weights, save_checkpoint

    saved = torch.nn.Sequential(torch.nn.Linear(4, 3))
    save_checkpoint(tmp_path / "ck", saved, None, {})
    same = torch.nn.Sequential(torch.nn.Linear(4, 3))
    load_weights(same, tmp_path / "ck")
    assert torch.equal(same[0].weight, saved[0].weight)
    other = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    weights = tmp_path / "ck" / "model.safetensors"
    with pytest.raises(WeightsError) as err:
        load_weights(other, tmp_path / "ck")
    assert str(err.value) == f"{weights}: weights do not fit the model: 2 missing keys (1.bias, 1.weight)"
    assert err.value.missing == ["1.bias", "1.weight"] and err.value.path == weights
    wider = torch.nn.Sequential(torch.nn.Linear(4, 5))
    before = wider[0].weight.detach().clone()
    with pytest.raises(WeightsError, match=r"2 shape mismatches \(0.bias: file \(3,\) vs model \(5,\), "
                                           r"0.weight: file \(3, 4\) vs model \(5, 4\)\)$"):
        load_weights(wider, tmp_path / "ck")
    assert torch.equal(wider[0].weight, before)  # nothing was loaded: no partial state
    fewer = torch.nn.Sequential()
    with pytest.raises(WeightsError, match=r"2 unexpected keys \(0.bias, 0.weight\)$"):
        load_weights(fewer, tmp_path / "ck")
    load_weights(fewer, tmp_path / "ck", skip_prefixes=("0.",))  # skipped prefixes are not read


@pytest.mark.parametrize("override, message", [
    ("trainer.keep_checkpoints=0", "trainer.keep_checkpoints must be >= 1"),
    ("trainer.accum_grad=0", "trainer.accum_grad must be >= 1"),
    ("trainer.strategy=zero3", "trainer.strategy: 'zero3' is not one of ddp, fsdp2"),
    ("optim=lion", "unknown optimizer 'lion'; valid names: adamw"),
    ("data.max_duration=0", "data.max_duration and data.max_clip_duration must be > 0 seconds"),
    ("data.max_duration=-5", "data.max_duration and data.max_clip_duration must be > 0 seconds"),
])
def test_bad_trainer_settings_exit_2_with_one_error_line(setup, tmp_path, capsys, override, message):
    """keep_checkpoints: 0 used to keep every checkpoint; now it is refused like any bad setting."""
    _, config = setup
    rc = main(["--config", str(config), "--exp-dir", str(tmp_path / "bad"), override])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]


def test_a_new_run_in_an_experiment_with_checkpoints_is_refused(first_run, capsys):
    """Without --resume, a second run would mix its checkpoints with the first's (and prune them)."""
    assert first_run["rc"] == 0
    rc = main(["--config", str(first_run["config"]), "--exp-dir", str(first_run["exp"])])
    assert rc == 2
    assert "already holds checkpoints" in capsys.readouterr().err
    assert (first_run["exp"] / "checkpoints" / "step-00000006").is_dir()


def test_an_epoch_where_every_clip_is_skipped_is_an_error_not_an_endless_loop(setup, tmp_path, capsys):
    _, config = setup
    moved = make_corpus(tmp_path / "gone", 8, seed=3, name="gone")
    for wav in (tmp_path / "gone" / "wav").glob("*.wav"):
        wav.unlink()
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"mean": [0.0] * 80, "std": [1.0] * 80}))
    rc = main(["--config", str(config), "--exp-dir", str(tmp_path / "exp"), f"data.train_cuts={moved}",
               f"data.feature_stats={stats}", "data.valid_cuts="])
    assert rc == 2
    err = capsys.readouterr().err
    assert "every batch was empty" in err and "unreadable" in err


def test_resuming_under_another_data_order_or_from_a_directory_manifest_exits_2(first_run, tmp_path, capsys):
    assert first_run["rc"] == 0
    rc = main(["--config", str(first_run["config"]), "--exp-dir", str(first_run["exp"]), "--resume",
               "trainer.seed=7", "trainer.max_steps=9"])
    assert rc == 2
    assert "another data order: seed changed (saved [0], now [7])" in capsys.readouterr().err.strip().splitlines()[-1]
    rc = main(["--config", str(first_run["config"]), "--exp-dir", str(tmp_path / "x"), f"data.train_cuts={tmp_path}"])
    assert rc == 2
    assert "is a directory; give the cut manifest file" in capsys.readouterr().err
