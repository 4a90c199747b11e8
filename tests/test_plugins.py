"""User plugins: a new objective from --user-dir used from YAML, and the entry-point group."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from audiotext.bin import train as train_cli
from audiotext.objectives import OBJECTIVES
from audiotext.plugins import ENTRY_POINT_GROUP, import_user_dir, load_entry_point_plugins
from audiotext.registry import RegistryError
from fixtures import make_corpus

PLUGIN = '''
"""A user's objective: contrastive loss plus a penalty on the audio embedding norm."""
from dataclasses import dataclass

import torch

from audiotext import register_objective
from audiotext.objectives.contrastive import ContrastiveObjective

CALLS = {"forward": 0}


@register_objective("{name}")
class NormPenaltyContrastive(ContrastiveObjective):
    @dataclass
    class Config(ContrastiveObjective.Config):
        penalty: float = 0.0

    def forward(self, frames, frame_lens, batch):
        CALLS["forward"] += 1
        loss, report = super().forward(frames, frame_lens, batch)
        penalty = self.conf.penalty * frames.pow(2).mean()
        report["penalty"] = penalty.detach()
        return loss + penalty, report
'''


def write_plugin(root: Path, package: str, objective_name: str) -> Path:
    pkg = root / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import objectives  # noqa: F401\n")
    (pkg / "objectives.py").write_text(PLUGIN.replace("{name}", objective_name))
    return pkg


def test_user_dir_objective_trains_from_yaml(tmp_path):
    cuts = make_corpus(tmp_path / "data", num_clips=16)
    plugin = write_plugin(tmp_path, "my_audiotext_plugin", "norm_penalty_contrastive")
    config = tmp_path / "exp.yaml"
    config.write_text(textwrap.dedent(f"""
        tokenizer: byte
        encoder_conf: {{d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8}}
        text_encoder_conf: {{d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}}
        objective: norm_penalty_contrastive
        objective_conf: {{embed_dim: 32, penalty: 0.5}}
        data: {{train_cuts: {cuts}, max_duration: 12, num_buckets: 1, num_workers: 0,
               specaug: {{enabled: false}}}}
        trainer: {{max_steps: 3, log_interval: 1, save_interval: 3, progress_bar: false}}
    """))
    exp_dir = tmp_path / "exp"
    rc = train_cli.main(["--config", str(config), "--exp-dir", str(exp_dir), "--user-dir", str(plugin)])
    assert rc == 0
    assert "norm_penalty_contrastive" in OBJECTIVES
    module = sys.modules["my_audiotext_plugin.objectives"]
    assert module.CALLS["forward"] == 3  # the user's forward ran once per step
    resolved = (exp_dir / "config.yaml").read_text()
    assert "objective: norm_penalty_contrastive" in resolved and "penalty: 0.5" in resolved
    assert json.loads((exp_dir / "train_summary.json").read_text())["steps"] == 3


def test_user_dir_unknown_key_of_plugin_config(tmp_path, capsys):
    plugin = write_plugin(tmp_path, "typo_plugin", "typo_plugin_objective")
    config = tmp_path / "exp.yaml"
    config.write_text("tokenizer: byte\nobjective: typo_plugin_objective\nobjective_conf: {penalti: 1.0}\n")
    rc = train_cli.main(["--config", str(config), "--exp-dir", str(tmp_path / "exp"), "--user-dir", str(plugin)])
    assert rc == 2
    assert "objective_conf.penalti" in capsys.readouterr().err


def test_registering_an_existing_name_from_a_plugin_fails(tmp_path):
    plugin = write_plugin(tmp_path, "clash_plugin", "contrastive")  # built-in name
    with pytest.raises(RegistryError, match="already registered"):
        import_user_dir(str(plugin))


def test_missing_user_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--user-dir"):
        import_user_dir(str(tmp_path / "nope"))


def test_entry_point_group_loads_installed_plugin(tmp_path, monkeypatch):
    """A package that declares ``audiotext.plugins`` in its metadata is imported at start-up."""
    site = tmp_path / "site"
    write_plugin(site, "ep_plugin", "entry_point_objective")
    dist = site / "ep_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nep_plugin = ep_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    import audiotext.plugins as plugins

    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    loaded = load_entry_point_plugins()
    assert "ep_plugin" in loaded
    assert "entry_point_objective" in OBJECTIVES


ENCODER_PLUGIN = '''
"""A user's audio encoder, registered when the package is imported."""
from audiotext import register_encoder
from audiotext.models.encoders.transformer import TransformerAudioEncoder


@register_encoder("entry_point_encoder")
class EntryPointEncoder(TransformerAudioEncoder):
    pass
'''

LOAD_SCRIPT = '''
import sys
import audiotext
from audiotext import hear

how, model_dir = sys.argv[1], sys.argv[2]
assert "ep_encoder_plugin" not in sys.modules
if how == "hear":
    encoder = hear.load_model(model_dir).model.encoder
else:
    encoder = audiotext.load_pretrained(model_dir).encoder
print(type(encoder).__module__, type(encoder).__name__)
'''


def test_models_of_entry_point_plugins_load_without_importing_the_plugin(tmp_path, monkeypatch):
    """A checkpoint whose encoder an installed package registers loads through hear.load_model and
    load_pretrained in a fresh process that never imports the package itself."""
    import os
    import subprocess

    import torch

    from audiotext.bin.train import checkpoint_config
    from audiotext.experiment import build_task, resolve
    from audiotext.train.checkpoint import save_checkpoint

    site = tmp_path / "site"
    (site / "ep_encoder_plugin").mkdir(parents=True)
    (site / "ep_encoder_plugin" / "__init__.py").write_text(ENCODER_PLUGIN)
    dist = site / "ep_encoder_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-encoder-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nep_encoder_plugin = ep_encoder_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    import importlib

    importlib.import_module("ep_encoder_plugin")  # the training side imported it
    exp = resolve({"tokenizer": "byte", "encoder": "entry_point_encoder",
                   "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32,
                                    "subsampling_channels": 4},
                   "text_encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32},
                   "objective_conf": {"embed_dim": 8}})
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "exp" / "checkpoints" / "best", build_task(exp), {"step": 0},
                           checkpoint_config(exp, tmp_path / "exp"))
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(site)])}
    for how in ("hear", "load_pretrained"):
        proc = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, how, str(ckpt)], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["ep_encoder_plugin", "EntryPointEncoder"]
    # without the package on the path, the name is unknown: the plugin is what made it load
    env["PYTHONPATH"] = str(root)
    proc = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, "hear", str(ckpt)], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "entry_point_encoder" in proc.stderr
