"""HEAR API contract over a checkpoint written by the real training command."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from audiotext import hear
from audiotext.bin import train as train_cli
from fixtures import SR, make_corpus

DIM = 32
WINDOW = int(hear.MAX_WINDOW_SECONDS * SR)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("hear")
    cuts = make_corpus(root / "data", num_clips=12)
    config = root / "exp.yaml"
    config.write_text(textwrap.dedent(f"""
        tokenizer: byte
        encoder_conf: {{d_model: {DIM}, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8}}
        text_encoder_conf: {{d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}}
        objective_conf: {{embed_dim: 16}}
        data: {{train_cuts: {cuts}, max_duration: 10, num_buckets: 1, num_workers: 0}}
        trainer: {{max_steps: 2, save_interval: 2, progress_bar: false}}
        task_conf: {{normalization_clips: 4}}
    """))
    assert train_cli.main(["--config", str(config), "--exp-dir", str(root / "exp")]) == 0
    return root / "exp" / "checkpoints" / "best"


@pytest.fixture(scope="module")
def model(checkpoint):
    return hear.load_model(str(checkpoint))


def noise(n: int, seconds: float, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.uniform(-0.3, 0.3, (n, int(round(seconds * SR)))).astype(np.float32))


def encoder_frames(num_samples: int) -> int:
    """Encoder frames of one window: fbank frames (10 ms, centred) through two stride-2 convolutions."""
    fbank = int(round(num_samples / (SR * 0.010)))
    return ((fbank - 1) // 2 - 1) // 2


def test_model_attributes(model):
    assert model.sample_rate == SR
    assert model.scene_embedding_size == DIM and model.timestamp_embedding_size == DIM
    assert not model.task.training


@pytest.mark.parametrize("n,seconds", [(1, 0.01), (1, 0.05), (1, 1.0), (3, 2.5), (2, 20.0), (2, 40.05), (2, 47.0)])
def test_shapes_dtypes_and_timestamps(model, n, seconds):
    audio = noise(n, seconds)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.dtype == torch.float32 and ts.dtype == torch.float32
    assert emb.device == audio.device and ts.device == audio.device
    assert emb.shape[0] == n and emb.shape[2] == DIM and ts.shape == emb.shape[:2]
    assert emb.shape[1] >= 1
    assert torch.isfinite(emb).all() and torch.isfinite(ts).all()
    assert bool((ts[:, 1:] > ts[:, :-1]).all())  # strictly increasing: no frame twice
    assert torch.equal(ts, ts[:1].expand_as(ts))  # same timestamps for every sound of the batch
    assert 0 < ts[0, 0] < 100
    if seconds >= 1.0:  # one frame per 40 ms, timestamps cover the input
        assert emb.shape[1] == pytest.approx(seconds * 25, abs=3 * (1 + seconds // 20))
        assert ts[0, -1] == pytest.approx(seconds * 1000, abs=100)
        assert ts[0, -1] < seconds * 1000
    else:  # shorter than the front end needs: padded to one frame
        assert emb.shape[1] == 1
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (n, DIM) and scene.dtype == torch.float32 and scene.device == audio.device
    assert torch.allclose(scene, emb.mean(dim=1), atol=1e-6)  # scene == mean of timestamp embeddings


def test_exactly_one_window_is_one_window(model):
    audio = noise(1, hear.MAX_WINDOW_SECONDS, seed=2)
    assert audio.shape[1] == WINDOW
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape[1] == encoder_frames(WINDOW)
    assert torch.allclose(ts[0, 1:] - ts[0, :-1], torch.full((emb.shape[1] - 1,), 40.0))


def test_long_input_is_stitched_from_windows(model):
    """47 s = 20 s + 20 s + 7 s: each window's frames once, in order, timestamps shifted by the window start."""
    audio = noise(2, 47.0, seed=3)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    bounds = [(0, WINDOW), (WINDOW, 2 * WINDOW), (2 * WINDOW, audio.shape[1])]
    assert emb.shape[1] == sum(encoder_frames(end - start) for start, end in bounds)
    offset = 0
    for start, end in bounds:
        part, part_ts = hear.get_timestamp_embeddings(audio[:, start:end], model)
        k = part.shape[1]
        assert torch.allclose(emb[:, offset:offset + k], part, atol=1e-5)
        assert torch.allclose(ts[:, offset:offset + k], part_ts + 1000.0 * start / SR)
        offset += k
    assert offset == emb.shape[1]


def test_short_remainder_folds_into_last_window(model):
    """40.05 s: the 50 ms after the second window is encoded with it, not on its own nor twice."""
    audio = noise(1, 40.05, seed=4)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert hear.window_bounds(audio.shape[1], WINDOW, int(hear.MIN_SECONDS * SR)) == [
        (0, WINDOW), (WINDOW, audio.shape[1])]
    assert emb.shape[1] == encoder_frames(WINDOW) + encoder_frames(audio.shape[1] - WINDOW)
    tail, tail_ts = hear.get_timestamp_embeddings(audio[:, WINDOW:], model)
    assert torch.allclose(emb[:, -tail.shape[1]:], tail, atol=1e-5)
    assert torch.allclose(ts[:, -tail.shape[1]:], tail_ts + 20000.0)


def test_window_bounds():
    assert hear.window_bounds(10, 4, 2) == [(0, 4), (4, 8), (8, 10)]
    assert hear.window_bounds(9, 4, 2) == [(0, 4), (4, 9)]
    assert hear.window_bounds(8, 4, 2) == [(0, 4), (4, 8)]
    assert hear.window_bounds(3, 4, 2) == [(0, 3)]


@pytest.mark.parametrize("seconds", [0.05, 2.0, 47.0])
def test_batch_of_many_equals_one_by_one(model, seconds):
    audio = noise(3, seconds, seed=1)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    for i in range(3):
        one, one_ts = hear.get_timestamp_embeddings(audio[i:i + 1], model)
        assert torch.allclose(emb[i:i + 1], one, atol=1e-5)
        assert torch.equal(ts[i:i + 1], one_ts)
    together = hear.get_scene_embeddings(audio, model)
    alone = torch.cat([hear.get_scene_embeddings(audio[i:i + 1], model) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_float64_input_gives_float32(model):
    audio = noise(2, 1.0, seed=5)
    emb, ts = hear.get_timestamp_embeddings(audio.double(), model)
    assert emb.dtype == torch.float32 and ts.dtype == torch.float32
    assert torch.allclose(emb, hear.get_timestamp_embeddings(audio, model)[0], atol=1e-6)


def test_empty_batch(model):
    emb, ts = hear.get_timestamp_embeddings(torch.zeros(0, SR), model)
    assert emb.shape == (0, encoder_frames(SR), DIM) and ts.shape == (0, encoder_frames(SR))
    assert hear.get_scene_embeddings(torch.zeros(0, SR), model).shape == (0, DIM)


def test_load_model_rejects_bad_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        hear.load_model(str(tmp_path))
    with pytest.raises(ValueError, match="checkpoint"):
        hear.load_model("")


@pytest.mark.parametrize("shape", [(SR,), (1, 1, SR), ()])
def test_input_must_be_2d(model, shape):
    with pytest.raises(ValueError, match="n_sounds"):
        hear.get_scene_embeddings(torch.zeros(shape), model)
    with pytest.raises(ValueError, match="n_sounds"):
        hear.get_timestamp_embeddings(torch.zeros(shape), model)


def test_input_must_be_a_float_tensor(model):
    with pytest.raises(TypeError, match="floating-point"):
        hear.get_scene_embeddings(torch.zeros(1, SR, dtype=torch.int16), model)
    with pytest.raises(TypeError, match="torch.Tensor"):
        hear.get_scene_embeddings(np.zeros((1, SR), dtype=np.float32), model)
