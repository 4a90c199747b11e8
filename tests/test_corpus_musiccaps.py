"""MusicCaps: the aspect-list literal, the booleans, the split and the audio names."""
from __future__ import annotations

from pathlib import Path

import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from audiotext.data.corpora.musiccaps import musiccaps_audio_names, parse_aspects, to_bool
from audiotext.data.layout import LayoutError
from tests.corpus_fixtures import musiccaps as fixture

CSV = Path("musiccaps-public.csv")


def _clips(corpus):
    return list(CORPORA.build("musiccaps").clips(corpus, []))


def test_parse_aspects():
    assert parse_aspects("['low quality', 'sustained strings melody']", CSV, 2) == [
        "low quality", "sustained strings melody"]
    assert parse_aspects("['pop', \"singer's voice\", ' ', 'fast tempo ']", CSV, 2) == [
        "pop", "singer's voice", "fast tempo"]
    assert parse_aspects("[]", CSV, 2) == [] and parse_aspects("  ", CSV, 2) == []
    with pytest.raises(LayoutError, match=r"^musiccaps-public\.csv:7: column 'aspect_list' should be a Python list"):
        parse_aspects("['pop', 'rock'", CSV, 7)
    with pytest.raises(LayoutError, match=r"^musiccaps-public\.csv:8: column 'aspect_list' should be a Python list"):
        parse_aspects("pop, rock", CSV, 8)
    with pytest.raises(LayoutError, match=r"^musiccaps-public\.csv:9: .* should be a list of strings"):
        parse_aspects("['pop', 3]", CSV, 9)
    with pytest.raises(LayoutError, match="should be a list of strings"):
        parse_aspects("'pop'", CSV, 9)
    with pytest.raises(LayoutError, match="should be a Python list literal"):  # evaluated as a literal only
        parse_aspects("__import__('os').getcwd()", CSV, 9)


def test_to_bool():
    assert to_bool("True", CSV, 2, "x") is True and to_bool(" false ", CSV, 2, "x") is False
    assert to_bool("1", CSV, 2, "x") is True and to_bool("0", CSV, 2, "x") is False
    with pytest.raises(LayoutError, match=r"musiccaps-public\.csv:4: column 'is_audioset_eval' should be True or"):
        to_bool("maybe", CSV, 4, "is_audioset_eval")


def test_audio_names():
    names = musiccaps_audio_names("abc", 30.0, 40.0)
    assert names[0] == "[abc]-[30-40]" and names[-1] == "[abc]"
    assert names[1:-1] == ["Yabc_30.000_40.000", "abc_30.000_40.000", "abc_30", "abc_30000", "Yabc_30", "abc_000030",
                           "abc", "Yabc"]


def test_clip_entries(tmp_path):
    fixture.build(tmp_path)
    clips = _clips(tmp_path)
    assert [(c.key, c.split) for c in clips] == [
        ("MuSiCsHaRe1_0", "train"), ("tRaInMuSiC2_30000", "train"), ("eVaLmUsIc03_120000", "test"),
        ("mIsSiNgMuS4_15000", "test"), ("dUpLiCaTe05_50000", "train")]
    assert {c.domain for c in clips} == {"music"}
    dup = clips[-1]
    assert dup.captions == [("A piano plays a gentle waltz.", "human"), (" A piano plays a gentle waltz. ", "human")]
    assert dup.derived == [("piano, waltz", "tags")] * 2
    assert clips[1].captions == [("", "human")] and clips[1].derived == []


def _append(corpus, line):
    with open(corpus / "musiccaps-public.csv", "a", encoding="utf-8") as f:
        f.write(line + "\n")


def test_malformed_aspect_list_names_file_and_line(tmp_path, capsys):
    corpus = tmp_path / "musiccaps"
    fixture.build(corpus)
    _append(corpus, 'bAdRoW00001,0,10,/m/04rlf,"[\'pop\', \'rock\'",A caption.,1,False,False')
    assert cli.main(["musiccaps", str(corpus), str(tmp_path / "out")]) == 2
    assert f"{corpus / 'musiccaps-public.csv'}:8: column 'aspect_list'" in capsys.readouterr().err


def test_conflicting_split_for_one_clip(tmp_path):
    fixture.build(tmp_path)
    _append(tmp_path, "dUpLiCaTe05,50,60,/m/05r5c,[],Another caption.,6,False,True")
    with pytest.raises(LayoutError, match=r"musiccaps-public\.csv:8: clip dUpLiCaTe05 .* is_audioset_eval"):
        _clips(tmp_path)


def test_missing_csv(tmp_path, capsys):
    assert cli.main(["musiccaps", str(tmp_path), str(tmp_path / "out")]) == 2
    assert str(tmp_path / "musiccaps-public.csv") in capsys.readouterr().err
