"""Clotho: file-name handling, encodings, the metadata join and where the CSVs may lie."""
from __future__ import annotations

import json
import shutil

import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from audiotext.data.corpora.clotho import audio_names, file_stem, freesound_id, keywords_caption, text_encoding
from audiotext.data.layout import LayoutError, MissingFileError
from tests.corpus_fixtures import clotho as fixture


def _clips(corpus):
    return list(CORPORA.build("clotho").clips(corpus, []))


def test_helpers():
    assert file_stem("Radio Garble.wav") == "Radio Garble"
    assert file_stem("Door.Knock 01.WAV") == "Door.Knock 01"
    assert file_stem("no extension") == "no extension"
    assert keywords_caption("birds; rain;;wind ") == "birds, rain, wind"
    assert keywords_caption("") == ""
    assert freesound_id("80399") == "80399"
    assert freesound_id(" 80399.0 ") == "80399"
    assert freesound_id("Not found") == "" and freesound_id("") == ""
    assert audio_names("development", "Radio Garble") == ["development/Radio Garble", "Radio Garble"]
    assert audio_names("evaluation", "Intersection Wet : Metro Pass") == [
        "evaluation/Intersection Wet : Metro Pass", "Intersection Wet : Metro Pass",
        "Intersection Wet_Metro Pass", "Intersection Wet _ Metro Pass"]


def test_clip_entries(tmp_path):
    fixture.build(tmp_path)
    clips = {c.key: c for c in _clips(tmp_path)}
    assert list(clips) == ["Radio Garble", "birds, rain & wind (2)", "Door.Knock 01", "Missing Audio Clip",
                           "Kitchen Roomtone w: Dripping Faucet", "Thunder over the lake"]  # no "Orphan Sound"
    assert [c.split for c in clips.values()] == ["train"] * 4 + ["valid", "test"]
    radio = clips["Radio Garble"]
    assert radio.domain == "sound" and radio.origin_id == "freesound:80399"
    assert radio.derived == [("garbled-radio, police, radio, café", "tags")]  # ISO-8859-1 decoded
    assert len(clips["birds, rain & wind (2)"].captions) == 5  # every slot, the empty one included
    door = clips["Door.Knock 01"]
    assert door.origin_id == "clotho:Door.Knock 01" and door.derived == []  # no metadata row
    kitchen = clips["Kitchen Roomtone w: Dripping Faucet"]
    assert kitchen.origin_id == "clotho:Kitchen Roomtone w: Dripping Faucet"  # sound_id "Not found"
    assert kitchen.derived == [("kitchen, faucet, drip", "tags")]


def test_encodings(tmp_path):
    fixture.build(tmp_path)
    meta = tmp_path / "clotho_metadata_development.csv"
    assert text_encoding(meta) == "iso-8859-1"
    assert text_encoding(tmp_path / "clotho_captions_development.csv") == "utf-8-sig"
    # a copy re-saved as UTF-8 reads the same
    meta.write_text(meta.read_bytes().decode("iso-8859-1"), encoding="utf-8")
    assert text_encoding(meta) == "utf-8-sig"
    assert _clips(tmp_path)[0].derived == [("garbled-radio, police, radio, café", "tags")]


def test_csvs_in_aac_datasets_folder(tmp_path):
    fixture.build(tmp_path)
    (tmp_path / "clotho_csv_files").mkdir()
    for path in tmp_path.glob("clotho_*.csv"):
        shutil.move(str(path), str(tmp_path / "clotho_csv_files" / path.name))
    assert len(_clips(tmp_path)) == 6


def test_missing_metadata_file_is_named(tmp_path, capsys):
    fixture.build(tmp_path / "c")
    (tmp_path / "c" / "clotho_metadata_validation.csv").unlink()
    with pytest.raises(MissingFileError, match="clotho_metadata_validation.csv"):
        _clips(tmp_path / "c")
    assert cli.main(["clotho", str(tmp_path / "c"), str(tmp_path / "out")]) == 2
    assert str(tmp_path / "c" / "clotho_metadata_validation.csv") in capsys.readouterr().err


def test_malformed_rows_name_file_and_line(tmp_path):
    fixture.build(tmp_path)
    with open(tmp_path / "clotho_metadata_evaluation.csv", "a", encoding="iso-8859-1") as f:
        f.write("only two,fields\n")
    with pytest.raises(LayoutError, match=r"clotho_metadata_evaluation\.csv:3: expected 7 fields"):
        _clips(tmp_path)
    fixture.build(tmp_path)
    with open(tmp_path / "clotho_captions_evaluation.csv", "a", encoding="utf-8") as f:
        f.write(",a,b,c,d,e\n")
    with pytest.raises(LayoutError, match=r"clotho_captions_evaluation\.csv:3: empty file_name"):
        _clips(tmp_path)


def test_summary_of_fixture(tmp_path):
    fixture.build(tmp_path / "c")
    assert cli.main(["clotho", str(tmp_path / "c"), str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "prepare_summary.json").read_text())
    assert summary["examples"]["missing_audio"] == ["Missing Audio Clip"]
