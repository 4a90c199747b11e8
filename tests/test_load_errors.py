"""Weights that do not fit the config: every command that loads a model exits 2 with one ``error:``
line naming the weights file (WeightsError), never a traceback."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from audiotext import caption
from audiotext.bin import embed as embed_cli
from audiotext.bin import evaluate as evaluate_cli
from audiotext.bin import export as export_cli
from audiotext.bin.train import checkpoint_config
from audiotext.experiment import build_task, resolve
from audiotext.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("load_errors")
    exp = resolve({
        "tokenizer": "byte",
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8},
        "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64},
        "objective": "joint",  # every command accepts it: caption needs a decoder
        "objective_conf": {"contrastive": {"embed_dim": 16},
                           "captioning": {"decoder": {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32}}},
    })
    torch.manual_seed(0)
    return save_checkpoint(root / "exp" / "checkpoints" / "best", build_task(exp), {"step": 0},
                           checkpoint_config(exp, root / "exp"))


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("wav") / "a.wav"
    sf.write(path, np.random.default_rng(0).uniform(-0.3, 0.3, 16000).astype(np.float32), 16000)
    return path


EDITS = {
    "extra_tensor": lambda s: s.update({"encoder.extra_tensor": torch.zeros(3)}),
    "dropped_audio_tensor": lambda s: s.pop("encoder.final_norm.bias"),
    "dropped_text_tensor": lambda s: s.pop("objective.contrastive.logit_scale"),
}


def _edited(checkpoint, tmp_path, edit):
    out = tmp_path / "model_dir"
    shutil.copytree(checkpoint, out)
    state = load_file(str(out / "model.safetensors"))
    EDITS[edit](state)
    save_file(state, str(out / "model.safetensors"))
    return out


def _commands(model, wav, tmp_path):
    cuts = tmp_path / "cuts"
    cuts.mkdir()
    eval_yaml = tmp_path / "eval.yaml"
    eval_yaml.write_text("probes: []\n")
    return {
        "embed": lambda: embed_cli.main(["--model", str(model), "--out", str(tmp_path / "e.npz"), "--no-progress",
                                         str(wav)]),
        "export": lambda: export_cli.main(["--checkpoint", str(model), "--out", str(tmp_path / "export")]),
        "evaluate": lambda: evaluate_cli.main(["--model-dir", str(model), "--cuts-dir", str(cuts),
                                               "--eval-config", str(eval_yaml), "--out", str(tmp_path / "r.json")]),
        "caption": lambda: caption.main(["--model", str(model), str(wav)]),
    }


@pytest.mark.parametrize("command", ["embed", "export", "evaluate", "caption"])
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_bad_weights_exit_2_with_one_error_line_naming_the_file(checkpoint, wav, tmp_path, capsys, command, edit):
    model = _edited(checkpoint, tmp_path, edit)
    rc = _commands(model, wav, tmp_path)[command]()
    err = capsys.readouterr().err
    if command == "embed" and edit == "dropped_text_tensor":
        # embed loads the audio side alone: the text tower's weights are never read
        assert rc == 0, err
        return
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    key = {"extra_tensor": "1 unexpected key (encoder.extra_tensor)",
           "dropped_audio_tensor": "1 missing key (encoder.final_norm.bias)",
           "dropped_text_tensor": "1 missing key (objective.contrastive.logit_scale)"}[edit]
    assert rc == 2
    assert errors == [f"error: {model / 'model.safetensors'}: weights do not fit the model: {key}"]
    assert "Traceback" not in err
    assert not (tmp_path / "export").exists() and not (tmp_path / "e.npz").exists()


def test_the_unedited_checkpoint_passes_every_command(checkpoint, wav, tmp_path, capsys):
    """The same commands on the checkpoint as written succeed: the failures above are the edits'."""
    rc = {name: run() for name, run in _commands(checkpoint, wav, tmp_path).items() if name != "evaluate"}
    assert rc == {"embed": 0, "export": 0, "caption": 0}, capsys.readouterr().err
