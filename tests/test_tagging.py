"""The tagging task (labels, no captions) trains through the same trainer, and its checkpoint loads
audio-only (HEAR) like any other."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from lhotse import CutSet

from audiotext.experiment import build_task, resolve
from tests.fixtures import KINDS, make_corpus

VOCAB = ["low", "high", "noise"]  # "chirp" clips have no label of the vocabulary


def tagging_config(cuts, **trainer):
    return {
        "task": "tagging", "task_conf": {"labels": VOCAB, "label_field": "label", "dropout": 0.0},
        "tokenizer": "byte",
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8},
        "data": {"train_cuts": str(cuts), "valid_cuts": str(cuts), "max_duration": 6.0, "num_buckets": 1,
                 "num_workers": 0, "feature_stats_clips": 8},
        "optim_conf": {"lr": 3e-3}, "scheduler_conf": {"warmup_steps": 1},
        "trainer": {"max_steps": 4, "save_interval": 4, "valid_interval": 4, "log_interval": 1, "progress_bar": False,
                    **trainer},
    }


@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("tagging"), num_clips=16, seed=9)


def test_tagging_batches_hold_multi_hot_labels_and_skip_unlabelled_clips(cuts):
    exp = resolve(tagging_config(cuts))
    task = build_task(exp)
    clips = list(CutSet.from_file(cuts))
    batch = task.build_dataset(exp.data, train=False).make_batch(clips[:8])
    kinds = list(KINDS)
    expected = [c.id for i, c in enumerate(clips[:8]) if kinds[i % 4] in VOCAB]
    assert batch.cut_ids == expected and batch.tokens is None and batch.captions == []
    assert dict(batch.skipped) == {c.id: "no_label" for i, c in enumerate(clips[:8]) if kinds[i % 4] == "chirp"}
    assert batch.labels.dtype == torch.float32 and batch.labels.shape == (len(expected), 3)
    rows = [VOCAB.index(kinds[i % 4]) for i in range(8) if kinds[i % 4] in VOCAB]
    assert torch.equal(batch.labels, torch.eye(3)[rows])


def test_tagging_task_trains_through_the_trainer_and_loads_audio_only(cuts, tmp_path):
    from audiotext import hear
    from audiotext.bin import train as train_cli

    config = tmp_path / "tagging.yaml"
    config.write_text(yaml.safe_dump(tagging_config(cuts)))
    exp_dir = tmp_path / "exp"
    assert train_cli.main(["--config", str(config), "--exp-dir", str(exp_dir)]) == 0
    summary = json.loads((exp_dir / "train_summary.json").read_text())
    assert summary["steps"] == 4 and np.isfinite(summary["last_valid"]["loss"])
    assert set(summary["last_valid"]) == {"loss", "label_acc", "mAP"}
    assert summary["skipped_audio"]["by_reason"]["no_label"] > 0  # the chirps, counted
    model = hear.load_model(str(exp_dir / "checkpoints" / "step-00000004"))
    emb = hear.get_scene_embeddings(torch.zeros(2, 16000), model)
    assert emb.shape == (2, 32) and torch.isfinite(emb).all()


def test_label_vocabulary_errors(tmp_path, cuts):
    conf = tagging_config(cuts)
    conf["task_conf"]["labels"] = []
    with pytest.raises(ValueError, match="exactly one"):
        build_task(resolve(conf))
    conf["task_conf"]["labels"] = ["a", "b", "a"]
    with pytest.raises(ValueError, match=r"repeated in the vocabulary: \['a'\]"):
        build_task(resolve(conf))
    vocab_file = tmp_path / "labels.txt"
    vocab_file.write_text("low\nhigh\n\nnoise\n")
    conf["task_conf"].update(labels=[], label_file=str(vocab_file))
    assert build_task(resolve(conf)).vocabulary == VOCAB


def test_tagging_model_exports_with_its_vocabulary_and_refuses_captioning(cuts, tmp_path, capsys):
    from audiotext.bin import train as train_cli
    from audiotext.caption import main as caption_main
    from audiotext.export import export_model, load_pretrained

    vocab_file = tmp_path / "labels.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n")
    conf = tagging_config(cuts, max_steps=1, save_interval=1, valid_interval=1)
    conf["task_conf"].update(labels=[], label_file=str(vocab_file))
    config = tmp_path / "tagging.yaml"
    config.write_text(yaml.safe_dump(conf))
    assert train_cli.main(["--config", str(config), "--exp-dir", str(tmp_path / "exp")]) == 0
    vocab_file.write_text("noise\nlow\nhigh\n")  # edited afterwards: the model keeps its own order
    out = export_model(tmp_path / "exp" / "checkpoints" / "best", tmp_path / "tagger")
    assert "the `tagging` task" in (out / "README.md").read_text()
    assert load_pretrained(out).vocabulary == VOCAB
    wav = str(cuts.parent / "wav" / "toy-0000.wav")
    assert caption_main(["--model", str(out), wav]) == 2
    assert "no objective" in capsys.readouterr().err
