"""init_from: a new run's encoder initialised from another run's checkpoint (the paper's AudioSet-
supervised initialisation), strict by default."""
from __future__ import annotations

import logging

import pytest
import torch
import yaml

from audiotext.experiment import build_task, resolve
from audiotext.train.checkpoint import WEIGHTS, WeightsError, write_weights
from audiotext.train.init import InitFromConfig, init_from_checkpoint

ENCODER = {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32, "subsampling_channels": 4}


def tagging(seed: int, **encoder):
    torch.manual_seed(seed)
    return build_task(resolve({"task": "tagging", "task_conf": {"labels": ["a", "b", "c"]}, "tokenizer": "byte",
                               "encoder_conf": {**ENCODER, **encoder}}))


def contrastive(seed: int):
    torch.manual_seed(seed)
    return build_task(resolve({"task": "pretrain", "objective": "contrastive", "tokenizer": "byte",
                               "encoder_conf": ENCODER, "objective_conf": {"embed_dim": 8},
                               "text_encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32}}))


def saved(task, directory, edit=None):
    state = {k: v.clone() for k, v in task.state_dict().items()}
    if edit:
        edit(state)
    directory.mkdir(parents=True, exist_ok=True)
    write_weights(directory / WEIGHTS, state)
    return directory


def encoder_state(task):
    return {k: v for k, v in task.state_dict().items() if k.startswith("encoder.")}


def test_strict_load_copies_the_encoder_and_nothing_else(tmp_path):
    source, target = tagging(1), tagging(2)
    source.feature_mean.fill_(0.5)
    head_before = target.head.weight.clone()
    result = init_from_checkpoint(target, InitFromConfig(checkpoint=str(saved(source, tmp_path / "ckpt"))))
    expected = encoder_state(source)
    assert result.loaded == sorted(expected) and result.missing == [] and result.unexpected == []
    assert result.num_values == sum(v.numel() for v in expected.values())
    for key, value in encoder_state(target).items():
        assert torch.equal(value, expected[key]), key
    assert torch.equal(target.head.weight, head_before)  # not listed: left as initialised
    assert torch.equal(target.feature_mean, torch.zeros(80))  # the run's own statistics unless listed
    init_from_checkpoint(target, InitFromConfig(checkpoint=str(tmp_path / "ckpt"),
                                                modules=["feature_mean", "feature_std"]))
    assert torch.equal(target.feature_mean, torch.full((80,), 0.5))


def test_tagging_encoder_initialises_a_contrastive_model(tmp_path):
    tagger, model = tagging(3), contrastive(4)
    objective_before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("objective.")}
    assert any(not torch.equal(v, encoder_state(tagger)[k]) for k, v in encoder_state(model).items())
    result = init_from_checkpoint(model, InitFromConfig(checkpoint=str(saved(tagger, tmp_path / "tagger"))))
    assert len(result.loaded) == len(encoder_state(tagger)) > 0
    for key, value in encoder_state(model).items():
        assert torch.equal(value, encoder_state(tagger)[key]), key
    for key, value in model.state_dict().items():
        if key.startswith("objective."):
            assert torch.equal(value, objective_before[key]), key


def _damaged(state):
    del state["encoder.final_norm.weight"]  # missing from the file
    state["encoder.extra.weight"] = torch.zeros(2)  # not in the model
    state["encoder.final_norm.bias"] = torch.zeros(3)  # another shape


def test_strict_names_missing_unexpected_and_mismatched_keys(tmp_path):
    source, target = tagging(1), tagging(2)
    assert "encoder.final_norm.weight" in target.state_dict() and target.encoder.final_norm.bias.shape == (16,)
    ckpt = saved(source, tmp_path / "ckpt", _damaged)
    before = encoder_state(target)
    before = {k: v.clone() for k, v in before.items()}
    with pytest.raises(WeightsError) as err:
        init_from_checkpoint(target, InitFromConfig(checkpoint=str(ckpt)))
    assert err.value.missing == ["encoder.final_norm.weight"]
    assert err.value.unexpected == ["encoder.extra.weight"]
    assert err.value.mismatched == {"encoder.final_norm.bias": ((3,), (16,))}
    assert "init_from (strict) of encoder" in str(err.value) and str(ckpt / WEIGHTS) in str(err.value)
    for key, value in encoder_state(target).items():  # nothing loaded
        assert torch.equal(value, before[key]), key


def test_relaxed_loads_what_fits_and_logs_the_lists(tmp_path, caplog):
    source, target = tagging(1), tagging(2)
    ckpt = saved(source, tmp_path / "ckpt", _damaged)
    before_weight = target.encoder.final_norm.weight.clone()
    with caplog.at_level(logging.INFO, logger="audiotext.train.init"):
        result = init_from_checkpoint(target, InitFromConfig(checkpoint=str(ckpt), strict=False))
    n = len(encoder_state(target))
    assert len(result.loaded) == n - 2
    assert result.missing == ["encoder.final_norm.weight"] and result.unexpected == ["encoder.extra.weight"]
    assert result.mismatched == {"encoder.final_norm.bias": ((3,), (16,))}
    assert torch.equal(target.encoder.final_norm.weight, before_weight)
    for key in result.loaded:
        assert torch.equal(target.state_dict()[key], source.state_dict()[key]), key
    text = caplog.text
    assert f"loaded {n - 2} tensors" in text
    assert "1 missing from the file (left as initialised): ['encoder.final_norm.weight']" in text
    assert "1 unexpected in the file (not loaded): ['encoder.extra.weight']" in text
    assert "1 of mismatched shape (file vs model; not loaded): {'encoder.final_norm.bias': ((3,), (16,))}" in text


def test_names_that_match_nothing_and_missing_files_are_errors(tmp_path):
    source, target = tagging(1), tagging(2)
    ckpt = saved(source, tmp_path / "ckpt")
    with pytest.raises(ValueError, match=r"'decoder' matches no weight of the AudioTaggingTask being trained "
                                         r"\(its top-level names: encoder, feature_mean, feature_std, head\)"):
        init_from_checkpoint(target, InitFromConfig(checkpoint=str(ckpt), modules=["encoder", "decoder"]))
    model = contrastive(5)
    with pytest.raises(ValueError, match=r"'objective' matches no weight in .*model.safetensors"):
        init_from_checkpoint(model, InitFromConfig(checkpoint=str(ckpt), modules=["objective"]))
    with pytest.raises(FileNotFoundError, match="no model.safetensors in"):
        init_from_checkpoint(target, InitFromConfig(checkpoint=str(tmp_path / "nowhere")))
    assert init_from_checkpoint(target, InitFromConfig()) is None


def test_train_cli_applies_init_from_and_exits_2_on_a_strict_mismatch(tmp_path, capsys):
    from audiotext.bin import train as train_cli
    from audiotext.train.checkpoint import load_weights
    from tests.fixtures import make_corpus

    cuts = make_corpus(tmp_path / "data", num_clips=4, seed=1)
    tagger = saved(tagging(7), tmp_path / "tagger")
    config = {"task": "pretrain", "tokenizer": "byte", "encoder_conf": ENCODER, "objective_conf": {"embed_dim": 8},
              "text_encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32},
              "init_from": {"checkpoint": str(tagger)},
              "data": {"train_cuts": str(cuts), "max_duration": 3, "num_buckets": 1, "num_workers": 0,
                       "feature_stats_clips": 4},
              "trainer": {"max_steps": 1, "save_interval": 1, "log_interval": 1, "progress_bar": False},
              "optim_conf": {"lr": 0.0}, "scheduler_conf": {"warmup_steps": 1}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert train_cli.main(["--config", str(path), "--exp-dir", str(tmp_path / "exp")]) == 0
    model = contrastive(0)
    load_weights(model, tmp_path / "exp" / "checkpoints" / "best")
    for key, value in encoder_state(model).items():  # lr 0: the weights after one step are the tagger's
        assert torch.equal(value, encoder_state(tagging(7))[key]), key
    capsys.readouterr()
    wide = saved(tagging(7, d_model=32), tmp_path / "wide")
    path.write_text(yaml.safe_dump(dict(config, init_from={"checkpoint": str(wide)})))
    assert train_cli.main(["--config", str(path), "--exp-dir", str(tmp_path / "exp2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "init_from (strict) of encoder" in err[0]
    assert "shape mismatch" in err[0]


def test_an_encoder_trained_on_other_features_is_refused_when_strict(tmp_path, caplog):
    """Same shapes, other input: the checkpoint's config.yaml says 10 ms frames at 16 kHz with 80 mel
    bins; a run with a 20 ms frame shift must not take its encoder silently."""
    from audiotext.config import dump_yaml, to_plain
    from audiotext.train.init import check_input_contract

    source_exp = resolve({"task": "tagging", "task_conf": {"labels": ["a"]}, "tokenizer": "byte",
                          "encoder_conf": {**ENCODER, "dropout": 0.1}})
    ckpt = saved(tagging(1), tmp_path / "ckpt")
    dump_yaml(to_plain(source_exp), ckpt / "config.yaml")
    same = resolve({"task": "tagging", "task_conf": {"labels": ["a"]}, "tokenizer": "byte", "encoder_conf": ENCODER})
    check_input_contract(str(ckpt), same, ["encoder"], strict=True)  # only dropout differs: fine
    other = resolve({"task": "tagging", "task_conf": {"labels": ["a"]}, "tokenizer": "byte", "encoder_conf": ENCODER,
                     "data": {"fbank": {"frame_shift_ms": 20.0}}})
    with pytest.raises(ValueError, match=r"another data.fbank .*frame_shift_ms"):
        init_from_checkpoint(tagging(2), InitFromConfig(checkpoint=str(ckpt)), other)
    with caplog.at_level(logging.WARNING, logger="audiotext.train.init"):
        init_from_checkpoint(tagging(2), InitFromConfig(checkpoint=str(ckpt), strict=False), other)
    assert any("data.fbank differs" in r.getMessage() for r in caplog.records)
    check_input_contract(str(ckpt), other, ["feature_mean"], strict=True)  # no encoder loaded: no check
