"""SpeechCraft: id forms, the record shapes accepted, file choice, subsets, repeats and errors."""
from __future__ import annotations

import json
import re

import pytest

from audiotext.data.corpora import prepare_corpus
from audiotext.data.corpora.speechcraft import audio_names, corpus_of, read_records, utterance_id
from audiotext.data.layout import LayoutError, MissingFileError
from tests.corpus_fixtures import speechcraft as fixture


def _cuts(path):
    from lhotse import CutSet

    return {c.id: c for c in CutSet.from_file(path)}


def test_utterance_ids_and_audio_names():
    assert utterance_id("libritts", "19_198_000000_000000") == "19_198_000000_000000"
    assert utterance_id("libritts", "LibriTTS-R_19_198_000000_000000") == "19_198_000000_000000"
    assert utterance_id("libritts", "train-clean-100/19/198/19_198_000000_000000.wav") == "19_198_000000_000000"
    assert utterance_id("gigaspeech", "gigaspeech_POD0000000001_S0000008.opus") == "POD0000000001_S0000008"
    assert utterance_id("aishell3", "train/wav/SSB0005/SSB00050001.wav") == "SSB00050001"
    assert utterance_id("zhvoice", "zhmagicdata/5_895/5_895_20170614203758.mp3") == "5_895_20170614203758"
    with pytest.raises(ValueError, match="does not end with a libritts id"):
        utterance_id("libritts", "LJ010-0227")
    assert audio_names("libritts", "19_198_000000_000000") == ["19/198/19_198_000000_000000", "19_198_000000_000000"]
    assert audio_names("aishell3", "SSB00050001") == ["SSB0005/SSB00050001", "SSB00050001"]
    assert audio_names("gigaspeech", "POD0000000001_S0000008") == ["POD0000000001_S0000008"]


def test_which_files_are_description_files(tmp_path):
    names = {"LibriTTS-R_description.json": "libritts", "libritts_r_instruction.json": None,
             "LibriTTS-R_labels.json": None, "gigaspeech_metadata.json": None, "GigaSpeech-M.jsonl": "gigaspeech",
             "AISHELL-3_description.json": "aishell3", "zhvoice.json": "zhvoice", "notes.json": None}
    assert {n: corpus_of(tmp_path / n) for n in names} == names


def test_record_shapes(tmp_path):
    as_list = tmp_path / "libritts_list.json"
    as_list.write_text(json.dumps([{"id": "19_198_000000_000000", "caption": ["one", "two"], "text": "words"},
                                   {"path": "19/198/19_198_000000_000001.wav", "description": None}]))
    assert list(read_records(as_list)) == [
        (f"{as_list}: record 0", "19_198_000000_000000", ["one", "two"], "words"),
        (f"{as_list}: record 1", "19/198/19_198_000000_000001.wav", [], "")]
    plain = tmp_path / "libritts_plain.json"
    plain.write_text(json.dumps({"19_198_000000_000000": "just the description"}))
    assert list(read_records(plain)) == [(f"{plain}: record '19_198_000000_000000'", "19_198_000000_000000",
                                          ["just the description"], "")]
    lines = tmp_path / "libritts.jsonl"
    lines.write_text(json.dumps({"utt_id": "19_198_000000_000000", "description": "d",
                                 "labels": "age:Child\tgender:Female\ttranscription: hello there"}) + "\n\n")
    assert list(read_records(lines)) == [(f"{lines}:1", "19_198_000000_000000", ["d"], " hello there")]


def test_default_subsets_are_english_and_instructions_are_not_read(tmp_path):
    corpus = tmp_path / "sc"
    fixture.build(corpus)
    summary = prepare_corpus("speechcraft", corpus, tmp_path / "out")
    assert summary["subsets"] == ["libritts", "gigaspeech"]
    cut = _cuts(tmp_path / "out/cuts_train.jsonl.gz")["speechcraft_libritts_19_198_000000_000000"]
    assert "youthful woman reads calmly:" not in " ".join(s.custom["caption"] for s in cut.supervisions)
    assert cut.custom == {"origin_id": "libritts:19_198_000000_000000"}
    assert cut.recording.sources[0].source == str(
        corpus / "audio/LibriTTS_R/train-clean-100/19/198/19_198_000000_000000.wav")
    assert summary["examples"]["missing_audio"] == ["libritts_1034_121119_000001_000000",
                                                    "gigaspeech_YOU0000000315_S0000660"]


def test_chinese_subset(tmp_path):
    corpus = tmp_path / "sc"
    fixture.build(corpus)
    summary = prepare_corpus("speechcraft", corpus, tmp_path / "out", subsets=["aishell3"])
    cuts = _cuts(tmp_path / "out/cuts_train.jsonl.gz")
    assert list(cuts) == ["speechcraft_aishell3_SSB00050001"]
    cut = cuts["speechcraft_aishell3_SSB00050001"]
    assert cut.custom["origin_id"] == "aishell3:SSB00050001"
    assert [(s.custom["caption"], s.custom["style"]) for s in cut.supervisions] == [
        ("一位年轻女性用平稳的语速说话。", "speaking_style"), ("广州女大学生登山失联四天", "transcript")]
    assert summary["total"]["clips"] == 1
    with pytest.raises(MissingFileError, match=r"SpeechCraft zhvoice descriptions not found: no \*zhvoice\*"):
        prepare_corpus("speechcraft", corpus, tmp_path / "out2", subsets=["zhvoice"])


def test_records_of_one_clip_are_grouped_and_repeats_across_files_left_out(tmp_path):
    corpus = tmp_path / "sc"
    fixture.build(corpus)
    fixture.write_json(corpus / "EN/LibriTTS-R_description.json", [
        {"id": "19_198_000000_000000", "description": "First.", "transcript": "Words."},
        {"id": "LibriTTS-R/19_198_000000_000000.wav", "description": "Second.", "transcript": "Words."},
    ])
    fixture.write_json(corpus / "EN/LibriTTS-R_description_part2.json", {
        "19_198_000000_000000": {"description": "Third, from another file."},
        "19_198_000000_000001": {"description": "Another clip."},
    })
    summary = prepare_corpus("speechcraft", corpus, tmp_path / "out", subsets=["libritts"])
    cuts = _cuts(tmp_path / "out/cuts_train.jsonl.gz")
    assert list(cuts) == ["speechcraft_libritts_19_198_000000_000000", "speechcraft_libritts_19_198_000000_000001"]
    assert [s.custom["caption"] for s in cuts["speechcraft_libritts_19_198_000000_000000"].supervisions] == [
        "First.", "Second.", "Words."]
    assert summary["excluded"] == {"repeated_in_another_file": 1}


def test_layout_errors_name_the_file(tmp_path):
    corpus = tmp_path / "sc"
    fixture.build(corpus)
    path = corpus / "EN/GigaSpeech-M_description.json"
    fixture.write_json(path, {"LJ010-0227": {"description": "x"}})
    with pytest.raises(LayoutError, match=re.escape(f"{path}: record 'LJ010-0227': utterance id 'LJ010-0227' "
                                                    "does not end with a gigaspeech id")):
        prepare_corpus("speechcraft", corpus, tmp_path / "out")
    fixture.write_json(path, {"POD0000000001_S0000008": {"summary": "x"}})
    with pytest.raises(LayoutError, match="no description field"):
        prepare_corpus("speechcraft", corpus, tmp_path / "out")
    path.write_text('{"POD0000000001_S0000008":\n  {"description": "x",}\n}')
    with pytest.raises(LayoutError, match=re.escape(f"{path}:2: not valid JSON")):
        prepare_corpus("speechcraft", corpus, tmp_path / "out")
    path.unlink()
    lines = corpus / "EN/gigaspeech.jsonl"
    lines.write_text('{"id": "POD0000000001_S0000008", "description": "ok"}\n{"id": 5, "description": 7}\n')
    with pytest.raises(LayoutError, match=re.escape(f"{lines}:2: a description should be a string")):
        prepare_corpus("speechcraft", corpus, tmp_path / "out")
    lines.unlink()
    with pytest.raises(MissingFileError, match="SpeechCraft gigaspeech descriptions not found"):
        prepare_corpus("speechcraft", corpus, tmp_path / "out")


def test_files_deeper_than_the_language_folders_are_not_read(tmp_path):
    corpus = tmp_path / "sc"
    fixture.build(corpus)
    fixture.write_json(corpus / "audio/gigaspeech/GigaSpeech.json", {"not": "an annotation file"})
    summary = prepare_corpus("speechcraft", corpus, tmp_path / "out")
    assert summary["total"]["clips"] == 6
