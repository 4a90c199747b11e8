"""Experiment YAML: strict keys with full key paths, dotted overrides, defaults, save/reload."""
from pathlib import Path

import pytest
import yaml

from audiotext.config import ConfigError
from audiotext.data.dataset import DataConfig
from audiotext.registry import RegistryError
from audiotext.experiment import ExperimentConfig, load_experiment, save_experiment
from audiotext.models.encoders.transformer import TransformerAudioEncoder
from audiotext.train.trainer import TrainerConfig

BASE = {
    "tokenizer": "byte",
    "encoder": "transformer",
    "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64},
    "data": {"max_duration": 10.0, "num_workers": 0},
    "trainer": {"max_steps": 5},
}


def write_config(tmp_path: Path, data: dict, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def merged(**sections):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def test_valid_config_loads(tmp_path):
    exp = load_experiment(str(write_config(tmp_path, BASE)))
    assert isinstance(exp, ExperimentConfig)
    assert exp.tokenizer == "byte"
    assert exp.encoder_conf["d_model"] == 32 and exp.encoder_conf["num_layers"] == 1
    assert isinstance(exp.data, DataConfig) and exp.data.max_duration == 10.0 and exp.data.num_workers == 0
    assert isinstance(exp.trainer, TrainerConfig) and exp.trainer.max_steps == 5


@pytest.mark.parametrize(
    "data, key_path",
    [
        (merged(trainr={"max_steps": 3}), "trainr"),
        (merged(data={"max_durration": 3.0}), "data.max_durration"),
        (merged(data={"fbank": {"num_mel_bin": 40}}), "data.fbank.num_mel_bin"),
        (merged(encoder_conf={"foo": 1}), "encoder_conf.foo"),
        (merged(objective_conf={"embed_dimm": 8}), "objective_conf.embed_dimm"),
        (merged(text_encoder_conf={"num_layrs": 1}), "text_encoder_conf.num_layrs"),
    ],
    ids=["top-level", "nested", "deeply-nested", "encoder-conf", "objective-conf", "text-encoder-conf"],
)
def test_unknown_key_names_path_and_file(tmp_path, data, key_path):
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_experiment(str(path))
    msg = str(info.value)
    assert str(path) in msg
    assert "unknown key " in msg
    # the full dotted path, not just the last component
    assert f".{key_path}" in msg or f" {key_path}" in msg
    assert key_path in msg


def test_unknown_key_via_override_names_path(tmp_path):
    path = write_config(tmp_path, BASE)
    with pytest.raises(ConfigError) as info:
        load_experiment(str(path), ["encoder_conf.num_layrs=3"])
    assert "encoder_conf.num_layrs" in str(info.value) and str(path) in str(info.value)
    assert f"{path}, override 'encoder_conf.num_layrs=3': " in str(info.value)  # the override is to blame
    with pytest.raises(ConfigError, match=r"data\.max_durration"):
        load_experiment(str(path), ["data.max_durration=3"])


def test_unknown_component_name(tmp_path):
    path = write_config(tmp_path, merged(encoder="conformerr"))
    with pytest.raises(ConfigError) as info:
        load_experiment(str(path))
    message = str(info.value)
    assert "conformerr" in message and "valid names: transformer" in message and str(path) in message
    assert "override" not in message  # the file's own error


def test_overrides_with_yaml_typing(tmp_path):
    path = write_config(tmp_path, BASE)
    exp = load_experiment(str(path), [
        "trainer.max_steps=7", "optim_conf.lr=0.0005", "trainer.progress_bar=false",
        "data.specaug.enabled=false", "encoder_conf.num_layers=3", "data.train_cuts=/x/y.jsonl.gz",
    ])
    assert exp.trainer.max_steps == 7 and type(exp.trainer.max_steps) is int
    assert exp.optim_conf["lr"] == 0.0005 and type(exp.optim_conf["lr"]) is float
    assert exp.trainer.progress_bar is False
    assert exp.data.specaug.enabled is False
    assert exp.encoder_conf["num_layers"] == 3
    assert exp.data.train_cuts == "/x/y.jsonl.gz"
    # an int where a float is expected is accepted and becomes a float
    exp = load_experiment(str(path), ["optim_conf.lr=1"])
    assert exp.optim_conf["lr"] == 1.0 and type(exp.optim_conf["lr"]) is float
    # later overrides win; overrides beat the file
    exp = load_experiment(str(path), ["trainer.max_steps=7", "trainer.max_steps=9"])
    assert exp.trainer.max_steps == 9


def test_override_without_file():
    exp = load_experiment(None, ["tokenizer=byte", "trainer.max_steps=7"])
    assert exp.tokenizer == "byte" and exp.trainer.max_steps == 7


def test_override_scientific_notation_is_float(tmp_path):
    path = write_config(tmp_path, BASE)
    exp = load_experiment(str(path), ["optim_conf.lr=1e-4"])
    assert exp.optim_conf["lr"] == pytest.approx(1e-4) and type(exp.optim_conf["lr"]) is float


def test_yaml_file_scientific_notation_is_float(tmp_path):
    path = tmp_path / "sci.yaml"
    path.write_text("tokenizer: byte\noptim_conf:\n  lr: 1e-4\n")
    exp = load_experiment(str(path))
    assert exp.optim_conf["lr"] == pytest.approx(1e-4)


def test_the_old_optim_mapping_is_an_error_that_says_where_things_went(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("tokenizer: byte\noptim: {lr: 1e-4, warmup_steps: 30}\n")
    with pytest.raises(ConfigError, match=r"optim is the optimizer's name \(optim: adamw\) with its settings in "
                                          r"optim_conf; warmup_steps and min_lr_ratio belong in scheduler_conf"):
        load_experiment(str(path))


@pytest.mark.parametrize("override, key_path", [
    ("trainer.max_steps=abc", "trainer.max_steps"),
    ("trainer.max_steps=1.5", "trainer.max_steps"),
    ("trainer.progress_bar=maybe", "trainer.progress_bar"),
    ("optim_conf.lr=fast", "optim_conf.lr"),
    ("encoder_conf.d_model=wide", "encoder_conf.d_model"),
    ("data.fbank=3", "data.fbank"),
])
def test_wrong_type_names_key(tmp_path, override, key_path):
    path = write_config(tmp_path, BASE)
    with pytest.raises(ConfigError) as info:
        load_experiment(str(path), [override])
    assert key_path in str(info.value) and f"{path}, override {override!r}: " in str(info.value)


@pytest.mark.parametrize("override", ["trainer.max_steps", "=3", "trainer..max_steps=3"])
def test_malformed_override(override):
    with pytest.raises(ConfigError):
        load_experiment(None, ["tokenizer=byte", override])


def test_override_through_a_scalar_is_an_error(tmp_path):
    path = write_config(tmp_path, BASE)
    with pytest.raises(ConfigError, match=r"trainer\.max_steps is not a mapping"):
        load_experiment(str(path), ["trainer.max_steps.x=3"])


def test_defaults_are_filled(tmp_path):
    exp = load_experiment(str(write_config(tmp_path, {"tokenizer": "byte"})))
    assert exp.trainer == TrainerConfig()
    assert exp.optim == "adamw" and exp.optim_conf == {"lr": 1e-3, "weight_decay": 0.05, "beta1": 0.9,
                                                          "beta2": 0.98, "eps": 1e-8}
    assert exp.scheduler == "warmup_cosine" and exp.scheduler_conf == {"warmup_steps": 100, "min_lr_ratio": 0.02}
    assert exp.data == DataConfig()
    assert exp.task == "pretrain" and exp.objective == "contrastive"
    # component confs are filled with every field of the registered Config
    enc_defaults = TransformerAudioEncoder.Config()
    assert exp.encoder_conf == {k: getattr(enc_defaults, k) for k in vars(enc_defaults)}
    assert exp.objective_conf["embed_dim"] == 256 and exp.objective_conf["max_logit_scale"] == 100.0
    assert exp.text_encoder_conf["max_length"] == 128
    assert exp.task_conf == {"caption_lowercase": False, "caption_strip_punctuation": False}
    assert exp.tokenizer_conf == {}
    # partial component confs keep the given values and fill the rest
    exp = load_experiment(str(write_config(tmp_path, BASE, "b.yaml")))
    assert exp.encoder_conf["d_model"] == 32 and exp.encoder_conf["d_ff"] == 64
    assert exp.encoder_conf["subsampling_channels"] == enc_defaults.subsampling_channels
    assert exp.data.num_buckets == DataConfig().num_buckets


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_experiment("/nonexistent/exp.yaml")


def test_save_and_reload_is_equal(tmp_path):
    path = write_config(tmp_path, BASE)
    exp = load_experiment(str(path), ["trainer.max_steps=7", "optim_conf.lr=0.0003", "data.specaug.p=0.5"])
    out_dir = tmp_path / "exp"
    saved = save_experiment(exp, str(out_dir))
    assert saved == out_dir / "config.yaml" and saved.is_file()
    assert not list(out_dir.glob("*.tmp"))
    reloaded = load_experiment(str(saved))
    assert reloaded == exp
    assert reloaded.trainer.max_steps == 7 and reloaded.optim_conf["lr"] == 0.0003 and reloaded.data.specaug.p == 0.5
    # the saved YAML is plain data, complete (defaults written out)
    plain = yaml.safe_load(saved.read_text())
    assert plain["trainer"]["max_steps"] == 7
    assert plain["encoder_conf"]["subsampling_channels"] == TransformerAudioEncoder.Config().subsampling_channels
    assert set(plain) == set(vars(ExperimentConfig()))


def test_expand_path_reads_the_environment_and_names_what_is_unset(monkeypatch):
    from audiotext.config import expand_path

    monkeypatch.setenv("DATA_DIR", "/d")
    assert expand_path("${DATA_DIR}/probes/x", "here") == Path("/d/probes/x")
    assert expand_path("$DATA_DIR/y", "here") == Path("/d/y")
    monkeypatch.delenv("DATA_DIR")
    with pytest.raises(ValueError, match=r"probe x: .*DATA_DIR"):
        expand_path("${DATA_DIR}/probes/x", "probe x")
    monkeypatch.setenv("DATA_DIR", "")  # set but empty: not "/probes/x"
    with pytest.raises(ValueError, match=r"probe x: .*DATA_DIR"):
        expand_path("${DATA_DIR}/probes/x", "probe x")
