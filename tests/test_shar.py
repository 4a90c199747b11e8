"""Lhotse Shar as a training source: export round trip, index errors, each rank on its own shards
(two real processes), and exact restore of a position in a Shar run."""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from lhotse import CutSet

from audiotext.data.audio_checks import load_checked_audio
from audiotext.data.dataset import AudioCaptionDataset, DataConfig, SpecAugmentConfig
from audiotext.data.shar import SharIndex, export_shar, index_shar
from audiotext.data.sources import (PackingConfig, SourceConfig, SourceSet, make_stream, open_sources,
                                    sharded_epoch_plan)
from audiotext.tokenizers.byte import ByteTokenizer
from tests.fixtures import make_corpus

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """24 clips of 1-2 s (16-bit WAV) exported as FLAC Shar in 6 shards of 4, and a second manifest."""
    root = tmp_path_factory.mktemp("shar")
    cuts = make_corpus(root / "a", num_clips=24, seed=3, name="a")
    other = make_corpus(root / "b", num_clips=10, seed=4, name="b")
    shar = root / "shar_a"
    export_shar(str(cuts), str(shar), audio="flac", shard_size=4)
    return root, cuts, other, shar


@pytest.mark.parametrize("audio", ["original", "flac"])
def test_export_round_trip_gives_back_every_sample(data, tmp_path, audio):
    _, cuts, _, _ = data
    out = tmp_path / "nested" / "shar"  # created, parents too
    info = export_shar(str(cuts), str(out), audio=audio, shard_size=5)
    originals = list(CutSet.from_file(cuts))
    assert info == json.loads((out / "shar_info.json").read_text())
    assert {k: info[k] for k in ("shards", "cuts", "audio_format", "shard_size", "skipped_unreadable")} == {
        "shards": 5, "cuts": 24, "audio_format": audio, "shard_size": 5, "skipped_unreadable": 0}
    assert info["hours"] == pytest.approx(sum(c.duration for c in originals) / 3600.0)
    assert info["source_manifest"] == str(cuts.resolve())
    index = index_shar("a", str(out), tmp_path / "idx")
    assert len(index) == 24 and index.num_shards == 5
    assert index.shard_starts.tolist() == [0, 5, 10, 15, 20, 24]
    assert all(name.endswith(f".{audio}") for name in index.audio_names)
    for row, original in enumerate(originals):
        cut = index.cut(row)
        assert cut.id == original.id and cut.duration == original.duration
        assert cut.supervisions[0].custom["caption"] == original.supervisions[0].custom["caption"]
        read, reason = load_checked_audio(cut, 16000)
        expected, _ = load_checked_audio(original, 16000)
        assert reason is None and read.dtype == np.float32
        assert np.array_equal(read, expected), f"{audio}: samples of {cut.id} differ"  # 16-bit PCM: lossless


def test_export_skips_and_counts_unreadable_audio(data, tmp_path):
    _, cuts, _, _ = data
    originals = list(CutSet.from_file(cuts))
    wav_dir = tmp_path / "wav"
    shutil.copytree(Path(originals[0].recording.sources[0].source).parent, wav_dir)
    # point the cuts at the copies, then break two of them: garbage bytes, and a missing file
    lines = []
    for cut in originals:
        d = cut.to_dict()
        d["recording"]["sources"][0]["source"] = str(wav_dir / Path(d["recording"]["sources"][0]["source"]).name)
        lines.append(json.dumps(d))
    manifest = tmp_path / "cuts.jsonl.gz"
    with gzip.open(manifest, "wt") as f:
        f.write("\n".join(lines) + "\n")
    (wav_dir / "a-0003.wav").write_bytes(b"not audio at all" * 100)
    (wav_dir / "a-0010.wav").unlink()
    from audiotext.bin import export_shar as cli

    assert cli.main(["--cuts", str(manifest), "--out", str(tmp_path / "out"), "--shard-size", "8"]) == 0
    info = json.loads((tmp_path / "out" / "shar_info.json").read_text())
    assert info["skipped_unreadable"] == 2 and info["cuts"] == 22 and info["shards"] == 3
    assert info["skipped_examples"] == [originals[3].id, originals[10].id]
    index = index_shar("x", str(tmp_path / "out"), tmp_path / "idx")
    assert [index.cut(r).id for r in range(len(index))] == [c.id for i, c in enumerate(originals) if i not in (3, 10)]


def test_export_command_errors(data, tmp_path, capsys):
    _, cuts, _, shar = data
    from audiotext.bin import export_shar as cli

    assert cli.main(["--cuts", str(cuts), "--out", str(shar)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: output directory {shar} already holds Shar shards (cuts.000000.jsonl.gz, 13 files in "
                   "all); give an empty or new directory"]
    assert cli.main(["--cuts", str(tmp_path / "nope.jsonl.gz"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"error: cut manifest not found: {tmp_path / 'nope.jsonl.gz'}"
    assert cli.main(["--cuts", str(cuts), "--out", str(tmp_path / "o"), "--shard-size", "0"]) == 2
    assert "shard size and jobs must be >= 1" in capsys.readouterr().err
    not_cuts = tmp_path / "not_cuts.jsonl"
    not_cuts.write_text('{"a": 1}\n')
    assert cli.main(["--cuts", str(not_cuts), "--out", str(tmp_path / "o2")]) == 2
    assert f"error: {not_cuts} (cut 1) is not a Lhotse cut manifest" in capsys.readouterr().err
    # no audio readable at all: an error, not a folder without shards passed off as an export
    lost = tmp_path / "lost.jsonl.gz"
    with gzip.open(lost, "wt") as f:
        for cut in list(CutSet.from_file(cuts))[:2]:
            d = cut.to_dict()
            d["recording"]["sources"][0]["source"] = str(tmp_path / "gone" / f"{cut.id}.wav")
            f.write(json.dumps(d) + "\n")
    assert cli.main(["--cuts", str(lost), "--out", str(tmp_path / "o3")]) == 2
    assert "no cut's audio could be read: all 2 skipped" in capsys.readouterr().err
    # several processes write the same shards
    assert cli.main(["--cuts", str(cuts), "--out", str(tmp_path / "jobs"), "--shard-size", "4", "--jobs", "2",
                     "--audio", "flac"]) == 0
    for k in range(6):
        name = f"cuts.{k:06d}.jsonl.gz"
        assert _ids(tmp_path / "jobs" / name) == _ids(shar / name)


def _ids(path: Path):
    with gzip.open(path, "rt") as f:
        return [json.loads(line)["id"] for line in f if line.strip()]


def _copy(shar: Path, to: Path) -> Path:
    shutil.copytree(shar, to)
    return to


def _rewrite_tar(path: Path, change) -> None:
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    members = change(members)
    with tarfile.open(path, "w") as tar:
        for member, payload in members:
            member.size = len(payload)
            tar.addfile(member, io.BytesIO(payload))


def test_index_errors_name_the_shard(data, tmp_path):
    _, cuts, _, shar = data
    broken = _copy(shar, tmp_path / "no_tar")
    (broken / "recording.000001.tar").unlink()
    with pytest.raises(FileNotFoundError, match=r"cuts.000001.jsonl.gz has no recording tar \(recording.000001.tar"):
        index_shar("s", str(broken), tmp_path / "i")

    renamed = _copy(shar, tmp_path / "ids")
    with gzip.open(renamed / "cuts.000002.jsonl.gz", "rt") as f:
        lines = f.read().splitlines()
    first = json.loads(lines[1])
    first["id"] = "someone-else"
    lines[1] = json.dumps(first)
    with gzip.open(renamed / "cuts.000002.jsonl.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"recording.000002.tar holds audio of 'a-0009-9' where cuts.000002.jsonl.gz "
                                         r"has cut 'someone-else' \(ids do not match\)"):
        index_shar("s", str(renamed), tmp_path / "i")

    no_audio = _copy(shar, tmp_path / "nodata")

    def placeholder_first(members):
        data_member, meta_member = members[0][0], members[1][0]
        data_member.name = data_member.name.rsplit(".", 1)[0] + ".nodata"
        meta_member.name = meta_member.name.rsplit(".", 1)[0] + ".nometa"
        return [(data_member, b""), (meta_member, b"")] + members[2:]

    _rewrite_tar(no_audio / "recording.000003.tar", placeholder_first)
    with pytest.raises(ValueError, match=r"cut 'a-0012-12' of cuts.000003.jsonl.gz has no audio in recording.000003.tar"):
        index_shar("s", str(no_audio), tmp_path / "i")

    short = _copy(shar, tmp_path / "short")
    _rewrite_tar(short / "recording.000004.tar", lambda members: members[:-2])
    with pytest.raises(ValueError, match=r"recording.000004.tar holds 3 cuts' audio, cuts.000004.jsonl.gz holds 4"):
        index_shar("s", str(short), tmp_path / "i")

    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty holds no cut shards \(cuts.NNNNNN.jsonl.gz\)"):
        index_shar("s", str(tmp_path / "empty"), tmp_path / "i")
    with pytest.raises(FileNotFoundError, match="Shar directory not found"):
        index_shar("s", str(tmp_path / "absent"), tmp_path / "i")
    with pytest.raises(ValueError, match=r"data.sources\[0\] \(s\): give cuts \(a manifest\) or shar"):
        open_sources([SourceConfig("s", cuts=str(cuts), shar=str(shar))], tmp_path / "i")
    with pytest.raises(ValueError, match=r"needs a name and a cuts manifest or a shar directory"):
        open_sources([SourceConfig("s")], tmp_path / "i")
    with pytest.raises(ValueError, match=f"is a Shar directory; give it as shar: {shar}"):
        open_sources([SourceConfig("s", cuts=str(shar))], tmp_path / "i")


def test_index_is_cached_and_follows_a_changed_shard(data, tmp_path):
    _, _, _, shar = data
    first = index_shar("s", str(shar), tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    again = index_shar("s", str(shar), tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps  # nothing rewritten
    assert np.array_equal(first.audio_offsets, again.audio_offsets) and again.cut(23).id == "a-0023-23"
    changed = _copy(shar, tmp_path / "copy")
    _rewrite_tar(changed / "recording.000005.tar", lambda m: m[:-2])
    with pytest.raises(ValueError, match="recording.000005.tar holds 3"):
        index_shar("s", str(changed), tmp_path)


def fake_shar(name: str, shard_seconds) -> SharIndex:
    """A Shar index of shards of 1-s cuts (no files: the plan never opens them)."""
    sizes = [int(s) for s in shard_seconds]
    starts = np.cumsum([0] + sizes)
    n = int(starts[-1])
    zeros = np.zeros(n, dtype=np.int64)
    return SharIndex(name, f"/nowhere/{name}", Path("/nowhere"), np.ones(n), np.zeros(n + 1, dtype=np.int64), starts,
                     zeros, zeros, [f"/nowhere/recording.{k:06d}.tar" for k in range(len(sizes))], [""] * n)


def test_shards_are_balanced_by_hours_and_ranks_take_equal_steps():
    sizes = [40, 3, 25, 7, 31, 12, 18, 5, 9, 22]
    sources = SourceSet([fake_shar("s", sizes)], [1.0])
    packing = PackingConfig(max_duration=4.0, num_buckets=1, max_clip_duration=30.0)
    plan = sharded_epoch_plan(sources, packing, seed=0, epoch=0, world_size=3)
    starts = sources.indexes[0].shard_starts
    owners = {}
    for r, batches in enumerate(plan.batches):
        for row in np.concatenate(batches).tolist():
            owners.setdefault(int(np.searchsorted(starts, row, side="right") - 1), set()).add(r)
    assert all(len(o) == 1 for o in owners.values())  # a shard is read by one rank
    assert len({len(b) for b in plan.batches}) == 1  # every rank takes the same number of steps
    given = sum(len(b) for batches in plan.batches for b in batches)
    assert given + sum(plan.dropped) == sum(sizes)
    per_rank = [sum(sizes[k] for k, o in owners.items() if o == {r}) for r in range(3)]
    # greedy by hours: the ranks differ by at most the largest shard; with 4-s batches of 1-s cuts
    # a rank keeps all but its share beyond the shortest rank's steps (and its last partial batch)
    assert max(per_rank) - min(per_rank) <= max(sizes)
    assert plan.dropped == [(sizes_r - 4 * len(plan.batches[0])) for sizes_r in _shares(sources, 3)]
    with pytest.raises(ValueError, match=r"data source 's' \(/nowhere/s\) has 10 shards for world size 11: every "
                                         r"rank reads its own shards; re-export it with a smaller --shard-size"):
        sharded_epoch_plan(sources, packing, seed=0, epoch=0, world_size=11)


def _shares(sources, world):
    from audiotext.data.sources import rank_shares

    keep = np.ones(len(sources), dtype=bool)
    return [sum(len(x) for x in share) for share in rank_shares(sources, keep, 0, 0, world)]


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found beside the interpreter")
def test_two_processes_read_their_own_shards(data, tmp_path):
    _, cuts, other, shar = data
    out = tmp_path / "given.json"
    run = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "2", str(ROOT / "tests" / "shar_rank_check.py"),
                          str(shar), str(other), str(tmp_path / "idx"), str(out)],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    given = json.loads(out.read_text())
    index = index_shar("sh", str(shar), tmp_path / "idx")
    sources = open_sources([SourceConfig("sh", shar=str(shar)), SourceConfig("man", cuts=str(other), weight=2.0)],
                           tmp_path / "idx")
    shard_of = {index.cut(r).id: index.shard_of(r) for r in range(len(index))}
    everything = set(shard_of) | {c.id for c in CutSet.from_file(other)}
    reading_order = []
    for epoch in ("0", "1"):
        ranks = given[epoch]
        ids = [[cut_id for batch in rank["batches"] for cut_id in batch] for rank in ranks]
        assert len(ranks[0]["batches"]) == len(ranks[1]["batches"]) > 0  # the same number of steps
        assert ranks[0]["dropped"] == ranks[1]["dropped"]  # every rank knows the whole plan
        all_ids = ids[0] + ids[1]
        assert len(all_ids) == len(set(all_ids))  # no cut given twice
        assert set(all_ids) <= everything
        assert len(all_ids) + ranks[0]["dropped"] == len(everything)  # the rest is the counted tail
        owners = {}
        for r, rank_ids in enumerate(ids):
            for cut_id in rank_ids:
                if cut_id in shard_of:
                    owners.setdefault(shard_of[cut_id], set()).add(r)
        assert all(len(o) == 1 for o in owners.values()), owners  # each shard to exactly one rank
        # what each process was given is the plan every rank computes alone
        plan = sharded_epoch_plan(sources, PackingConfig(5.0, 2, 30.0), seed=7, epoch=int(epoch), world_size=2)
        assert [rank["batches"] for rank in ranks] == [[[sources.cut(int(r)).id for r in b] for b in batches]
                                                       for batches in plan.batches]
        assert ranks[0]["dropped"] == sum(plan.dropped) > 0
        # the manifest source is split between the ranks
        assert all(any(i.startswith("b-") for i in rank_ids) for rank_ids in ids)
        order = []
        for rank_ids in ids:
            shards = [shard_of[i] for i in rank_ids if i in shard_of]
            order.append(list(dict.fromkeys(shards)))  # shards by first appearance
        reading_order.append(order)
    assert reading_order[0] != reading_order[1]  # shards are shuffled per epoch


def test_a_restored_shar_stream_repeats_the_uninterrupted_one(data, tmp_path):
    _, _, other, shar = data
    conf = DataConfig(max_duration=4.0, num_buckets=2, num_workers=0, specaug=SpecAugmentConfig(enabled=True))
    sources = open_sources([SourceConfig("sh", shar=str(shar)), SourceConfig("man", cuts=str(other))], tmp_path)

    def stream(workers: int, rank: int):
        conf.num_workers = workers
        dataset = AudioCaptionDataset(ByteTokenizer(), conf, train=True, seed=5, rank=rank)
        return make_stream(sources, dataset, conf, seed=5, train=True, world_size=2, rank=rank)

    whole = stream(0, 1)
    whole.set_epoch(1)
    full = [(b.cut_ids, b.captions, b.features) for b in whole]
    assert len(full) == whole.num_batches() >= 4
    state = {"epoch": 1, "batches_consumed": 2, "world_size": 2, "order": whole.order()}
    assert state["order"]["sources"] == [["sh", 1.0, 24, "shar", 6], ["man", 1.0, 10]]
    resumed = stream(1, 1)  # a loader worker opens the tars itself
    resumed.restore(state)
    rest = [(b.cut_ids, b.captions, b.features) for b in resumed]
    assert [(ids, caps) for ids, caps, _ in rest] == [(ids, caps) for ids, caps, _ in full[2:]]
    assert all(torch.equal(a, b) for (_, _, a), (_, _, b) in zip(rest, full[2:]))
    assert resumed.state()["batches_consumed"] == len(full)
    # the same position under a manifest of the same cuts is another data order
    manifest_sources = open_sources([SourceConfig("sh", cuts=str(data[1])), SourceConfig("man", cuts=str(other))],
                                    tmp_path)
    dataset = AudioCaptionDataset(ByteTokenizer(), conf, train=True, seed=5, rank=1)
    conf.num_workers = 0
    as_manifest = make_stream(manifest_sources, dataset, conf, seed=5, train=True, world_size=2, rank=1)
    with pytest.raises(ValueError, match="another data order: sources changed"):
        as_manifest.restore(state)


def test_training_on_shar_resumes_bitwise_equal(data, tmp_path, monkeypatch):
    """A run on a Shar source whose save at step 4 dies (after the weights were written: a full
    disk) resumes from step 2 and ends with the weights of the uninterrupted run, bit for bit."""
    from safetensors.torch import load_file

    from audiotext.bin import train as train_cli
    from audiotext.train import trainer as trainer_module

    _, _, _, shar = data
    config = tmp_path / "exp.yaml"
    config.write_text(  # dropout and SpecAugment on: the per-step and per-batch seeds keep the runs equal
        "tokenizer: byte\n"
        "encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, subsampling_channels: 8, dropout: 0.1}\n"
        "text_encoder_conf: {d_model: 32, num_layers: 1, num_heads: 2, d_ff: 64, dropout: 0.1}\n"
        "objective_conf: {embed_dim: 16}\n"
        f"data: {{sources: [{{name: a, shar: {shar}}}], max_duration: 5, num_buckets: 2, num_workers: 0, "
        "feature_stats_clips: 8}\n"
        "trainer: {max_steps: 6, save_interval: 2, log_interval: 1, progress_bar: false}\n")
    whole, crashed = tmp_path / "whole", tmp_path / "crashed"
    assert train_cli.main(["--config", str(config), "--exp-dir", str(whole)]) == 0
    real_write_weights = trainer_module.write_weights

    def failing_write_weights(path, state):
        real_write_weights(path, state)
        if path.parent.name == "step-00000004.tmp":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer_module, "write_weights", failing_write_weights)
    with pytest.raises(OSError, match="No space left"):
        train_cli.main(["--config", str(config), "--exp-dir", str(crashed)])
    monkeypatch.undo()
    assert (crashed / "checkpoints" / "LATEST").read_text().strip() == "step-00000002"
    assert train_cli.main(["--config", str(config), "--exp-dir", str(crashed), "--resume"]) == 0
    final = [load_file(str(exp / "checkpoints" / "step-00000006" / "model.safetensors")) for exp in (whole, crashed)]
    assert final[0].keys() == final[1].keys()
    assert [k for k in final[0] if not torch.equal(final[0][k], final[1][k])] == []
    state = torch.load(crashed / "checkpoints" / "step-00000006" / "rank_state.0.pt", weights_only=True)
    assert state["data"]["order"]["sources"] == [["a", 1.0, 24, "shar", 6]]


def test_corrupt_audio_in_a_shar_tar_is_skipped_and_counted(data, tmp_path):
    _, _, _, shar = data
    broken = _copy(shar, tmp_path / "broken")
    index = index_shar("s", str(broken), tmp_path / "i")
    with open(index.tars[0], "r+b") as f:  # row 1's audio bytes become garbage of the same size
        f.seek(int(index.audio_offsets[1]))
        f.write(b"\x07" * int(index.audio_sizes[1]))
    conf = DataConfig(num_workers=0, specaug=SpecAugmentConfig(enabled=False))
    batch = AudioCaptionDataset(ByteTokenizer(), conf).make_batch([index.cut(0), index.cut(1), index.cut(2)])
    assert batch.cut_ids == ["a-0000-0", "a-0002-2"]
    assert batch.skipped == [("a-0001-1", "unreadable")]
    assert batch.features.shape[0] == 2
