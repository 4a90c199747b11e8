"""The embedding interface (audiotext.embedding), audio-only loading, the derived encoder input_dim,
objective capabilities and the one load error (WeightsError)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from audiotext.bin.train import checkpoint_config
from audiotext.config import ConfigError
from audiotext.embedding import AudioEmbedding, AudioModel, build_audio_encoder, load_audio_model
from audiotext.experiment import build_task, load_task_from_dir, resolve
from audiotext.objectives import OBJECTIVES, ObjectiveContext
from audiotext.train.checkpoint import WeightsError, save_checkpoint

SR = 16000
TINY_ENCODER = {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8}
TINY_TEXT = {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64}


def tiny_exp(**extra):
    return resolve({"tokenizer": "byte", "encoder_conf": dict(TINY_ENCODER), "text_encoder_conf": dict(TINY_TEXT),
                    "objective_conf": {"embed_dim": 16}, **extra})


@pytest.fixture(scope="module")
def task():
    torch.manual_seed(0)
    t = build_task(tiny_exp()).eval()
    t.feature_mean.copy_(torch.linspace(-3.0, 3.0, 80))  # statistics that are not the identity
    t.feature_std.copy_(torch.linspace(0.5, 2.0, 80))
    return t


@pytest.fixture(scope="module")
def checkpoint(task, tmp_path_factory):
    root = tmp_path_factory.mktemp("embedding")
    return save_checkpoint(root / "exp" / "checkpoints" / "best", task, {"step": 0},
                           checkpoint_config(tiny_exp(), root / "exp"))


def noise(samples: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.3, 0.3, samples).astype(np.float32)


# ------------------------------------------------------------------ the interface


def test_geometry(task):
    assert isinstance(task, AudioEmbedding)
    assert task.sample_rate == SR and task.embedding_dim == 32 and task.frame_shift_ms == 40.0
    # 7 fbank frames (two 3x3 stride-2 convolutions) of 10 ms, centred: 7 * 160 - 80 samples
    assert task.min_input_samples == 1040
    assert [task.num_frames(n) for n in (0, 1, 1040, 1040 + 639, 1040 + 640, SR)] == [1, 1, 1, 1, 2, 24]
    # frame i is built on fbank frames [4i, 4i + 7), centred at 10 ms * (4i + 3) + 5 ms
    assert task.frame_times_ms(3).tolist() == [35.0, 75.0, 115.0]
    assert task.frame_times_ms(3).dtype == torch.float32 and task.frame_times_ms(0).shape == (0,)


def test_featurize_pads_short_waveforms_to_the_minimum(task):
    short = noise(800)
    feats = task.featurize(short)
    assert feats.shape == (7, 80) and feats.dtype == torch.float32
    padded = np.concatenate([short, np.zeros(240, np.float32)])
    assert torch.equal(feats, task.featurize(padded))
    assert torch.equal(task.featurize(torch.from_numpy(padded)), feats)  # tensors and arrays alike
    assert task.featurize(short, pad_to_minimum=False).shape == (5, 80)
    with pytest.raises(ValueError, match=r"mono waveform \(num_samples,\), got shape \(2, 800\)"):
        task.featurize(np.zeros((2, 800), np.float32))


def test_featurize_checked_skips_instead_of_padding(task):
    assert task.featurize_checked(noise(1039)) == (None, "too_short")
    feats, reason = task.featurize_checked(noise(1040))
    assert reason is None and feats.shape == (7, 80)
    feats, reason = task.featurize_checked(np.full(2000, np.nan, np.float32))
    assert feats is None and reason == "out_of_range"


def test_collate_features(task):
    a, b = torch.ones(3, 4), 2 * torch.ones(5, 4)
    x, lens = task.collate_features([a, b])
    assert x.shape == (2, 5, 4) and lens.tolist() == [3, 5] and lens.dtype == torch.int64
    assert torch.equal(x[0, :3], a) and torch.equal(x[0, 3:], torch.zeros(2, 4)) and torch.equal(x[1], b)
    with pytest.raises(ValueError, match="at least one"):
        task.collate_features([])
    with pytest.raises(ValueError, match=r"different widths \[4, 5\]"):
        task.collate_features([a, torch.ones(2, 5)])


def test_encode_normalises_and_ignores_padding(task):
    """A clip's frames do not depend on its batch mates or on what its padding holds."""
    short, long = task.featurize(noise(SR // 2, 1)), task.featurize(noise(SR, 2))
    alone, alone_lens = task.encode(short[None], torch.tensor([short.shape[0]]))
    x, lens = task.collate_features([short, long])
    x[0, short.shape[0]:] = 1e3  # garbage in the padding: set back to zero after normalisation
    frames, frame_lens = task.encode(x, lens)
    n = int(alone_lens[0])
    assert frame_lens.tolist() == [n, task.num_frames(SR)] and n == task.num_frames(SR // 2)
    assert torch.allclose(frames[0, :n], alone[0], atol=1e-5)
    assert torch.equal(frames[0, n:], torch.zeros_like(frames[0, n:]))
    # normalisation with the stored statistics: the encoder sees (x - mean) / std
    by_hand, _ = task.encoder((short[None] - task.feature_mean) / task.feature_std, torch.tensor([short.shape[0]]))
    assert torch.allclose(alone, by_hand, atol=1e-6)
    with pytest.raises(ValueError, match=r"features \(B, T, 80\), got shape \(1, 7, 64\)"):
        task.encode(torch.zeros(1, 7, 64), torch.tensor([7]))


def test_encode_waveforms_is_featurize_collate_encode(task):
    waves = [noise(500, 3), noise(SR, 4)]
    frames, lens = task.encode_waveforms(waves)
    x, feat_lens = task.collate_features([task.featurize(w) for w in waves])
    expected, expected_lens = task.encode(x, feat_lens)
    assert torch.equal(frames, expected) and torch.equal(lens, expected_lens) and lens.tolist() == [1, 24]


# ------------------------------------------------------------------ audio-only loading


def test_audio_model_has_the_task_audio_keys_only(task):
    audio = AudioModel(tiny_exp())
    keys = set(audio.state_dict())
    assert keys == {k for k in task.state_dict() if not k.startswith("objective.")}
    assert {"feature_mean", "feature_std"} <= keys and all(k.startswith("encoder.") for k in keys - {
        "feature_mean", "feature_std"})
    assert type(task).other_state_prefixes == ("objective.",)


def test_load_audio_model_equals_the_task(task, checkpoint):
    audio = load_audio_model(checkpoint)
    assert not audio.training and not hasattr(audio, "objective")
    for key, value in audio.state_dict().items():
        assert torch.equal(value, task.state_dict()[key]), key
    waves = [noise(3000, 5), noise(SR, 6)]
    a, a_lens = audio.encode_waveforms(waves)
    b, b_lens = task.encode_waveforms(waves)
    assert torch.equal(a, b) and torch.equal(a_lens, b_lens)


def edited_copy(checkpoint, tmp_path, edit):
    """A copy of ``checkpoint`` whose weights ``edit(state)`` changed."""
    import shutil

    out = tmp_path / "edited"
    shutil.copytree(checkpoint, out)
    state = load_file(str(out / "model.safetensors"))
    edit(state)
    save_file(state, str(out / "model.safetensors"))
    return out


def test_load_audio_model_ignores_the_objective_weights(checkpoint, tmp_path):
    edited = edited_copy(checkpoint, tmp_path, lambda s: [s.pop(k) for k in list(s) if k.startswith("objective.")])
    assert load_audio_model(edited).feature_std.shape == (80,)
    with pytest.raises(WeightsError):  # the whole task needs them
        load_task_from_dir(str(edited))


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.pop("encoder.final_norm.weight"), "1 missing key (encoder.final_norm.weight)"),
    (lambda s: s.pop("feature_std"), "1 missing key (feature_std)"),
    (lambda s: s.update(extra=torch.zeros(2)), "1 unexpected key (extra)"),
    (lambda s: s.update(feature_mean=torch.zeros(64)), "1 shape mismatch (feature_mean: file (64,) vs model (80,))"),
])
def test_load_audio_model_is_strict_on_the_audio_side(checkpoint, tmp_path, edit, message):
    edited = edited_copy(checkpoint, tmp_path, edit)
    with pytest.raises(WeightsError) as err:
        load_audio_model(edited)
    assert str(err.value) == f"{edited / 'model.safetensors'}: weights do not fit the model: {message}"


def test_weights_error_counts_and_names_the_first_keys(checkpoint, tmp_path):
    def edit(state):
        for k in [k for k in state if k.startswith("encoder.blocks.0.")][:7]:
            state.pop(k)
        state["encoder.new"] = torch.zeros(1)

    edited = edited_copy(checkpoint, tmp_path, edit)
    with pytest.raises(WeightsError) as err:
        load_task_from_dir(str(edited))
    e = err.value
    assert isinstance(e, ValueError) and e.path == edited / "model.safetensors"
    assert len(e.missing) == 7 and e.unexpected == ["encoder.new"] and e.mismatched == {}
    assert f"7 missing keys ({', '.join(e.missing[:5])}, ... 2 more); 1 unexpected key (encoder.new)" in str(e)


def test_unreadable_weights_file_is_a_weights_error(checkpoint, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match=r"model.safetensors: weights do not fit the model: not a readable"):
        load_audio_model(broken)


# ------------------------------------------------------------------ input_dim from the fbank


def test_64_mel_config_builds_a_64_input_encoder_and_trains():
    exp = tiny_exp(data={"fbank": {"num_mel_bins": 64}})
    assert exp.encoder_conf["input_dim"] == 64  # the resolved (dumped) config says so too
    torch.manual_seed(0)
    task = build_task(exp)
    assert task.encoder.conf.input_dim == 64 and task.feature_mean.shape == (64,)
    assert AudioModel(exp).encoder.conf.input_dim == 64
    feats, lens = task.collate_features([task.featurize(noise(SR, 1)), task.featurize(noise(SR // 2, 2))])
    assert feats.shape[-1] == 64
    from audiotext.data.batch import Batch
    from audiotext.data.dataset import tokenize

    captions = ["a hum", "a hiss"]
    tokens, token_lens = tokenize(task.tokenizer, captions, 32)
    batch = Batch(cut_ids=["a", "b"], features=feats, feature_lens=lens, captions=captions, tokens=tokens,
                  token_lens=token_lens)
    loss, _ = task.train()(batch)
    loss.backward()
    assert torch.isfinite(loss) and task.encoder.subsampling.proj.weight.grad is not None


def test_conflicting_input_dim_is_a_config_error_naming_both_keys():
    with pytest.raises(ConfigError, match=r"encoder_conf.input_dim is 80 but data.fbank.num_mel_bins is 64"):
        resolve({"encoder_conf": {"input_dim": 80}, "data": {"fbank": {"num_mel_bins": 64}}})
    exp = tiny_exp()
    exp.data.fbank.num_mel_bins = 40  # a config edited after resolution: the build checks again
    with pytest.raises(ConfigError, match=r"encoder_conf.input_dim is 80 but data.fbank.num_mel_bins is 40"):
        build_audio_encoder(exp)
    assert resolve({"encoder_conf": {"input_dim": 64}, "data": {"fbank": {"num_mel_bins": 64}}}
                   ).encoder_conf["input_dim"] == 64


# ------------------------------------------------------------------ capabilities


def test_objectives_declare_capabilities():
    ctx = ObjectiveContext(audio_dim=8, vocab_size=300, pad_id=0, bos_id=2, eos_id=3,
                           text_encoder_conf=dict(TINY_TEXT))
    dec = {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32}
    contrastive = OBJECTIVES.build("contrastive", {"embed_dim": 8}, ctx)
    captioning = OBJECTIVES.build("captioning", {"decoder": dec}, ctx)
    joint = OBJECTIVES.build("joint", {"contrastive": {"embed_dim": 8}, "captioning": {"decoder": dec}}, ctx)
    assert contrastive.capabilities == {"retrieval"} and captioning.capabilities == {"generation"}
    assert joint.capabilities == {"retrieval", "generation"} and joint.max_length == captioning.max_length
    assert contrastive.has("retrieval") and not contrastive.has("generation")
    with pytest.raises(ValueError, match=r"unknown objective capability 'captions'; known: \['generation', "
                                         r"'retrieval'\]"):
        joint.has("captions")
    captioning.require("generation", "captioning")
    with pytest.raises(ValueError, match=r"^embedding texts needs an objective with 'retrieval'; "
                                         r"CaptioningObjective declares generation$"):
        captioning.require("retrieval", "embedding texts")


def test_embed_texts_needs_retrieval(task):
    from audiotext.eval.embeddings import embed_texts

    emb = embed_texts(task, ["a hum", "a hiss", "a chirp"])
    assert emb.shape == (3, 16) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    torch.manual_seed(0)
    captioner = build_task(resolve({"tokenizer": "byte", "encoder_conf": dict(TINY_ENCODER), "objective": "captioning",
                                    "objective_conf": {"decoder": {"d_model": 16, "num_layers": 1, "num_heads": 2,
                                                                   "d_ff": 32}}}))
    with pytest.raises(ValueError, match="embedding texts needs an objective with 'retrieval'"):
        embed_texts(captioner, ["a hum"])


def test_zipformer_geometry_through_the_embedding():
    """Zipformer (tiny): 9 fbank frames make one 40 ms frame (its 50 Hz pair completed by a copy),
    but a full frame i is built on fbank frames [4i, 4i + 11), so it is stamped at their centre,
    10 ms * (4i + 5) + 5 ms, not at that of the 9 frames of the minimum input."""
    zipformer = {"downsampling_factor": [1, 2], "num_encoder_layers": [1, 1], "encoder_dim": [32, 48],
                 "feedforward_dim": [64, 96], "num_heads": [2, 2], "cnn_module_kernel": [7, 7],
                 "frontend_channels": [4, 8, 16]}
    host = build_task(resolve({"tokenizer": "byte", "encoder": "zipformer", "encoder_conf": zipformer,
                               "text_encoder_conf": dict(TINY_TEXT), "objective_conf": {"embed_dim": 16}})).eval()
    assert host.frame_shift_ms == 40.0 and host.embedding_dim == 48
    assert host.min_input_samples == 9 * 160 - 80
    assert [host.num_frames(n) for n in (0, 1360, 1360 + 639, 1360 + 640, SR)] == [1, 1, 1, 2, 23]
    assert host.frame_times_ms(3).tolist() == [55.0, 95.0, 135.0]
    emb = host.encode_waveforms([torch.from_numpy(noise(SR))])
    assert emb[0].shape == (1, 23, 48)
