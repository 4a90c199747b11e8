"""JamendoMaxCaps: one clip per captioned segment, cut from its track; ids, origins and line errors."""
from __future__ import annotations

import json

import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from audiotext.data.layout import LayoutError
from tests.corpus_fixtures import jamendomaxcaps as fixture


def _clips(corpus):
    return list(CORPORA.build("jamendomaxcaps").clips(corpus, []))


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_segments_in_order_of_first_appearance(tmp_path):
    fixture.build(tmp_path)
    clips = _clips(tmp_path)
    assert [(c.key, c.origin_id, c.span) for c in clips] == [
        ("1990389_0", "jamendo:1990389:0", (0.0, 2.0)), ("1990389_2000", "jamendo:1990389:2000", (2.0, 4.0)),
        ("245017_0", "jamendo:245017:0", (0.0, 2.0)), ("245017_2000", "jamendo:245017:2000", (2.0, 4.0)),
        ("1990389_4000", "jamendo:1990389:4000", (4.0, 6.0)), ("777001_0", "jamendo:777001:0", (0.0, 2.0)),
        ("880088_0", "jamendo:880088:0", (0.0, 2.0)), ("880088_2000", "jamendo:880088:2000", (2.0, 4.0)),
        ("1990389_10000", "jamendo:1990389:10000", (10.0, 12.0))]
    assert clips[1].captions == [(fixture.PIANO, "llm"), (f" {fixture.PIANO} ", "llm")]
    assert clips[0].audio == ["1990389", "1990389.low"] and clips[0].domain == "music"


def test_segments_are_cut_from_their_track(tmp_path):
    import numpy as np
    import soundfile as sf
    from lhotse import CutSet

    corpus = tmp_path / "jm"
    fixture.build(corpus)
    assert cli.main(["jamendomaxcaps", str(corpus), str(tmp_path / "out")]) == 0
    cuts = {c.id: c for c in CutSet.from_file(tmp_path / "out" / "cuts_train.jsonl.gz")}
    cut = cuts["jamendomaxcaps_1990389_2000"]
    assert (cut.start, cut.duration) == (2.0, 2.0) and cut.recording.duration == 6.0
    assert [(s.start, s.duration) for s in cut.supervisions] == [(0.0, 2.0)]
    track, sr = sf.read(corpus / "mp3_files" / "1990389.wav", dtype="float32")
    assert np.allclose(cut.load_audio()[0], track[2 * sr:4 * sr], atol=1e-4)
    assert cuts["jamendomaxcaps_245017_0"].recording.sources[0].source.endswith("mtg/17/245017.low.flac")
    summary = json.loads((tmp_path / "out" / "prepare_summary.json").read_text())
    assert summary["examples"]["unreadable_audio"] == ["880088_0", "880088_2000", "1990389_10000"]


def test_interleaved_segments_and_missing_times(tmp_path):
    _write(tmp_path / "final_caption30sec.jsonl", [
        json.dumps({"id": "1", "caption": "one a", "start_time": 0, "end_time": 30}),
        json.dumps({"id": "2", "caption": "two a"}),  # no times: the whole track
        json.dumps({"id": "3", "caption": None, "start_time": 0, "end_time": 30}),  # a null caption
        json.dumps({"id": 1, "caption": "one b", "start_time": 0, "end_time": 30}),
        "   ",
    ])
    clips = _clips(tmp_path)
    assert [(c.key, c.span) for c in clips] == [("1_0", (0.0, 30.0)), ("2", None), ("3_0", (0.0, 30.0))]
    assert clips[0].captions == [("one a", "llm"), ("one b", "llm")] and clips[1].origin_id == "jamendo:2"
    assert clips[2].captions == [("", "llm")]


def test_caption_file_in_data_folder(tmp_path):
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data" / "final_caption30sec.jsonl", [json.dumps({"id": "9", "caption": "x"})])
    assert [c.key for c in _clips(tmp_path)] == ["9"]


def test_missing_caption_file_exit_2(tmp_path, capsys):
    corpus = tmp_path / "jm"
    fixture.build(corpus)
    (corpus / "final_caption30sec.jsonl").unlink()
    assert cli.main(["jamendomaxcaps", str(corpus), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: jamendomaxcaps:") and str(corpus / "final_caption30sec.jsonl") in err


@pytest.mark.parametrize("line, message", [
    ('{"id": "1", "caption": "x"', r":2: not a JSON object"),
    ('["1", "x"]', r":2: expected a JSON object, got list"),
    ('{"caption": "x"}', r":2: missing field\(s\) id"),
    ('{"id": "1"}', r":2: missing field\(s\) caption"),
    ('{"id": null, "caption": "x"}', r":2: field 'id' should be a track id"),
    ('{"id": " ", "caption": "x"}', r":2: field 'id' should be a track id"),
    ('{"id": true, "caption": "x"}', r":2: field 'id' should be a track id"),
    ('{"id": "1", "caption": 5}', r":2: field 'caption' should be text"),
    ('{"id": "1", "caption": "x", "start_time": "0:30", "end_time": 60}', r":2: field 'start_time' should be a number"),
])
def test_malformed_line_is_named(tmp_path, line, message):
    path = tmp_path / "final_caption30sec.jsonl"
    _write(path, [json.dumps({"id": "1", "caption": "fine"}), line])
    with pytest.raises(LayoutError, match=f"final_caption30sec\\.jsonl{message}"):
        _clips(tmp_path)


def test_malformed_line_exit_2(tmp_path, capsys):
    corpus = tmp_path / "jm"
    fixture.build(corpus)
    with open(corpus / "final_caption30sec.jsonl", "ab") as f:
        f.write(b'{"id": "5", "caption": "caf\xe9"}\n')
    assert cli.main(["jamendomaxcaps", str(corpus), str(tmp_path / "out")]) == 2
    assert f"{corpus / 'final_caption30sec.jsonl'}:12: not valid UTF-8" in capsys.readouterr().err


def test_no_subsets(tmp_path, capsys):
    assert cli.main(["jamendomaxcaps", str(tmp_path), str(tmp_path / "out"), "--subsets", "x"]) == 2
    assert "has no subsets" in capsys.readouterr().err
