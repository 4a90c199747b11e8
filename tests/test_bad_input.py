"""Each kind of bad input from the field, at every entry point that meets it (docs/architecture.md has the table).

Kinds: audio far beyond full scale (``out_of_range``), audio shorter than the encoder's minimum input
(``too_short``), a file whose header promises more than it holds. Non-finite input to the HEAR API
and its long-input timestamps are in tests/test_hear.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from lhotse import CutSet, Recording, SupervisionSegment

from audiotext.data.audio_checks import (MAX_ABS_SAMPLE, checked_features, default_min_input_seconds,
                                         load_checked_audio, measured_frames, min_input_samples)
from audiotext.data.dataset import AudioCaptionDataset, DataConfig, SpecAugmentConfig
from audiotext.data.features import FbankConfig, fbank_frames
from audiotext.eval.embeddings import embed_cuts
from tests.fixtures import SR, make_corpus

# the transformer's conv front end needs 7 fbank frames (10 ms shift, centred): 7 * 160 - 80 samples
MIN_SAMPLES = 1040
DEC = {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "dropout": 0.0, "max_length": 48}


def build(objective="contrastive", objective_conf=None):
    from audiotext.experiment import build_task, resolve

    exp = resolve({
        "tokenizer": "byte",
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8},
        "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64},
        "objective": objective, "objective_conf": objective_conf or {"embed_dim": 16},
    })
    torch.manual_seed(0)
    return build_task(exp).eval(), exp


@pytest.fixture(scope="module")
def task():
    return build()[0]


def write(path, x, subtype="PCM_16"):
    sf.write(path, np.asarray(x, dtype=np.float32), SR, subtype=subtype)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Four good clips, plus: ``huge`` (a float WAV reaching 1e30), ``short`` (1039 samples: one under the
    minimum) and ``edge`` (exactly the minimum), each with a caption."""
    root = tmp_path_factory.mktemp("bad_input")
    cuts = CutSet.from_file(make_corpus(root, num_clips=4, seed=5)).to_eager()
    template = cuts[0]
    rng = np.random.default_rng(0)
    extra = []
    for name, n, subtype in (("huge", SR, "FLOAT"), ("short", MIN_SAMPLES - 1, "PCM_16"),
                             ("edge", MIN_SAMPLES, "PCM_16")):
        x = rng.uniform(-0.3, 0.3, n)
        if name == "huge":
            x[SR // 2] = 1e30
        rec = Recording.from_file(write(root / f"{name}.wav", x, subtype), recording_id=name)
        cut = rec.to_cut()
        cut.supervisions = [SupervisionSegment(id=f"{name}-0", recording_id=name, start=0.0, duration=rec.duration,
                                               custom=dict(template.supervisions[0].custom))]
        extra.append(cut)
    all_cuts = CutSet.from_cuts(list(cuts) + extra)
    path = root / "cuts.jsonl.gz"
    all_cuts.to_file(path)
    return {"root": root, "cuts": all_cuts, "good": [c.id for c in cuts], "manifest": path}


# ---------------------------------------------------------------- one definition of "too short"

def test_minimum_input_is_declared_by_the_encoder_once(task):
    assert task.encoder.min_input_frames == 7 and task.encoder.input_stride == 4
    assert min_input_samples(task.encoder, FbankConfig()) == task.min_input_samples == MIN_SAMPLES
    assert default_min_input_seconds() == MIN_SAMPLES / SR == 0.065
    assert fbank_frames(MIN_SAMPLES, FbankConfig()) == 7 and fbank_frames(MIN_SAMPLES - 1, FbankConfig()) == 6
    # the encoder takes exactly that much and no less
    x = np.random.default_rng(1).uniform(-0.3, 0.3, MIN_SAMPLES).astype(np.float32)
    feat = task.fbank(x)[None]
    frames, lens = task.encode(feat, torch.tensor([7]))
    assert frames.shape == (1, 1, 32) and lens.tolist() == [1]
    with pytest.raises(ValueError, match=r"too short for the encoder: 6 frames \(need >= 7\)"):
        task.encode(task.fbank(x[:-1])[None], torch.tensor([6]))


def test_checked_features(task):
    x = np.full(MIN_SAMPLES, 0.1, dtype=np.float32)
    assert checked_features(task.fbank, x[:-1], MIN_SAMPLES) == (None, "too_short")
    feat, reason = checked_features(task.fbank, x, MIN_SAMPLES)
    assert reason is None and feat.shape == (7, 80)


# ---------------------------------------------------------------- far beyond full scale

def test_load_rejects_audio_far_beyond_full_scale(corpus, tmp_path):
    by_id = {c.id: c for c in corpus["cuts"]}
    assert load_checked_audio(by_id["huge"], SR) == (None, "out_of_range")
    for peak, expected in ((MAX_ABS_SAMPLE, None), (1.5, None), (-MAX_ABS_SAMPLE * 1.01, "out_of_range")):
        x = np.zeros(SR, dtype=np.float32)
        x[10] = peak
        cut = Recording.from_file(write(tmp_path / "p.wav", x, "FLOAT"), recording_id="p").to_cut()
        assert load_checked_audio(cut, SR)[1] == expected, peak


def test_training_batches_skip_and_count(corpus, task):
    conf = DataConfig(max_duration=100, num_buckets=1, num_workers=0, specaug=SpecAugmentConfig(enabled=False))
    ds = AudioCaptionDataset(task.tokenizer, conf, train=False, min_samples=task.min_input_samples)
    batch = ds[corpus["cuts"]]
    assert batch.cut_ids == corpus["good"] + ["edge"]
    assert dict(batch.skipped) == {"huge": "out_of_range", "short": "too_short"}
    assert torch.isfinite(batch.features).all()
    # the default minimum is the default encoder's: the same answer without the task
    assert AudioCaptionDataset(task.tokenizer, conf, train=False).min_samples == MIN_SAMPLES


def test_feature_statistics_leave_unusable_clips_out(corpus, tmp_path):
    from audiotext.data.feature_stats import compute_feature_stats
    from audiotext.data.sources import SourceConfig, open_sources

    task, exp = build()
    manifest = tmp_path / "cuts.jsonl.gz"
    corpus["cuts"].to_file(manifest)
    sources = open_sources([SourceConfig("bad", str(manifest))], tmp_path / "index")
    stats = compute_feature_stats(sources, exp.data.fbank, task.min_input_samples, num_clips=100)
    assert stats["skipped"] == {"out_of_range": 1, "too_short": 1} and stats["clips"] == len(sources) - 2
    task.prepare(stats)
    usable = [c for c in corpus["cuts"] if c.id not in ("huge", "short")]
    feats = torch.cat([task.fbank(load_checked_audio(c, SR)[0]).double() for c in usable])
    assert torch.allclose(task.feature_mean.double(), feats.mean(0), atol=1e-5)
    assert torch.allclose(task.feature_std.double(), feats.std(0, unbiased=False), atol=1e-4)


def test_training_runs_on_past_audio_far_beyond_full_scale(corpus, tmp_path):
    """Before: the 1e30 clip made the statistics NaN and training stopped at step 0 with a non-finite loss."""
    from audiotext.bin import train as train_cli
    from audiotext.experiment import load_task_from_dir

    config = tmp_path / "exp.yaml"
    config.write_text(
        "tokenizer: byte\n"
        "encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8}\n"
        "text_encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64}\n"
        "objective_conf: {embed_dim: 16}\n"
        f"data: {{train_cuts: {corpus['manifest']}, valid_cuts: {corpus['manifest']}, max_duration: 3, "
        "num_buckets: 1, num_workers: 0}\n"
        "trainer: {max_steps: 2, save_interval: 2, valid_interval: 2, progress_bar: false}\n"
    )
    assert train_cli.main(["--config", str(config), "--exp-dir", str(tmp_path / "exp"), "--threads", "1"]) == 0
    summary = json.loads((tmp_path / "exp" / "train_summary.json").read_text())
    assert summary["steps"] == 2 and np.isfinite(summary["last_valid"]["loss"])
    # validation reads every clip once, training batches may meet them again: only these two, for these reasons
    skipped = summary["skipped_audio"]
    assert set(skipped["by_reason"]) == {"out_of_range", "too_short"}
    assert set(skipped["examples"]["out_of_range"]) == {"huge"} and set(skipped["examples"]["too_short"]) == {"short"}
    # the statistics saved with the weights are those of the usable clips
    task, _ = load_task_from_dir(str(tmp_path / "exp" / "checkpoints" / "best"))
    usable = [c for c in corpus["cuts"] if c.id not in ("huge", "short")]
    feats = torch.cat([task.fbank(load_checked_audio(c, SR)[0]).double() for c in usable])
    assert torch.allclose(task.feature_mean.double(), feats.mean(0), atol=1e-5)


def test_evaluation_embedding_skips_and_counts(corpus, task):
    out = embed_cuts(task, corpus["cuts"], with_captions=False)
    assert sorted(out.cut_ids) == sorted(corpus["good"] + ["edge"])
    assert out.skipped["by_reason"] == {"out_of_range": 1, "too_short": 1}
    assert out.pooled.shape == (5, 32) and np.isfinite(out.pooled).all()


# ---------------------------------------------------------------- the per-file tools: embed and caption

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    rng = np.random.default_rng(2)
    huge = rng.uniform(-0.3, 0.3, SR)
    huge[5] = 1e30
    return {"good": write(root / "good.wav", rng.uniform(-0.3, 0.3, SR)),
            "short": write(root / "short.wav", rng.uniform(-0.3, 0.3, 100)),
            "huge": write(root / "huge.wav", huge, "FLOAT"),
            "nan": write(root / "nan.wav", np.full(SR, np.nan), "FLOAT")}


def save(task, exp, root):
    from audiotext.bin.train import checkpoint_config
    from audiotext.train.checkpoint import save_checkpoint

    return save_checkpoint(root / "exp" / "checkpoints" / "best", task, {"step": 0},
                           checkpoint_config(exp, root / "exp"))


def test_embed_cli_skips_bad_values_and_pads_short_audio(files, tmp_path):
    from audiotext import hear
    from audiotext.bin import embed as embed_cli
    from audiotext.data.audio_files import read_audio

    task, exp = build()
    ckpt = save(task, exp, tmp_path)
    out = tmp_path / "e.npz"
    paths = [str(files[k]) for k in ("good", "short", "huge", "nan")]
    assert embed_cli.main(["--model", str(ckpt), "--out", str(out), "--frames", "--no-progress", *paths]) == 0
    data = np.load(out)
    assert list(data["paths"]) == paths[:2]
    assert data["frame_offsets"].tolist() == [0, 24, 25]  # 1 s: 24 frames; 100 samples: padded to one
    report = json.loads((tmp_path / "e_skipped.json").read_text())
    assert report["skipped_by_reason"] == {"non_finite": 1, "out_of_range": 1}
    assert [f["path"] for f in report["files"]] == paths[2:]
    model = hear.load_model(str(ckpt))
    short = torch.from_numpy(read_audio(files["short"], SR)[0])[None]
    padded = torch.nn.functional.pad(short, (0, MIN_SAMPLES - 100))
    assert np.allclose(data["scene"][1], hear.get_scene_embeddings(padded, model)[0].numpy(), atol=1e-6)


def test_caption_pads_short_audio_and_rejects_bad_values(files, tmp_path, capsys):
    from audiotext import caption
    from audiotext.data.audio_files import read_audio
    from audiotext.decoding import DecodeConfig

    task, exp = build("captioning", {"decoder": DEC})
    conf = DecodeConfig(beam_size=1, max_length=6)
    short = read_audio(files["short"], SR)[0]
    assert caption.caption_waveforms(task, [short], conf) == caption.caption_waveforms(
        task, [np.pad(short, (0, MIN_SAMPLES - 100))], conf)
    good = read_audio(files["good"], SR)[0]
    bad = good.copy()
    bad[3] = np.inf
    huge = good.copy()
    huge[4] = 1e30
    with pytest.raises(ValueError, match=r"^waveforms 1 hold NaN or inf samples; waveforms 2 hold samples beyond"):
        caption.caption_waveforms(task, [good, bad, huge], conf)
    ckpt = save(task, exp, tmp_path)
    paths = [str(files[k]) for k in ("good", "short", "huge", "nan")]
    assert caption.main(["--model", str(ckpt), "--beam", "1", "--out", str(tmp_path / "c.jsonl"), *paths]) == 0
    done = [json.loads(x)["path"] for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert done == paths[:2]


# ---------------------------------------------------------------- headers that promise more than the file holds

def header_lie(path, declared=32000, held=3):
    """A 16-bit WAV whose header declares ``declared`` frames but whose data chunk holds ``held``."""
    write(path, np.full(declared, 0.1))
    data = path.read_bytes()
    path.write_bytes(data[:44 + 2 * held])
    return path


def test_measured_frames(tmp_path):
    assert measured_frames(header_lie(tmp_path / "lie.wav"), 32000) == (3, "")
    assert measured_frames(write(tmp_path / "ok.wav", np.zeros(500)), 500) == (500, "")
    # a chunk before the data chunk (LIST) moves the data offset
    raw = (tmp_path / "ok.wav").read_bytes()
    extra = b"LIST" + (6).to_bytes(4, "little") + b"INFOab"
    body = raw[12:36] + extra + raw[36:44] + raw[44:44 + 2 * 120]
    (tmp_path / "list.wav").write_bytes(b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WAVE" + body)
    assert measured_frames(tmp_path / "list.wav", 500) == (120, "")
    flac = tmp_path / "x.flac"
    sf.write(flac, np.random.default_rng(0).uniform(-0.3, 0.3, 32000).astype(np.float32), SR, format="FLAC")
    assert measured_frames(flac, 32000) == (32000, "")
    flac.write_bytes(flac.read_bytes()[:2000])
    frames, why = measured_frames(flac, 32000)
    assert frames is None and why.startswith("header promises 32000 frames")


def test_downstream_preparer_drops_what_the_header_promises_but_the_file_lacks(tmp_path):
    from audiotext.data.downstream import PREPARERS, read_summary
    from tests import downstream_fixtures as fx

    root = fx.make_crema_d(tmp_path / "CREMA-D")
    header_lie(root / "AudioWAV" / "1002_DFA_ANG_XX.wav")  # 3 samples: 0.19 ms
    edge = root / "AudioWAV" / "1003_DFA_ANG_XX.wav"
    write(edge, np.full(MIN_SAMPLES, 0.1))
    cut_short = root / "AudioWAV" / "1004_DFA_ANG_XX.wav"
    header_lie(cut_short, declared=32000, held=2000)  # 125 ms of the promised 2 s: kept at what it holds
    flac = root / "AudioWAV" / "1005_DFA_ANG_XX.wav"
    sf.write(flac, np.random.default_rng(0).uniform(-0.3, 0.3, 32000).astype(np.float32), SR, format="FLAC")
    flac.write_bytes(flac.read_bytes()[:2000])  # a FLAC cut short, under a .wav name
    paths = PREPARERS["crema_d"](root, tmp_path / "out")
    summary = read_summary(tmp_path / "out")
    assert summary["skipped"]["too_short"] == 1 and summary["skipped"]["truncated"] == 1
    assert summary["skipped_examples"]["too_short"] == [f"{root / 'AudioWAV' / '1002_DFA_ANG_XX.wav'}: 0.19 ms < 65 ms"]
    cuts = {c.id: c for p in paths.values() for c in CutSet.from_file(p)}
    assert "crema_d-1002_DFA_ANG_XX" not in cuts and "crema_d-1005_DFA_ANG_XX" not in cuts
    assert cuts["crema_d-1003_DFA_ANG_XX"].num_samples == MIN_SAMPLES
    assert cuts["crema_d-1004_DFA_ANG_XX"].num_samples == 2000
    assert load_checked_audio(cuts["crema_d-1004_DFA_ANG_XX"], SR)[0].shape == (2000,)


def test_corpus_preparer_drops_what_the_header_promises_but_the_file_lacks(tmp_path):
    import importlib

    from audiotext.bin import prepare_corpus as cli

    corpus = tmp_path / "audiocaps"
    importlib.import_module("tests.corpus_fixtures.audiocaps").build(corpus)
    header_lie(corpus / "audio" / "val" / "97151.wav")  # the valid split's only clip: 3 samples
    out = tmp_path / "out"
    assert cli.main(["audiocaps", str(corpus), str(out)]) == 0
    summary = json.loads((out / "prepare_summary.json").read_text())
    valid = summary["splits"]["valid"]
    assert valid["clips_too_short_audio"] == 1 and valid["clips_missing_audio"] == 1 and valid["clips_written"] == 0
    assert valid["captions_on_missing_audio"] == 3 and valid["captions_clean"] == 0
    assert summary["total"]["clips_too_short_audio"] == 1
    assert summary["examples"]["too_short_audio"] == ["rqfQRErjfk8_170000"]
    assert not (out / "cuts_valid.jsonl.gz").exists()
