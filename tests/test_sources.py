"""Training data sources: indexed manifests, the order of an epoch, mixing, ranks, and restoring
a position without reading what comes before it."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet

from audiotext.data.dataset import AudioCaptionDataset, DataConfig, SpecAugmentConfig
from audiotext.data.sources import (PackingConfig, SourceConfig, epoch_batches, index_manifest, interleave,
                                    make_stream, open_sources)
from audiotext.tokenizers.byte import ByteTokenizer
from tests.fixtures import make_corpus


def fake_manifest(path: Path, durations, prefix: str) -> str:
    """A cut manifest whose recordings do not exist (the order never opens audio)."""
    with gzip.open(path, "wt") as f:
        for i, d in enumerate(durations):
            cut = {"id": f"{prefix}-{i}", "start": 0.0, "duration": float(d), "channel": 0,
                   "recording": {"id": f"{prefix}-{i}", "sources": [{"type": "file", "channels": [0],
                                                                      "source": f"/nowhere/{prefix}-{i}.wav"}],
                                 "sampling_rate": 16000, "num_samples": int(d * 16000), "duration": float(d),
                                 "channel_ids": [0]},
                   "type": "MonoCut"}
            f.write(json.dumps(cut) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    return make_corpus(root, num_clips=20, seed=5)


def test_index_reads_every_cut_by_row_and_is_reused(corpus, tmp_path):
    index = index_manifest("toy", str(corpus), tmp_path)
    expected = list(CutSet.from_file(corpus))
    assert len(index) == 20
    assert [index.cut(i).id for i in range(20)] == [c.id for c in expected]
    assert np.allclose(index.durations, [c.duration for c in expected])
    cut = index.cut(7)
    assert cut.supervisions[0].custom["caption"] == expected[7].supervisions[0].custom["caption"]
    files = sorted(tmp_path.iterdir())
    stamps = [p.stat().st_mtime_ns for p in files]
    again = index_manifest("toy", str(corpus), tmp_path)  # cached: nothing rewritten
    assert [p.stat().st_mtime_ns for p in sorted(tmp_path.iterdir())] == stamps
    assert again.cut(19).id == expected[19].id


def test_index_errors_name_the_manifest_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as f:
        f.write(json.dumps({"id": "a", "duration": 1.0, "type": "MonoCut"}) + "\n")
        f.write('{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl.gz line 2 is not a cut with a duration"):
        index_manifest("bad", str(bad), tmp_path / "idx")
    recordings = tmp_path / "recordings.jsonl.gz"
    with gzip.open(recordings, "wt") as f:
        f.write(json.dumps({"id": "r", "duration": 1.0, "sources": [], "sampling_rate": 16000}) + "\n")
    with pytest.raises(ValueError, match=r"recordings.jsonl.gz is not a cut manifest \(line 1 has no cut type"):
        index_manifest("rec", str(recordings), tmp_path / "idx")
    empty = tmp_path / "empty.jsonl.gz"
    with gzip.open(empty, "wt"):
        pass
    with pytest.raises(ValueError, match="holds no cuts"):
        index_manifest("empty", str(empty), tmp_path / "idx")
    with pytest.raises(FileNotFoundError, match="nope.jsonl.gz"):
        index_manifest("nope", str(tmp_path / "nope.jsonl.gz"), tmp_path / "idx")


def test_bad_source_lists_are_errors(tmp_path, corpus):
    with pytest.raises(ValueError, match=r"data.sources\[1\]: source name 'a' appears twice"):
        open_sources([SourceConfig("a", str(corpus)), SourceConfig("a", str(corpus))], tmp_path)
    with pytest.raises(ValueError, match=r"data.sources\[0\] \(a\): weight must be > 0"):
        open_sources([SourceConfig("a", str(corpus), weight=0.0)], tmp_path)


def test_epoch_order_is_a_function_of_seed_and_epoch(tmp_path):
    rng = np.random.default_rng(0)
    sources = open_sources([SourceConfig("a", fake_manifest(tmp_path / "a.jsonl.gz", rng.uniform(1, 9, 300), "a"))],
                           tmp_path / "idx")
    packing = PackingConfig(max_duration=30.0, num_buckets=4, max_clip_duration=8.0)
    first = epoch_batches(sources, packing, seed=3, epoch=0, train=True)
    again = epoch_batches(sources, packing, seed=3, epoch=0, train=True)
    other_epoch = epoch_batches(sources, packing, seed=3, epoch=1, train=True)
    assert all(np.array_equal(x, y) for x, y in zip(first, again)) and len(first) == len(again)
    assert [b.tolist() for b in first] != [b.tolist() for b in other_epoch]
    rows = np.concatenate(first)
    assert len(rows) == len(set(rows.tolist()))  # no cut twice in an epoch
    assert (sources.durations[rows] <= 8.0).all()  # the long ones are never drawn
    assert all(sources.durations[b].sum() <= 30.0 for b in first)
    # evaluation: every kept cut once, in manifest order
    evaluation = np.concatenate(epoch_batches(sources, packing, seed=3, epoch=0, train=False))
    assert evaluation.tolist() == np.flatnonzero(sources.durations <= 8.0).tolist()


def test_ranks_share_an_epoch_without_overlap(tmp_path):
    durations = np.random.default_rng(1).uniform(1, 5, 200)
    sources = open_sources([SourceConfig("a", fake_manifest(tmp_path / "a.jsonl.gz", durations, "a"))], tmp_path / "i")
    packing = PackingConfig(max_duration=12.0, num_buckets=2, max_clip_duration=30.0)
    whole = epoch_batches(sources, packing, seed=0, epoch=0, train=True)
    ranks = [epoch_batches(sources, packing, seed=0, epoch=0, train=True, world_size=2, rank=r) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(whole) // 2
    assert [b.tolist() for b in ranks[0]] == [b.tolist() for b in whole[0:2 * (len(whole) // 2):2]]
    assert [b.tolist() for b in ranks[1]] == [b.tolist() for b in whole[1:2 * (len(whole) // 2):2]]
    assert not set(np.concatenate(ranks[0]).tolist()) & set(np.concatenate(ranks[1]).tolist())
    # evaluation: ranks step through the same number of entries; the missing ones are empty
    valid = [epoch_batches(sources, packing, 0, 0, train=False, world_size=3, rank=r) for r in range(3)]
    assert len({len(v) for v in valid}) == 1
    assert sorted(np.concatenate([b for v in valid for b in v]).tolist()) == list(range(200))


def test_sources_mix_by_hours_times_weight(tmp_path):
    # a: 600 clips of 2 s (20 min), b: 600 clips of 1 s (10 min)
    a = fake_manifest(tmp_path / "a.jsonl.gz", [2.0] * 600, "a")
    b = fake_manifest(tmp_path / "b.jsonl.gz", [1.0] * 600, "b")
    def share_of_a(weights, head=300):
        sources = open_sources([SourceConfig("a", a, weights[0]), SourceConfig("b", b, weights[1])], tmp_path / "i")
        order = interleave(sources, np.ones(len(sources), dtype=bool), seed=0, epoch=0, shuffle=True)
        return float((order[:head] < 600).mean()), order

    equal, order = share_of_a((1.0, 1.0))
    assert sorted(order.tolist()) == list(range(1200))  # every cut once: mixing draws without replacement
    # the chance of a is hours(a) w_a / sum: 2/3 with equal weights, 2/9 with w_b = 7 (binomial sd 0.027)
    assert abs(equal - 2 / 3) < 0.08
    assert abs(share_of_a((1.0, 7.0))[0] - 2 / 9) < 0.08


def test_restore_starts_at_the_batch_without_reading_before_it(corpus, tmp_path):
    conf = DataConfig(max_duration=4.0, num_buckets=2, num_workers=0, specaug=SpecAugmentConfig(enabled=True))
    sources = open_sources([SourceConfig("toy", str(corpus))], tmp_path)
    dataset = AudioCaptionDataset(ByteTokenizer(), conf, train=True, seed=11)
    stream = make_stream(sources, dataset, conf, seed=11, train=True)
    stream.set_epoch(2)
    full = [(b.cut_ids, b.captions, b.features) for b in stream]
    assert len(full) == stream.num_batches() >= 4

    reads = []
    original = sources.cut

    def counted(row):
        reads.append(row)
        return original(row)

    sources.cut = counted
    resumed = make_stream(sources, dataset, conf, seed=11, train=True)
    resumed.restore({"epoch": 2, "batches_consumed": 3, "world_size": 1})
    first = next(iter(resumed))
    assert len(reads) == first.num_cuts + len(first.skipped)  # only the cuts of the batch it starts at
    rest = [first] + list(resumed)
    assert [(b.cut_ids, b.captions) for b in rest] == [(ids, caps) for ids, caps, _ in full[3:]]
    # SpecAugment and caption draws are seeded by the batch's place: the same features, bit for bit
    assert all(torch_equal(b.features, f) for b, (_, _, f) in zip(rest, full[3:]))
    state = resumed.state()
    assert {k: state[k] for k in ("epoch", "batches_consumed", "world_size")} == {
        "epoch": 2, "batches_consumed": len(full), "world_size": 1}
    assert state["order"] == {"seed": 11, "max_duration": 4.0, "num_buckets": 2, "max_clip_duration": 30.0,
                              "sources": [["toy", 1.0, 20]]}
    with pytest.raises(ValueError, match="world size 2"):
        resumed.restore({"epoch": 0, "batches_consumed": 0, "world_size": 2})


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)


def test_long_cuts_are_counted(tmp_path):
    durations = [1.0] * 10 + [40.0] * 3
    sources = open_sources([SourceConfig("a", fake_manifest(tmp_path / "a.jsonl.gz", durations, "a"))], tmp_path / "i")
    conf = DataConfig(max_duration=3.0, num_buckets=1, num_workers=0, max_clip_duration=30.0)
    stream = make_stream(sources, AudioCaptionDataset(ByteTokenizer(), conf), conf, seed=0, train=True)
    assert stream.num_too_long == 3


def test_feature_statistics_stage_and_training_read_the_same_numbers(corpus, tmp_path):
    """The data stage writes the statistics of a seeded random sample; training given the file
    normalises with exactly those numbers (and computes nothing itself)."""
    import yaml
    from safetensors.torch import load_file

    from audiotext.bin import feature_stats as stats_cli
    from audiotext.bin import train as train_cli
    from audiotext.data.feature_stats import compute_feature_stats, sample_rows
    from audiotext.data.features import FbankConfig

    out = tmp_path / "feature_stats.json"
    assert stats_cli.main(["--cuts", str(corpus), "--out", str(out), "--num-clips", "6", "--seed", "3"]) == 0
    written = json.loads(out.read_text())
    sources = open_sources([SourceConfig("train", str(corpus))], tmp_path / "idx")
    again = compute_feature_stats(sources, FbankConfig(), 1040, num_clips=6, seed=3)
    assert written["mean"] == again["mean"] and written["std"] == again["std"] and written["clips"] == 6
    # a random sample of the whole manifest, not its first clips
    assert sample_rows(20, 6, 3).tolist() != list(range(6)) and sample_rows(20, 6, 3).max() >= 10
    assert sample_rows(20, 50, 3).tolist() == list(range(20))
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump({
        "tokenizer": "byte", "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64,
                                              "subsampling_channels": 8},
        "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64},
        "objective_conf": {"embed_dim": 16},
        "data": {"train_cuts": str(corpus), "feature_stats": str(out), "max_duration": 4.0, "num_buckets": 1,
                 "num_workers": 0},
        "trainer": {"max_steps": 1, "save_interval": 1, "progress_bar": False}}))
    assert train_cli.main(["--config", str(config), "--exp-dir", str(tmp_path / "exp")]) == 0
    weights = load_file(str(tmp_path / "exp" / "checkpoints" / "step-00000001" / "model.safetensors"))
    assert weights["feature_mean"].tolist() == [np.float32(v).item() for v in written["mean"]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mean": [0.0] * 64, "std": [1.0] * 64}))
    assert train_cli.main(["--config", str(config), "--exp-dir", str(tmp_path / "exp2"),
                           f"data.feature_stats={bad}"]) == 2


@pytest.mark.parametrize("content, message", [
    ({"mean": 3.0, "std": [1.0] * 80}, r"holds mean \(\) and std \(80,\)"),
    ({"mean": ["a"] * 80, "std": [1.0] * 80}, "is not a feature statistics file"),
    ({"mean": [0.0] * 80, "std": [0.0] * 80}, "finite and std > 0"),
    ({"mean": [0.0] * 80, "std": [-1.0] * 80}, "finite and std > 0"),
    ({"mean": [0.0] * 80, "std": [1.0] * 80, "fbank": {"sample_rate": 8000, "num_mel_bins": 80,
                                                       "frame_length_ms": 25.0, "frame_shift_ms": 10.0}},
     "was computed with fbank"),
])
def test_bad_feature_statistics_files_are_named(tmp_path, content, message):
    from audiotext.data.feature_stats import read_feature_stats
    from audiotext.data.features import FbankConfig

    path = tmp_path / "stats.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message) as info:
        read_feature_stats(str(path), FbankConfig())
    assert str(path) in str(info.value)


def test_a_position_of_another_data_order_is_refused(corpus, tmp_path):
    conf = DataConfig(max_duration=4.0, num_buckets=2, num_workers=0)
    sources = open_sources([SourceConfig("toy", str(corpus))], tmp_path)
    saved = make_stream(sources, AudioCaptionDataset(ByteTokenizer(), conf), conf, seed=1, train=True).state()
    conf.max_duration = 3.0
    other = make_stream(sources, AudioCaptionDataset(ByteTokenizer(), conf), conf, seed=2, train=True)
    with pytest.raises(ValueError, match=r"another data order: max_duration, seed changed \(saved \[4.0, 1\], "
                                         r"now \[3.0, 2\]\)"):
        other.restore(saved)
