"""JamendoMaxCaps: segment captions grouped per track, their spans, the ids and the line errors."""
from __future__ import annotations

import json

import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from audiotext.data.corpora.jamendomaxcaps import written_spans
from audiotext.data.layout import LayoutError
from tests.corpus_fixtures import jamendomaxcaps as fixture


def _clips(corpus):
    return list(CORPORA.build("jamendomaxcaps").clips(corpus, []))


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_tracks_in_order_of_first_appearance(tmp_path):
    fixture.build(tmp_path)
    clips = _clips(tmp_path)
    assert [(c.split, c.key, c.origin_id) for c in clips] == [
        ("train", "1990389", "jamendo:1990389"), ("train", "245017", "jamendo:245017"),
        ("train", "777001", "jamendo:777001"), ("train", "880088", "jamendo:880088")]
    first = clips[0]
    assert first.captions == [(fixture.CALM, "llm"), (fixture.PIANO, "llm"), (f"  {fixture.CALM} ", "llm")]
    assert first.audio == ["1990389", "1990389.low"] and first.domain == "music"
    # spans of the captions that will be written: the third line repeats the first
    assert first.custom == {"caption_spans": [[0.0, 30.0], [30.0, 60.0]]}
    assert clips[1].custom == {"caption_spans": [[0.0, 30.0]]}  # its second caption is empty
    assert clips[3].custom == {"caption_spans": [[0.0, 30.0], [30.0, 54.2]]}


def test_spans_are_kept_on_the_cuts(tmp_path):
    from lhotse import CutSet

    corpus = tmp_path / "jm"
    fixture.build(corpus)
    assert cli.main(["jamendomaxcaps", str(corpus), str(tmp_path / "out")]) == 0
    cuts = {c.id: c for c in CutSet.from_file(tmp_path / "out" / "cuts_train.jsonl.gz")}
    assert cuts["jamendomaxcaps_1990389"].custom == {"origin_id": "jamendo:1990389",
                                                      "caption_spans": [[0.0, 30.0], [30.0, 60.0]]}
    assert len(cuts["jamendomaxcaps_1990389"].supervisions) == 2
    assert cuts["jamendomaxcaps_245017"].recording.sources[0].source.endswith("mtg/17/245017.low.flac")


def test_written_spans():
    captions = [("a", "llm"), ("", "llm"), (" a", "llm"), ("b ", "llm"), (None, "llm"), ("c", "llm")]
    spans = [[0, 30], [30, 60], [60, 90], [90, 120], [120, 150], None]
    assert written_spans(captions, spans) == [[0, 30], [90, 120], None]


def test_interleaved_tracks_and_missing_fields(tmp_path):
    _write(tmp_path / "final_caption30sec.jsonl", [
        json.dumps({"id": "1", "caption": "one a", "start_time": 0, "end_time": 30}),
        json.dumps({"id": "2", "caption": "two a"}),  # no times
        json.dumps({"id": "3", "caption": None, "start_time": 0, "end_time": 30}),  # a null caption
        json.dumps({"id": 1, "caption": "one b", "start_time": 30.5, "end_time": 61}),
        "   ",
    ])
    clips = _clips(tmp_path)
    assert [c.key for c in clips] == ["1", "2", "3"]
    assert clips[0].captions == [("one a", "llm"), ("one b", "llm")]
    assert clips[0].custom["caption_spans"] == [[0.0, 30.0], [30.5, 61.0]]
    assert clips[1].custom["caption_spans"] == [None]
    assert clips[2].captions == [("", "llm")] and clips[2].custom["caption_spans"] == []


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
    assert f"{corpus / 'final_caption30sec.jsonl'}:10: not valid UTF-8" in capsys.readouterr().err


def test_no_subsets(tmp_path, capsys):
    assert cli.main(["jamendomaxcaps", str(tmp_path), str(tmp_path / "out"), "--subsets", "x"]) == 2
    assert "has no subsets" in capsys.readouterr().err
