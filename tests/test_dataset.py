"""Dataset/loader over a real Lhotse corpus with broken files: skips with reasons, batch layout."""
import numpy as np
import pytest
import soundfile as sf
import torch
from lhotse import CutSet, Recording, SupervisionSegment

from audiotext.data.audio_checks import load_checked_audio
from audiotext.data.dataset import AudioCaptionDataset, DataConfig, SkipCounter, SpecAugmentConfig
from audiotext.data.sources import SourceConfig, make_stream, open_sources
from audiotext.data.features import FbankConfig
from audiotext.tokenizers.byte import ByteTokenizer
from tests.fixtures import SR, make_corpus

NUM_CLIPS = 14
# the reason each corruption must be reported with
EXPECTED = {"garbage": "unreadable", "deleted": "unreadable", "truncated": "truncated", "nan": "non_finite",
            "empty": "empty"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    manifest = make_corpus(root, num_clips=NUM_CLIPS, seed=3)
    cuts = CutSet.from_file(manifest).to_eager()
    by_id = {c.id: c for c in cuts}
    path = {c.id: c.recording.sources[0].source for c in cuts}
    ids = [c.id for c in cuts]
    # the longest clip is cut in half on disk: ~0.75-1 s missing, far beyond any tolerance
    longest = max(ids, key=lambda i: by_id[i].num_samples)
    others = [i for i in ids if i != longest]
    bad = {"truncated": longest, "garbage": others[0], "empty": others[3], "nan": others[5], "deleted": others[8]}

    with open(path[bad["garbage"]], "wb") as f:
        f.write(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    data = open(path[bad["truncated"]], "rb").read()
    with open(path[bad["truncated"]], "wb") as f:
        f.write(data[: len(data) // 2])
    sf.write(path[bad["empty"]], np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")
    n = by_id[bad["nan"]].num_samples  # same length as the manifest: only the values are bad
    x = (0.1 * np.sin(np.arange(n) / 10.0)).astype(np.float32)
    x[n // 3] = np.nan
    sf.write(path[bad["nan"]], x, SR, subtype="FLOAT")
    import os

    os.remove(path[bad["deleted"]])
    good = [i for i in ids if i not in bad.values()]
    assert len(good) == NUM_CLIPS - 5
    return {"manifest": str(manifest), "cuts": cuts, "bad": bad, "good": good, "by_id": by_id, "path": path}


def data_conf(**kw):
    base = dict(max_duration=6.0, num_buckets=1, num_workers=0, max_caption_tokens=64,
                specaug=SpecAugmentConfig(enabled=False))
    base.update(kw)
    return DataConfig(**base)


def caption_of(cut):
    return cut.supervisions[0].custom["caption"]


def check_batch(batch, corpus, tok):
    """Layout of one non-empty batch; returns the cut ids it holds."""
    b = batch.num_cuts
    assert b == len(batch.cut_ids) == len(batch.captions) > 0
    feats, flens = batch.features, batch.feature_lens
    assert feats.dtype == torch.float32 and feats.dim() == 3
    assert feats.shape[0] == b and feats.shape[2] == 80
    assert flens.shape == (b,) and flens.dtype == torch.long
    assert int(flens.max()) == feats.shape[1] and (flens <= feats.shape[1]).all()
    assert torch.isfinite(feats).all()
    shift = FbankConfig().sample_rate * FbankConfig().frame_shift_ms // 1000  # 160 samples
    tokens, tlens = batch.tokens, batch.token_lens
    assert tokens.shape == (b, int(tlens.max())) and tokens.dtype == torch.long
    for i, cut_id in enumerate(batch.cut_ids):
        cut = corpus["by_id"][cut_id]
        # snip_edges=false: one frame per started shift, centred on it
        assert int(flens[i]) == (cut.num_samples + shift // 2) // shift
        n = int(tlens[i])
        assert tokens[i, 0] == tok.bos_id
        assert tokens[i, n - 1] == tok.eos_id
        assert (tokens[i, n:] == tok.pad_id).all()
        assert not (tokens[i, 1:n - 1] == tok.pad_id).any()
        assert tok.decode(tokens[i, 1:n - 1].tolist()) == caption_of(cut) == batch.captions[i]
    return list(batch.cut_ids)


# ---------------------------------------------------------------- one clip at a time

@pytest.mark.parametrize("kind", ["garbage", "deleted", "truncated", "nan", "empty"])
def test_load_checked_audio_reason(corpus, kind):
    cut = corpus["by_id"][corpus["bad"][kind]]
    audio, reason = load_checked_audio(cut, SR)
    assert audio is None
    assert reason == EXPECTED[kind]


def test_good_clips_load_intact(corpus):
    for cut_id in corpus["good"]:
        cut = corpus["by_id"][cut_id]
        audio, reason = load_checked_audio(cut, SR)
        assert reason is None
        assert audio.dtype == np.float32 and audio.shape == (cut.num_samples,)
        on_disk, sr = sf.read(corpus["path"][cut_id], dtype="float32")
        assert sr == SR and np.array_equal(audio, on_disk)


def test_other_rate_is_resampled_on_load(corpus):
    cut = corpus["by_id"][corpus["good"][0]]
    audio, reason = load_checked_audio(cut, 8000)
    assert reason is None and audio.shape == (cut.resample(8000).num_samples,)
    on_disk, _ = sf.read(corpus["path"][cut.id], dtype="float32")
    # a band-limited half-rate copy: the energy below 4 kHz is kept (the test clips are tones and noise)
    assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(np.sqrt(np.mean(on_disk ** 2)), rel=0.35)


def test_file_at_another_rate_than_its_manifest_is_reported(tmp_path):
    x = (0.1 * np.sin(np.arange(SR) / 7.0)).astype(np.float32)
    path = tmp_path / "clip.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    cut = Recording.from_file(path, recording_id="clip").to_cut()
    sf.write(path, x[::2], SR // 2, subtype="PCM_16")  # replaced by an 8 kHz file after preparation
    audio, reason = load_checked_audio(cut, SR)
    assert audio is None and reason == "wrong_rate"


def test_moderately_truncated_file_is_reported(tmp_path):
    x = (0.1 * np.sin(np.arange(SR) / 7.0)).astype(np.float32)  # 1.0 s
    path = tmp_path / "clip.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    rec = Recording.from_file(path, recording_id="clip")
    cut = rec.to_cut()
    sf.write(path, x[: SR - 4000], SR, subtype="PCM_16")  # 0.25 s missing, 10x the 25 ms tolerance
    audio, reason = load_checked_audio(cut, SR)
    assert audio is None and reason == "truncated"
    sf.write(path, x[: SR - 200], SR, subtype="PCM_16")  # 12.5 ms missing: within the 25 ms tolerance
    audio, reason = load_checked_audio(cut, SR)
    assert reason is None and audio.shape == (SR - 200,)


def test_moderately_truncated_resampled_file_is_reported(tmp_path):
    x = (0.1 * np.sin(np.arange(8000) / 7.0)).astype(np.float32)  # 1.0 s at 8 kHz
    path = tmp_path / "clip8k.wav"
    sf.write(path, x, 8000, subtype="PCM_16")
    cut = Recording.from_file(path, recording_id="clip8k").resample(SR).to_cut()
    assert load_checked_audio(cut, SR)[1] is None
    sf.write(path, x[:6000], 8000, subtype="PCM_16")  # 0.25 s missing
    audio, reason = load_checked_audio(cut, SR)
    assert audio is None and reason == "truncated"


# ---------------------------------------------------------------- the dataset on a CutSet

@pytest.mark.parametrize("train", [True, False])
def test_dataset_getitem_skips_bad_and_keeps_good(corpus, train):
    tok = ByteTokenizer()
    conf = data_conf(specaug=SpecAugmentConfig(enabled=train))
    ds = AudioCaptionDataset(tokenizer=tok, conf=conf, train=train)
    assert (ds.specaug is not None) == train
    batch = ds[corpus["cuts"]]
    assert batch.num_cuts == len(corpus["good"])
    assert batch.cut_ids == corpus["good"]  # the input order, bad clips left out
    check_batch(batch, corpus, tok)
    if not train:  # no SpecAugment: padding frames are exactly zero
        for i, n in enumerate(batch.feature_lens.tolist()):
            assert (batch.features[i, n:] == 0).all()
            assert batch.features[i, :n].abs().sum() > 0
    reasons = dict(batch.skipped)
    assert set(reasons) == set(corpus["bad"].values())
    for kind, cut_id in corpus["bad"].items():
        assert reasons[cut_id] == EXPECTED[kind], kind
    counter = SkipCounter()
    counter.update(batch.skipped)
    assert counter.total == 5
    assert dict(counter.counts) == {"unreadable": 2, "truncated": 1, "empty": 1, "non_finite": 1}
    assert counter.examples["non_finite"] == [corpus["bad"]["nan"]]


def test_dataset_all_bad_batch_is_empty(corpus):
    ds = AudioCaptionDataset(tokenizer=ByteTokenizer(), conf=data_conf(), train=False)
    bad = corpus["cuts"].subset(cut_ids=[corpus["bad"]["garbage"], corpus["bad"]["deleted"]])
    batch = ds[bad]
    assert batch.num_cuts == 0 and batch.features is None and batch.tokens is None
    assert sorted(r for _, r in batch.skipped) == ["unreadable", "unreadable"]


def test_no_caption_and_too_short(tmp_path):
    recs = []
    for name, seconds in (("short", 0.05), ("nocap", 0.5), ("ok", 0.5)):
        x = (0.1 * np.sin(np.arange(int(seconds * SR)) / 5.0)).astype(np.float32)
        sf.write(tmp_path / f"{name}.wav", x, SR, subtype="PCM_16")
        recs.append(Recording.from_file(tmp_path / f"{name}.wav", recording_id=name))
    cuts = []
    for rec in recs:
        cut = rec.to_cut()
        if rec.id != "nocap":
            cut.supervisions = [SupervisionSegment(id=rec.id, recording_id=rec.id, start=0, duration=rec.duration,
                                                   custom={"caption": f"{rec.id} sound"})]
        cuts.append(cut)
    ds = AudioCaptionDataset(tokenizer=ByteTokenizer(), conf=data_conf(), train=False)
    batch = ds[CutSet.from_cuts(cuts)]
    assert batch.cut_ids == ["ok"] and batch.captions == ["ok sound"]
    assert dict(batch.skipped) == {"short": "too_short", "nocap": "no_caption"}


def test_caption_truncated_to_max_tokens(corpus):
    tok = ByteTokenizer()
    ds = AudioCaptionDataset(tokenizer=tok, conf=data_conf(max_caption_tokens=6), train=False)
    batch = ds[corpus["cuts"].subset(cut_ids=corpus["good"][:3])]
    assert batch.tokens.shape[1] == 6 and (batch.token_lens == 6).all()
    assert (batch.tokens[:, 0] == tok.bos_id).all() and (batch.tokens[:, 5] == tok.eos_id).all()
    for i, cap in enumerate(batch.captions):
        assert tok.decode(batch.tokens[i, 1:5].tolist()) == cap[:4]


# ---------------------------------------------------------------- the full DataLoader

@pytest.mark.parametrize("num_workers", [0, 1])
def test_loader_over_corrupt_corpus(corpus, num_workers, tmp_path):
    tok = ByteTokenizer()
    conf = data_conf(num_workers=num_workers)
    sources = open_sources([SourceConfig("toy", corpus["manifest"])], tmp_path / "index")
    stream = make_stream(sources, AudioCaptionDataset(tok, conf, train=False), conf, seed=0, train=False)
    counter = SkipCounter()
    seen = []
    batches = 0
    for batch in stream:
        batches += 1
        counter.update(batch.skipped)
        if batch.num_cuts:
            seen += check_batch(batch, corpus, tok)
            assert float(batch.feature_lens.sum()) > 0
    assert batches >= 3  # max_duration=6 s over ~20 s of audio: several batches
    assert sorted(seen) == sorted(corpus["good"])  # every good clip exactly once
    assert counter.total == 5
    assert dict(counter.counts) == {"unreadable": 2, "truncated": 1, "empty": 1, "non_finite": 1}
    assert counter.summary()["by_reason"] == dict(counter.counts)
    assert sorted(counter.examples["unreadable"]) == sorted([corpus["bad"]["garbage"], corpus["bad"]["deleted"]])


def test_caption_style_weights_steer_the_draw(tmp_path):
    """A clip with two captions: style weights set how often each is drawn in training."""
    from lhotse import CutSet, SupervisionSegment

    from audiotext.data.dataset import AudioCaptionDataset, DataConfig
    from audiotext.tokenizers.byte import ByteTokenizer
    from fixtures import make_corpus

    cuts = CutSet.from_file(make_corpus(tmp_path, num_clips=1)).to_eager()
    cut = cuts[0]
    first = cut.supervisions[0]
    second = SupervisionSegment(id=first.id + "-b", recording_id=first.recording_id, start=0.0,
                                duration=first.duration,
                                custom={**first.custom, "caption": "the transcript", "style": "transcript"})
    cut.supervisions = [first, second]
    one = CutSet.from_cuts([cut])

    def share_of_transcripts(weights):
        conf = DataConfig(caption_style_weights=weights)
        conf.specaug.enabled = False
        ds = AudioCaptionDataset(ByteTokenizer(), conf, train=True, seed=0)
        return sum(ds.make_batch(one, epoch=0, index=i).captions[0] == "the transcript" for i in range(400)) / 400

    assert 0.4 < share_of_transcripts({}) < 0.6
    assert 0.15 < share_of_transcripts({"transcript": 0.25}) < 0.25
    assert share_of_transcripts({"transcript": 0.0}) == 0.0
