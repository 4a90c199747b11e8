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


def trained_checkpoint(root, encoder: str, steps: int):
    """A checkpoint of ``steps`` steps of the real training command on a toy corpus, with the
    audio encoder given as YAML lines."""
    cuts = make_corpus(root / "data", num_clips=12)
    config = root / "exp.yaml"
    config.write_text(textwrap.dedent(f"""
        tokenizer: byte
        text_encoder_conf: {{d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}}
        objective_conf: {{embed_dim: 16}}
        data: {{train_cuts: {cuts}, max_duration: 10, num_buckets: 1, num_workers: 0}}
        trainer: {{max_steps: {steps}, save_interval: {steps}, progress_bar: false}}
    """) + encoder)
    assert train_cli.main(["--config", str(config), "--exp-dir", str(root / "exp")]) == 0
    return root / "exp" / "checkpoints" / "best"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    encoder = f"encoder_conf: {{d_model: {DIM}, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8}}\n"
    return trained_checkpoint(tmp_path_factory.mktemp("hear"), encoder, steps=2)


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
    assert not model.model.training


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
    else:  # shorter than the encoder's minimum input: padded to one frame
        assert emb.shape[1] == 1
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (n, DIM) and scene.dtype == torch.float32 and scene.device == audio.device
    assert torch.allclose(scene, emb.mean(dim=1), atol=1e-6)  # scene == mean of timestamp embeddings


def fbank_of(model, audio):
    return torch.stack([model.model.fbank(a.numpy()) for a in audio])


def test_minimum_input_comes_from_the_encoder(model):
    # 7 fbank frames (the conv front end's receptive field) need 7 * 160 - 80 samples
    audio_side = model.model
    assert audio_side.min_input_samples == 1040
    assert audio_side.num_frames(1040) == 1 and audio_side.num_frames(1) == 1
    assert audio_side.num_frames(1040 + 4 * 160) == 2 and audio_side.num_frames(1040 + 4 * 160 - 1) == 1


def test_short_input_is_padded_to_the_minimum(model):
    audio = noise(2, 0.05, seed=7)  # 800 samples
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    padded = torch.nn.functional.pad(audio, (0, 1040 - 800))
    emb_padded, ts_padded = hear.get_timestamp_embeddings(padded, model)
    assert emb.shape == (2, 1, DIM) and torch.equal(emb, emb_padded) and torch.equal(ts, ts_padded)
    assert ts[0, 0] == 35.0


@pytest.mark.parametrize("seconds", [20.0, 40.05, 45.0, 61.0])
def test_regular_hop_over_long_inputs(model, seconds):
    """One frame every 40 ms from the first to the last (HEAR's validator), none lost at a window seam:
    as many frames as the encoder gives the whole input unwindowed."""
    audio = noise(2, seconds, seed=3)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    total = encoder_frames(audio.shape[1])
    assert emb.shape == (2, total, DIM) and ts.shape == (2, total)
    assert torch.equal(ts[0], 40.0 * torch.arange(total, dtype=torch.float32) + 35.0)
    assert torch.equal(ts[1], ts[0])
    assert torch.isfinite(emb).all()
    # the last frame is built on audio up to its end: under 70 ms (one frame's span) is not in any frame
    assert seconds * 1000 - (float(ts[0, -1]) + 35.0) < 70.0


def test_windows_overlap_by_the_receptive_field_and_keep_their_own_frames(model):
    """45 s = 1124 frames in 3 windows of 375/374/375 frames; window [a, b) is encoded from fbank frames
    [4a, 4(b-1) + 7) of the whole input's fbank."""
    audio = noise(2, 45.0, seed=4)
    emb, _ = hear.get_timestamp_embeddings(audio, model)
    assert hear.frame_windows(emb.shape[1], 500) == [(0, 375), (375, 749), (749, 1124)]
    feats = fbank_of(model, audio)
    for a, b in [(0, 375), (375, 749), (749, 1124)]:
        window = feats[:, 4 * a:4 * (b - 1) + 7]
        frames, lens = model.model.encode(window, torch.full((2,), window.shape[1]))
        assert frames.shape[1] == b - a and (lens == b - a).all()
        assert torch.allclose(emb[:, a:b], frames, atol=1e-5)


def test_up_to_one_window_is_the_unwindowed_encoding(model):
    audio = noise(1, hear.MAX_WINDOW_SECONDS, seed=2)
    emb, _ = hear.get_timestamp_embeddings(audio, model)
    feats = fbank_of(model, audio)
    frames, _ = model.model.encode(feats, torch.tensor([feats.shape[1]]))
    assert emb.shape[1] == encoder_frames(WINDOW) == 499
    assert torch.allclose(emb, frames, atol=1e-5)


def test_frame_windows():
    assert hear.frame_windows(499, 500) == [(0, 499)]
    assert hear.frame_windows(500, 500) == [(0, 500)]
    assert hear.frame_windows(501, 500) == [(0, 250), (250, 501)]
    assert hear.frame_windows(1524, 500) == [(0, 381), (381, 762), (762, 1143), (1143, 1524)]
    assert hear.frame_windows(1, 500) == [(0, 1)]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_rejected(model, bad):
    audio = noise(4, 1.0, seed=6)
    audio[1, 100] = bad
    audio[3, -1] = bad
    for call in (hear.get_scene_embeddings, hear.get_timestamp_embeddings):
        with pytest.raises(ValueError, match=r"^sounds 1, 3 hold NaN or inf samples$"):
            call(audio, model)


def test_out_of_range_input_rejected(model):
    audio = noise(3, 1.0, seed=6)
    audio[2, 5] = 1e30
    audio[0, 7] = float("nan")
    with pytest.raises(ValueError, match=r"^sounds 0 hold NaN or inf samples; sounds 2 hold samples beyond \+-100 "):
        hear.get_scene_embeddings(audio, model)
    audio[0, 7] = 1.5  # float audio may overshoot full scale a little: accepted
    audio[2, 5] = -100.0
    assert torch.isfinite(hear.get_scene_embeddings(audio, model)).all()


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


@pytest.fixture(scope="module")
def zipformer_model(tmp_path_factory):
    encoder = textwrap.dedent(f"""\
        encoder: zipformer
        encoder_conf: {{downsampling_factor: [1, 2], num_encoder_layers: [1, 1], encoder_dim: [32, {DIM}],
                        feedforward_dim: [64, 64], num_heads: [2, 2], cnn_module_kernel: [7, 7],
                        frontend_channels: [4, 8, 16]}}
    """)
    return hear.load_model(str(trained_checkpoint(tmp_path_factory.mktemp("hear_zipformer"), encoder, steps=1)))


def test_zipformer_windows_hold_the_whole_receptive_field_of_their_last_frame(zipformer_model):
    """A Zipformer frame i is built on fbank frames [4i, 4i + 11) (min_input_frames 9 only completes
    a clip's last frame): window [a, b) is encoded from fbank frames [4a, 4(b-1) + 11), so no
    window-final frame is half built, and frames are stamped at the centre of their 11."""
    model = zipformer_model
    audio = noise(1, 45.0, seed=5)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    feats = fbank_of(model, audio)
    total = (feats.shape[1] - 9) // 4 + 1
    assert emb.shape == (1, total, DIM)
    windows = hear.frame_windows(total, 500)
    assert len(windows) == 3
    for a, b in windows:
        window = feats[:, 4 * a:4 * (b - 1) + 11]
        frames, _ = model.model.encode(window, torch.tensor([window.shape[1]]))
        assert torch.allclose(emb[:, a:b], frames, atol=1e-5)
    # fbank frame k (centred 10 ms frames) is stamped 10 k + 5 ms; Zipformer frame i at fbank frame 4i + 5
    assert ts[0, :2].tolist() == [10 * 5 + 5, 10 * 9 + 5]
