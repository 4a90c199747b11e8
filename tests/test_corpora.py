"""Every registered caption corpus, prepared from a fixture in its official layout (tests/corpus_fixtures)."""
from __future__ import annotations

import gzip
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import tests.corpus_fixtures as fixtures_pkg
from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA, AudioIndex, CaptionAccounting, ClipEntry
from audiotext.data.schema import caption_records

FIXTURES = sorted(m.name for m in pkgutil.iter_modules(fixtures_pkg.__path__))


def _prepare(name, tmp_path, capsys=None):
    module = importlib.import_module(f"tests.corpus_fixtures.{name}")
    corpus = tmp_path / name
    expected = module.build(corpus)
    out = tmp_path / f"prep_{name}"
    args = [name, str(corpus), str(out)]
    for audio_dir in expected.get("audio_dirs", []):
        args += ["--audio-dir", str(corpus / audio_dir)]
    if expected.get("subsets"):
        args += ["--subsets", ",".join(expected["subsets"])]
    args += ["--jobs", str(expected.get("jobs", 2))]
    assert cli.main(args) == 0
    return expected, out


def _cuts(path):
    from lhotse import CutSet

    return list(CutSet.from_file(path))


def test_every_corpus_has_a_fixture():
    assert sorted(CORPORA.names()) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_preparer_on_official_layout(name, tmp_path):
    expected, out = _prepare(name, tmp_path)
    summary = json.loads((out / "prepare_summary.json").read_text())
    for key, value in expected["summary"]["total"].items():
        assert summary["total"][key] == value, (name, "total", key)
    for split, counts in expected["summary"]["splits"].items():
        for key, value in counts.items():
            assert summary["splits"][split][key] == value, (name, split, key)
    # the accounting identity, in total and per split
    for counts in [summary["total"], *summary["splits"].values()]:
        assert counts["captions_total"] == (counts["captions_empty"] + counts["captions_duplicate"]
                                            + counts["captions_on_missing_audio"] + counts["captions_clean"])
    written = {}
    for split, ids in expected["ids"].items():
        cuts = _cuts(out / f"cuts_{split}.jsonl.gz")
        assert [c.id for c in cuts] == ids, (name, split)
        written.update({c.id: c for c in cuts})
    assert sorted(p.name for p in out.glob("cuts_*.jsonl.gz")) == sorted(f"cuts_{s}.jsonl.gz" for s in expected["ids"])
    n_captions = sum(len(caption_records(c)) for c in written.values())
    assert n_captions == summary["total"]["captions_clean"] + summary["total"]["captions_derived"]
    for cut_id, origin in expected.get("origins", {}).items():
        assert written[cut_id].custom["origin_id"] == origin
    for cut_id, captions in expected.get("captions", {}).items():
        assert [(c.text, c.style) for c in caption_records(written[cut_id])] == captions, cut_id
    for cut in written.values():
        for sup in cut.supervisions:
            assert set(sup.custom) >= {"caption", "style", "domain", "source"}
            assert sup.custom["domain"] in ("speech", "music", "sound")


def test_missing_file_is_named_with_exit_2(tmp_path, capsys):
    corpus = tmp_path / "audiocaps"
    importlib.import_module("tests.corpus_fixtures.audiocaps").build(corpus)
    (corpus / "val.csv").unlink()
    assert cli.main(["audiocaps", str(corpus), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: audiocaps:") and str(corpus / "val.csv") in err


def test_malformed_row_is_named_with_file_and_line(tmp_path, capsys):
    corpus = tmp_path / "audiocaps"
    importlib.import_module("tests.corpus_fixtures.audiocaps").build(corpus)
    with open(corpus / "test.csv", "a", encoding="utf-8") as f:
        f.write('7,tEsTcLiP002,not-a-number,"a caption"\n')
    assert cli.main(["audiocaps", str(corpus), str(tmp_path / "out")]) == 2
    assert f"{corpus / 'test.csv'}:7: column 'start_time'" in capsys.readouterr().err


def test_unknown_corpus_and_subset_exit_2(tmp_path, capsys):
    assert cli.main(["nosuchcorpus", str(tmp_path), str(tmp_path / "out")]) == 2
    assert "valid names: audiocaps" in capsys.readouterr().err
    assert cli.main(["audiocaps", str(tmp_path), str(tmp_path / "out"), "--subsets", "x"]) == 2
    assert "has no subsets" in capsys.readouterr().err


def test_rerun_replaces_earlier_manifests(tmp_path):
    expected, out = _prepare("audiocaps", tmp_path)
    (out / "cuts_extra.jsonl.gz").write_bytes(gzip.compress(b""))
    assert cli.main(["audiocaps", str(tmp_path / "audiocaps"), str(out)]) == 0
    assert sorted(p.name for p in out.glob("cuts_*.jsonl.gz")) == ["cuts_test.jsonl.gz", "cuts_train.jsonl.gz",
                                                                   "cuts_valid.jsonl.gz"]


def test_accounting_order_and_identity():
    acc = CaptionAccounting()
    entry = ClipEntry("train", "k", "o", "sound", [("a", "human"), (" a ", "human"), ("", "human"), ("b", "human")],
                      audio=[], derived=[("a", "tags"), ("c", "tags")])
    clean, derived = acc.account(entry, "ok")
    assert clean == [("a", "human"), ("b", "human")] and derived == [("c", "tags")]
    clean, derived = acc.account(ClipEntry("train", "m", "o2", "sound", [("x", "human"), ("x", "human")], audio=[],
                                           derived=[("y", "tags")]), "missing")
    assert clean == [] and derived == []
    # audio under the encoder's minimum input: counted as missing audio, and as too short
    clean, derived = acc.account(ClipEntry("train", "s", "o3", "sound", [("z", "human")], audio=[]), "too_short")
    assert clean == [] and derived == []
    counts = acc.splits["train"].as_dict()
    assert counts == {"clips": 3, "clips_missing_audio": 2, "clips_unreadable_audio": 0, "clips_too_short_audio": 1,
                      "clips_without_caption": 0, "clips_written": 0, "captions_total": 7, "captions_empty": 1,
                      "captions_duplicate": 2, "captions_on_missing_audio": 2, "captions_clean": 2,
                      "captions_derived": 1, "hours": 0.0}
    assert acc.examples["too_short_audio"] == ["s"]


def test_audio_index_by_stem_and_by_folders(tmp_path):
    for rel in ("a/id1/v1/00001.wav", "a/id2/v9/00001.flac", "b/clip.flac", "b/clip.wav", ".hidden/x.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    index = AudioIndex([tmp_path])
    assert index.find(["clip"]).endswith("b/clip.wav")  # wav ranks before flac
    assert index.find(["id2/v9/00001"]).endswith("a/id2/v9/00001.flac")
    assert index.find(["id3/v9/00001", "nothing"]) is None
    assert index.find(["x"]) is None  # hidden directories are not searched


def test_bad_bytes_are_named_on_their_own_line(tmp_path, capsys):
    corpus = tmp_path / "audiocaps"
    importlib.import_module("tests.corpus_fixtures.audiocaps").build(corpus)
    with open(corpus / "train.csv", "a", encoding="utf-8") as f:  # push the bad line past the first 8 KB
        for i in range(300):
            f.write(f'{5000 + i},pAdDiNgViD{i % 10},{i},"a padding caption number {i}, long enough to fill"\n')
    with open(corpus / "train.csv", "ab") as f:
        f.write(b'9999,bAdByTeS001,0,"caf\xe9 noise"\n')
    assert cli.main(["audiocaps", str(corpus), str(tmp_path / "out")]) == 2
    assert f"{corpus / 'train.csv'}:308: not valid utf-8-sig text" in capsys.readouterr().err


@pytest.mark.parametrize("start", ["nan", "inf", "1e400", "-5"])
def test_non_finite_or_negative_start_is_named(tmp_path, capsys, start):
    corpus = tmp_path / "audiocaps"
    importlib.import_module("tests.corpus_fixtures.audiocaps").build(corpus)
    with open(corpus / "val.csv", "a", encoding="utf-8") as f:
        f.write(f'6,abcdefghijk,{start},"a caption"\n')
    assert cli.main(["audiocaps", str(corpus), str(tmp_path / "out")]) == 2
    assert f"error: audiocaps: {corpus / 'val.csv'}:7: " in capsys.readouterr().err


def test_truncated_published_manifest_is_named(tmp_path, capsys):
    corpus = tmp_path / "cs"
    importlib.import_module("tests.corpus_fixtures.captionstew_manifest").build(corpus)
    manifest = corpus / "manifests" / "vggsound.jsonl.gz"
    data = manifest.read_bytes()
    manifest.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "out"
    assert cli.main(["captionstew_manifest", str(corpus), str(out)]) == 2
    assert f"error: captionstew_manifest: {manifest}:" in capsys.readouterr().err
    assert not list(out.glob("*cuts_*"))  # no partial manifest is left behind


def test_corpus_that_lists_no_clip_is_an_error(tmp_path, capsys):
    corpus = tmp_path / "audiocaps"
    corpus.mkdir()
    for name in ("train.csv", "val.csv", "test.csv"):
        (corpus / name).write_text("audiocap_id,youtube_id,start_time,caption\n")
    assert cli.main(["audiocaps", str(corpus), str(tmp_path / "out")]) == 2
    assert f"no clip is listed in {corpus}" in capsys.readouterr().err


def test_video_id_alone_names_a_file_only_for_a_video_with_one_clip(tmp_path):
    corpus = tmp_path / "audiocaps"
    importlib.import_module("tests.corpus_fixtures.audiocaps").build(corpus)
    with open(corpus / "test.csv", "a", encoding="utf-8") as f:  # a second clip of the test video
        f.write('99,tEsTcLiP001,90,"a second clip of the same video"\n')
    from tests.corpus_fixtures import write_audio
    write_audio(corpus / "audio" / "test" / "YtEsTcLiP001.wav", 1.0)  # named by the video id alone
    assert cli.main(["audiocaps", str(corpus), str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "prepare_summary.json").read_text())
    assert summary["splits"]["test"]["clips_missing_audio"] == 1  # not given the other clip's file
    assert summary["examples"]["missing_audio"][-1] == "tEsTcLiP001_90000"


def test_corpus_none_of_whose_clips_has_audio_is_an_error(tmp_path, capsys):
    corpus = tmp_path / "audiocaps"
    importlib.import_module("tests.corpus_fixtures.audiocaps").build(corpus)
    import shutil
    shutil.rmtree(corpus / "audio")
    out = tmp_path / "out"
    assert cli.main(["audiocaps", str(corpus), str(out)]) == 2
    assert "none of the 8 clips listed" in capsys.readouterr().err
    assert json.loads((out / "prepare_summary.json").read_text())["total"]["clips_missing_audio"] == 8


def test_relative_paths_become_absolute_and_own_output_is_not_reread(tmp_path, monkeypatch):
    from lhotse import CutSet

    corpus = tmp_path / "cs"
    importlib.import_module("tests.corpus_fixtures.captionstew_manifest").build(corpus)
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the output folder sits inside the corpus folder: the rerun must not read it
        assert cli.main(["captionstew_manifest", "cs", "cs/prepared"]) == 0
    cuts = list(CutSet.from_file(corpus / "prepared" / "cuts_train.jsonl.gz"))
    assert len(cuts) == 4
    assert all(Path(c.recording.sources[0].source).is_absolute() for c in cuts)
