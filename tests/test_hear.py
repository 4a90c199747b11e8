"""HEAR API over a checkpoint written by the real training command."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from audiotext import hear
from audiotext.bin import train as train_cli
from fixtures import SR, make_corpus


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("hear")
    cuts = make_corpus(root / "data", num_clips=12)
    config = root / "exp.yaml"
    config.write_text(textwrap.dedent(f"""
        tokenizer: byte
        encoder_conf: {{d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8}}
        text_encoder_conf: {{d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}}
        objective_conf: {{embed_dim: 16}}
        data: {{train_cuts: {cuts}, max_duration: 10, num_buckets: 1, num_workers: 0}}
        trainer: {{max_steps: 2, save_interval: 2, progress_bar: false}}
        task_conf: {{normalization_clips: 4}}
    """))
    assert train_cli.main(["--config", str(config), "--exp-dir", str(root / "exp")]) == 0
    return root / "exp" / "checkpoints" / "best"


def test_model_attributes(checkpoint):
    model = hear.load_model(str(checkpoint))
    assert model.sample_rate == SR
    assert model.scene_embedding_size == 32 and model.timestamp_embedding_size == 32


@pytest.mark.parametrize("n,seconds", [(1, 0.01), (1, 1.0), (3, 2.5), (2, 47.0)])
def test_shapes_dtypes_and_timestamps(checkpoint, n, seconds):
    model = hear.load_model(str(checkpoint))
    audio = torch.from_numpy(np.random.default_rng(0).uniform(-0.3, 0.3, (n, int(seconds * SR))).astype(np.float32))
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.dtype == torch.float32 and ts.dtype == torch.float32
    assert emb.shape[0] == n and emb.shape[2] == 32 and ts.shape == emb.shape[:2]
    assert emb.shape[1] >= 1
    assert bool((ts[:, 1:] > ts[:, :-1]).all())  # strictly increasing
    if seconds >= 1.0:  # one frame per 40 ms, timestamps cover the input
        assert emb.shape[1] == pytest.approx(seconds * 25, abs=3)
        assert 0 < ts[0, 0] < 100 and ts[0, -1] == pytest.approx(seconds * 1000, abs=100)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (n, 32) and scene.dtype == torch.float32
    assert torch.isfinite(scene).all()


def test_batch_of_many_equals_one_by_one(checkpoint):
    model = hear.load_model(str(checkpoint))
    audio = torch.from_numpy(np.random.default_rng(1).uniform(-0.3, 0.3, (3, SR)).astype(np.float32))
    together = hear.get_scene_embeddings(audio, model)
    alone = torch.cat([hear.get_scene_embeddings(audio[i:i + 1], model) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_load_model_rejects_bad_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        hear.load_model(str(tmp_path))


def test_input_must_be_2d(checkpoint):
    model = hear.load_model(str(checkpoint))
    with pytest.raises(ValueError, match="n_sounds"):
        hear.get_scene_embeddings(torch.zeros(SR), model)
