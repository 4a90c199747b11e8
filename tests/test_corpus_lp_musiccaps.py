"""LP-MusicCaps: the parts as subsets, the parquet reading, the audio names and the errors."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from audiotext.data.corpora.lp_musiccaps import iter_parquet, path_names
from audiotext.data.layout import LayoutError
from audiotext.data.schema import caption_records
from tests.corpus_fixtures import lp_musiccaps as fixture


def _clips(corpus, subsets):
    return list(CORPORA.build("lp_musiccaps").clips(corpus, subsets))


def _cuts(path):
    from lhotse import CutSet

    return list(CutSet.from_file(path))


def test_path_names():
    assert path_names("8/1/8134074.clip.mp3") == ["8/1/8134074.clip", "8134074.clip"]
    assert path_names("d/some-song-0-29.mp3") == ["d/some-song-0-29", "some-song-0-29"]
    assert path_names("plain.mp3") == ["plain"]
    assert path_names("dir.v2/noext") == ["dir.v2/noext", "noext"]
    assert path_names("  ") == []


def test_clip_fields_and_audio_names(tmp_path):
    fixture.build(tmp_path)
    mc, mtt = _clips(tmp_path, ["mc"]), _clips(tmp_path, ["mtt"])
    assert [(c.split, c.key, c.source) for c in mc] == [
        ("train", "MuSiCsHaRe1_0", "lp_musiccaps_mc"), ("train", "-0Gj8-vB1q4_30000", "lp_musiccaps_mc"),
        ("train", "MiSsInGmC01_10000", "lp_musiccaps_mc"), ("test", "tEsTmC00001_120000", "lp_musiccaps_mc")]
    shared = mc[0]
    assert shared.origin_id == "yt:MuSiCsHaRe1:0" and shared.domain == "music"
    assert shared.audio[0] == "[MuSiCsHaRe1]-[0-10]"  # LP-MusicCaps' own fname first
    assert "YMuSiCsHaRe1_0.000_10.000" in shared.audio and "MuSiCsHaRe1" in shared.audio
    assert [s for _, s in shared.captions] == ["llm_writing", "llm_summary", "llm_paraphrase", "llm_attribute"]
    assert mc[3].captions[3] == ("", "llm_attribute")  # a null cell is an empty slot
    assert [(c.split, c.key, c.origin_id) for c in mtt] == [
        ("train", "2", "mtt:2"), ("train", "6", "mtt:6"), ("valid", "831", "mtt:831"), ("test", "57", "mtt:57")]
    assert mtt[2].audio == [fixture.MOURNING, fixture.MOURNING.split("/")[1], "831"]
    assert all(c.source == "lp_musiccaps_mtt" and not c.derived for c in mtt)


def test_mtt_file_is_found_in_its_folder(tmp_path):
    corpus = tmp_path / "lp"
    expected = fixture.build(corpus)
    out = tmp_path / "out"
    args = ["lp_musiccaps", str(corpus), str(out), "--subsets", "mtt"]
    for audio_dir in expected["audio_dirs"]:
        args += ["--audio-dir", str(corpus / audio_dir)]
    assert cli.main(args) == 0
    (cut,) = _cuts(out / "cuts_valid.jsonl.gz")
    # a corrupt file of the same name lies in mtt_audio/0/: the path's folder picks d/
    assert cut.recording.sources[0].source.endswith(f"mtt_audio/{fixture.MOURNING}.wav")
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["subsets"] == ["mtt"] and summary["total"]["clips"] == 4
    assert summary["total"]["clips_unreadable_audio"] == 0
    assert [c.id for c in _cuts(out / "cuts_train.jsonl.gz")] == ["lp_musiccaps_mtt_2"]


def test_msd_subset(tmp_path):
    corpus = tmp_path / "lp"
    fixture.build(corpus)
    out = tmp_path / "out"
    assert cli.main(["lp_musiccaps", str(corpus), str(out), "--subsets", "msd",
                     "--audio-dir", str(corpus / "msd_audio")]) == 0
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["total"] == {
        "clips": 4, "clips_missing_audio": 1, "clips_unreadable_audio": 0, "clips_too_short_audio": 0,
        "clips_without_caption": 0,
        "clips_written": 3, "captions_total": 16, "captions_empty": 1, "captions_duplicate": 0,
        "captions_on_missing_audio": 4, "captions_clean": 11, "captions_derived": 0, "hours": summary["total"]["hours"]}
    train = _cuts(out / "cuts_train.jsonl.gz")  # both shards, in shard order
    assert [c.id for c in train] == ["lp_musiccaps_msd_TRIHXPZ128F1466744", "lp_musiccaps_msd_TRBAISB12903CF1054"]
    assert train[0].custom["origin_id"] == "msd:TRIHXPZ128F1466744"
    assert train[0].recording.sources[0].source.endswith("msd_audio/8/1/8134074.clip.wav")
    assert train[1].recording.sources[0].source.endswith("msd_audio/TRBAISB12903CF1054.wav")
    assert [(c.text, c.style) for c in caption_records(train[1])] == [
        ("metal one", "llm_writing"), ("metal two", "llm_summary"), ("metal four", "llm_attribute")]
    assert {c.source for c in caption_records(train[0])} == {"lp_musiccaps_msd"}
    assert not (out / "cuts_valid.jsonl.gz").exists()  # its one clip has no audio
    assert [c.id for c in _cuts(out / "cuts_test.jsonl.gz")] == ["lp_musiccaps_msd_TRTEST00000000001"]


def test_all_subsets_and_unknown_subset(tmp_path, capsys):
    corpus = tmp_path / "lp"
    fixture.build(corpus)
    keys = [(c.source, c.key) for c in _clips(corpus, ["mc", "mtt", "msd"])]
    assert len(keys) == 4 + 4 + 4 and len(set(keys)) == len(keys)
    assert CORPORA.build("lp_musiccaps").resolve_subsets(["all"]) == ["mc", "mtt", "msd"]
    assert CORPORA.build("lp_musiccaps").resolve_subsets(None) == ["mc", "mtt"]
    assert cli.main(["lp_musiccaps", str(corpus), str(tmp_path / "out"), "--subsets", "mc,msdx"]) == 2
    assert "unknown subset(s) msdx" in capsys.readouterr().err


def test_part_folder_is_required_only_when_chosen(tmp_path, capsys):
    corpus = tmp_path / "lp"
    fixture.build(corpus)
    (corpus / "LP-MusicCaps-MC").rename(corpus / "elsewhere")
    assert len(_clips(corpus, ["mtt"])) == 4
    assert cli.main(["lp_musiccaps", str(corpus), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: lp_musiccaps:") and str(corpus / "LP-MusicCaps-MC") in err


def test_folder_name_case_is_ignored(tmp_path):
    corpus = tmp_path / "lp"
    fixture.build(corpus)
    (corpus / "LP-MusicCaps-MTT").rename(corpus / "lp-musiccaps-mtt")
    assert [c.key for c in _clips(corpus, ["mtt"])] == ["2", "6", "831", "57"]


def test_missing_split_is_named(tmp_path, capsys):
    corpus = tmp_path / "lp"
    fixture.build(corpus)
    for shard in (corpus / "LP-MusicCaps-MTT" / "data").glob("valid-*.parquet"):
        shard.unlink()
    assert cli.main(["lp_musiccaps", str(corpus), str(tmp_path / "out"), "--subsets", "mtt"]) == 2
    assert str(corpus / "LP-MusicCaps-MTT" / "data" / "valid-*.parquet") in capsys.readouterr().err


def test_rows_of_one_clip_are_grouped(tmp_path):
    corpus = tmp_path / "lp"
    fixture.build(corpus)
    shard = corpus / "LP-MusicCaps-MC" / "data" / "test-00000-of-00001-7f4171b43c96395e.parquet"
    rows = [fixture._mc_row("tWiCe000001", 50, ("a", "b", "c", "d"), True),
            fixture._mc_row("oThEr000001", 0, ("e", "f", "g", "h"), True),
            fixture._mc_row("tWiCe000001", 50, ("a", "x", "y", "z"), True)]
    pq.write_table(pa.Table.from_pylist(rows, schema=fixture.MC_SCHEMA), shard)
    test = [c for c in _clips(corpus, ["mc"]) if c.split == "test"]
    assert [c.key for c in test] == ["tWiCe000001_50000", "oThEr000001_0"]
    assert [t for t, _ in test[0].captions] == ["a", "b", "c", "d", "a", "x", "y", "z"]


def test_malformed_cells_name_file_and_row(tmp_path, capsys):
    corpus = tmp_path / "lp"
    fixture.build(corpus)
    shard = corpus / "LP-MusicCaps-MC" / "data" / "test-00000-of-00001-7f4171b43c96395e.parquet"
    rows = [fixture._mc_row("gOoD0000001", 0, ("a", "b", "c", "d"), True),
            dict(fixture._mc_row("bAd00000001", 0, ("a", "b", "c", "d"), True), start_s=None)]
    pq.write_table(pa.Table.from_pylist(rows, schema=fixture.MC_SCHEMA), shard)
    assert cli.main(["lp_musiccaps", str(corpus), str(tmp_path / "out"), "--subsets", "mc"]) == 2
    assert f"{shard}:2: column 'start_s' should be a number" in capsys.readouterr().err

    rows = [dict(fixture._mc_row("bAd00000001", 0, ("a", "b", "c", "d"), True), ytid="  ")]
    pq.write_table(pa.Table.from_pylist(rows, schema=fixture.MC_SCHEMA), shard)
    with pytest.raises(LayoutError, match=r"test-00000-of-00001-7f4171b43c96395e\.parquet:1: empty ytid"):
        _clips(corpus, ["mc"])

    mtt = corpus / "LP-MusicCaps-MTT" / "data" / "test-00000-of-00001-94781ef88fa7ed89.parquet"
    pq.write_table(pa.table({"track_id": pa.array([5], pa.int64()), "path": ["a/b.mp3"],
                             "caption_writing": ["w"], "caption_summary": [1], "caption_paraphrase": ["p"],
                             "caption_attribute_prediction": ["a"]}), mtt)
    with pytest.raises(LayoutError, match=r"94781ef88fa7ed89\.parquet:1: column 'caption_summary' should be text"):
        _clips(corpus, ["mtt"])


def test_missing_column_and_not_parquet(tmp_path):
    table = pa.table({"track_id": ["1"], "caption_writing": ["w"]})
    path = tmp_path / "train-00000-of-00001-x.parquet"
    pq.write_table(table, path)
    with pytest.raises(LayoutError, match=r"x\.parquet: missing column\(s\) path, caption_summary"):
        list(iter_parquet(path, ["track_id", "path", "caption_writing", "caption_summary"]))
    assert list(iter_parquet(path, ["track_id"])) == [(1, {"track_id": "1"})]
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(LayoutError, match=r"bad\.parquet: not a readable parquet file"):
        list(iter_parquet(bad, ["track_id"]))


def test_parquet_rows_are_numbered_across_batches(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"track_id": [str(i) for i in range(10)]}), path, row_group_size=3)
    rows = list(iter_parquet(path, ["track_id"], batch_rows=4))
    assert [r for r, _ in rows] == list(range(1, 11)) and rows[-1][1] == {"track_id": "9"}
