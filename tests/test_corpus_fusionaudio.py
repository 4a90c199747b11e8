"""FusionAudio specifics: the streamed JSON reader, caption entries picked by task, audio_id names."""
from __future__ import annotations

import json

import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA, fusionaudio
from audiotext.data.corpora.fusionaudio import caption_files, is_caption_task, json_records
from audiotext.data.layout import LayoutError, MissingFileError
from tests.corpus_fixtures import fusionaudio as fixture


def test_json_list_is_streamed_with_line_numbers(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    path.write_text('[\n {"x": 1, "s": "a, \\"quoted\\"\\n text"},\n\n {"x": [2, {"y": null}]} ,{"x": 3}\n]\n')
    monkeypatch.setattr(fusionaudio, "CHUNK_CHARS", 5)  # records straddle many chunks
    assert list(json_records(path)) == [(2, {"x": 1, "s": 'a, "quoted"\n text'}), (4, {"x": [2, {"y": None}]}),
                                        (4, {"x": 3})]
    empty = tmp_path / "empty.json"
    empty.write_text(" [ ] ")
    assert list(json_records(empty)) == []


def test_json_lines_are_read_too(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"x": 1}\n\n{"x": 2}\n')
    assert list(json_records(path)) == [(1, {"x": 1}), (3, {"x": 2})]
    path.write_text('{"x": 1}\n{"x": \n')
    with pytest.raises(LayoutError, match=r"a.jsonl:2: not valid JSON"):
        list(json_records(path))


@pytest.mark.parametrize("text, line, message", [
    ('[\n {"x": 1},\n {"x": oops}\n]', 3, "not valid JSON"),
    ('[\n {"x": 1},\n {"x": 2}', 3, "the JSON list is not closed"),
    ('[\n {"x": 1}\n {"x": 2}\n]', 3, "expected ',' or ']'"),
    ('[\n {"x": 1},\n]', 3, "not valid JSON"),
    ("", 0, "empty file"),
])
def test_json_errors_name_file_and_line(tmp_path, monkeypatch, text, line, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    monkeypatch.setattr(fusionaudio, "CHUNK_CHARS", 4)
    where = f"{path}:{line}: " if line else f"{path}: "
    with pytest.raises(LayoutError) as err:
        list(json_records(path))
    assert str(err.value).startswith(where) and message in str(err.value)


def test_caption_task_names():
    assert is_caption_task("Captioning questions") and is_caption_task(" captioning  Questions")
    assert not is_caption_task("Open-ended questions") and not is_caption_task(None)


def _corpus(tmp_path, entries):
    corpus = tmp_path / "fusionaudio"
    fixture.build(corpus)
    with open(corpus / "FusionAudio-1.2M.json", "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=1)
    return corpus


def test_bad_audio_id_or_entry_exit_2_naming_file_and_line(tmp_path, capsys):
    bad = fixture.entry("not a clip", "Captioning questions", "A caption.")
    corpus = _corpus(tmp_path, fixture.ENTRIES[:1] + [bad])
    path = corpus / "FusionAudio-1.2M.json"
    assert cli.main(["fusionaudio", str(corpus), str(tmp_path / "out")]) == 2
    # json.dump(indent=1) gives each entry 8 lines after the opening "["
    assert f"{path}:10: audio_id '/wangbenyou/xinyuan/FusionAudio/audioset/not a clip.wav' does not end in a " \
           f"YouTube clip name" in capsys.readouterr().err
    corpus = _corpus(tmp_path, fixture.ENTRIES[:1] + [{"audio_id": "x/AsEtShArEd1.wav", "output": "A caption."}])
    assert cli.main(["fusionaudio", str(corpus), str(tmp_path / "out")]) == 2
    assert f"{path}:10: entry without task" in capsys.readouterr().err
    corpus = _corpus(tmp_path, [["not", "an", "object"]])
    assert cli.main(["fusionaudio", str(corpus), str(tmp_path / "out")]) == 2
    assert f"{path}:2: expected an object with audio_id, task, output, got list" in capsys.readouterr().err


def test_qa_entries_are_skipped_and_names_with_a_start_need_no_list(tmp_path):
    entries = [fixture.entry("Y--0w1YA1Hm4_30.000_40.000", "Captioning questions", "A bus idles."),
               fixture.entry("Y--0w1YA1Hm4_30.000_40.000", "Open-ended questions", "A bus.", "What idles?")]
    corpus = _corpus(tmp_path, entries)
    for name in ("balanced_train_segments.csv", "unbalanced_train_segments.csv", "eval_segments.csv"):
        (corpus / name).unlink()
    clips = list(CORPORA.build("fusionaudio").clips(corpus, []))
    assert [(c.key, c.origin_id, c.captions, c.split, c.domain) for c in clips] == [
        ("--0w1YA1Hm4_30000", "yt:--0w1YA1Hm4:30000", [("A bus idles.", "llm")], "train", "sound")]
    assert clips[0].audio[0] == "Y--0w1YA1Hm4_30.000_40.000"


def test_every_json_file_is_read_in_order_and_none_is_an_error(tmp_path, capsys):
    corpus = tmp_path / "fusionaudio"
    fixture.build(corpus)
    part = corpus / "parts" / "FusionAudio-part2.jsonl"
    part.parent.mkdir()
    part.write_text(json.dumps(fixture.entry("OtHeRcLiP01_000010", "Captioning questions", "A fan hums.")) + "\n")
    assert caption_files(corpus) == [corpus / "FusionAudio-1.2M.json", part]
    clips = list(CORPORA.build("fusionaudio").clips(corpus, []))
    assert [c.key for c in clips][-1] == "OtHeRcLiP01_10000"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingFileError, match=f"FusionAudio caption files \\(\\*.json\\) not found under {empty}"):
        caption_files(empty)


def test_a_video_in_no_segment_list_keeps_no_start(tmp_path):
    corpus = _corpus(tmp_path, [fixture.entry("nOtInLiStS1", "Captioning questions", "A bell rings.")])
    preparer = CORPORA.build("fusionaudio")
    clips = list(preparer.clips(corpus, []))
    assert [(c.key, c.origin_id) for c in clips] == [("nOtInLiStS1", "yt:nOtInLiStS1")]
    assert preparer.without_start == 1
