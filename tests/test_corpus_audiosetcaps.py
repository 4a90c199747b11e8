"""AudioSetCaps specifics: the id forms, the filtered/original choice, subsets, AudioSet starts; and the
shared YouTube helpers (audiotext/data/corpora/youtube.py)."""
from __future__ import annotations

import json

import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from audiotext.data.corpora.youtube import (
    ClipId, clip_audio_names, clip_key, clip_origin, group_by_key, parse_clip_id, strip_media_extension,
)
from audiotext.data.layout import LayoutError, MissingFileError
from tests.corpus_fixtures import audiosetcaps as fixture


@pytest.mark.parametrize("text, expected", [
    ("Y---1_cCGK4M", ClipId("---1_cCGK4M", None, "Y<ytid>")),  # AudioSet, the id itself holds '_' and '-'
    ("YmAJAqzo-Y_Y", ClipId("mAJAqzo-Y_Y", None, "Y<ytid>")),
    ("OxPnZzn1_L8_000883", ClipId("OxPnZzn1_L8", 883.0, "<ytid>_<start>")),  # VGGSound
    ("x_Y-z_W-8k2_000030", ClipId("x_Y-z_W-8k2", 30.0, "<ytid>_<start>")),
    ("9eUrEyAR3xk_84_10", ClipId("9eUrEyAR3xk", 84.0, "<ytid>_<start>_<end>")),  # YouTube-8M
    ("_7Xe9vD3Hpg_4_10", ClipId("_7Xe9vD3Hpg", 4.0, "<ytid>_<start>_<end>")),
    ("Y--0w1YA1Hm4_30.000_40.000", ClipId("--0w1YA1Hm4", 30.0, "Y<ytid>_<start>_<end>")),  # AudioSet download form
    ("Yabcdefgh_12_30", ClipId("abcdefgh_12", 30.0, "Y<ytid>_<start>")),
    ("AsEtShArEd1", ClipId("AsEtShArEd1", None, "<ytid>")),
    ("abcdefgh_12", ClipId("abcdefgh_12", None, "<ytid>")),  # an 11-character id ending in digits
    (" YAsEtShArEd1 ", ClipId("AsEtShArEd1", None, "Y<ytid>")),
])
def test_parse_clip_id_reads_every_form_from_the_right(text, expected):
    assert parse_clip_id(text) == expected


@pytest.mark.parametrize("text", ["", "not-an-id", "abc_123", "Y---1_cCGK4M_x", "toolongid123_000030", "bad id!",
                                  "AsEtShArEd1_30_40_50", "AsEtShArEd1_-5"])
def test_parse_clip_id_rejects_other_names(text):
    assert parse_clip_id(text) is None


def test_keys_origins_and_audio_names():
    assert clip_key("-a_b-C_d3Ef", 120.0) == "-a_b-C_d3Ef_120000"
    assert clip_key("AsEtShArEd1", None) == "AsEtShArEd1"
    assert clip_origin("AsEtShArEd1", 30) == "yt:AsEtShArEd1:30000"
    assert clip_origin("AsEtShArEd1", None) == "yt:AsEtShArEd1"
    assert clip_audio_names(["YAsEtShArEd1"], "AsEtShArEd1", 30.0) == [
        "YAsEtShArEd1", "YAsEtShArEd1_30.000_40.000", "AsEtShArEd1_30.000_40.000", "AsEtShArEd1_000030",
        "AsEtShArEd1_30", "YAsEtShArEd1_30", "AsEtShArEd1_30000", "AsEtShArEd1_30_40", "AsEtShArEd1"]
    assert clip_audio_names(["OxPnZzn1_L8_000883"], "OxPnZzn1_L8", 883.0) == [  # no name without the start
        "OxPnZzn1_L8_000883", "YOxPnZzn1_L8_883.000_893.000", "OxPnZzn1_L8_883.000_893.000", "OxPnZzn1_L8_883",
        "YOxPnZzn1_L8_883", "OxPnZzn1_L8_883000", "OxPnZzn1_L8_883_893"]
    assert strip_media_extension("AsEtShArEd1.WAV") == "AsEtShArEd1"
    assert strip_media_extension("Y--0w1YA1Hm4_30.000_40.000") == "Y--0w1YA1Hm4_30.000_40.000"


def test_group_by_key_merges_repeated_keys_and_yields_them_last():
    rows = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("d", 6)]
    calls = []

    def read():
        calls.append(1)
        return iter(rows)

    assert list(group_by_key(read)) == [("c", [4]), ("d", [6]), ("a", [1, 3]), ("b", [2, 5])]
    assert len(calls) == 2


def _summary(out):
    return json.loads((out / "prepare_summary.json").read_text())


def _cut_ids(path):
    from lhotse import CutSet

    return [c.id for c in CutSet.from_file(path)]


def test_malformed_id_exit_2_naming_file_and_line(tmp_path, capsys):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    path = corpus / "Dataset" / "AudioSetCaps_caption.csv"
    with open(path, "a", encoding="utf-8") as f:
        f.write('bad id!,"A caption, with a comma"\n')  # line 8: the header and six rows come first
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: audiosetcaps: ")
    assert f"{path}:8: id 'bad id!' is in no known AudioSetCaps form" in err


def test_filtered_file_is_read_when_present_and_original_on_request(tmp_path):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    preparer = CORPORA.build("audiosetcaps")
    assert preparer.caption_file(corpus, "vggsound") == corpus / "VGGSound_AudioSetCaps_caption.filtered.csv"
    assert preparer.caption_file(corpus, "youtube8m") == corpus / "Dataset" / "YouTube-8M_AudioSetCaps_caption.csv"
    original = CORPORA.build("audiosetcaps", {"captions": "original"})
    assert original.caption_file(corpus, "vggsound") == corpus / "Dataset" / "VGGSound_AudioSetCaps_caption.csv"

    out = tmp_path / "out"
    assert cli.main(["audiosetcaps", str(corpus), str(out), "--subsets", "vggsound", "--conf", "captions=original"]) == 0
    assert _summary(out)["subsets"] == ["vggsound"]
    assert _cut_ids(out / "cuts_train.jsonl.gz") == [
        "audiosetcaps_vggsound_x_Y-z_W-8k2_30000", "audiosetcaps_vggsound_eVaLoVeRlAp_10000",
        "audiosetcaps_vggsound_OxPnZzn1_L8_883000"]


def test_insisting_on_a_missing_filtered_file_or_a_bad_choice_is_an_error(tmp_path, capsys):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out"), "--subsets", "youtube8m",
                     "--conf", "captions=filtered"]) == 2
    err = capsys.readouterr().err
    assert "AudioSetCaps youtube8m captions not found" in err
    assert str(corpus / "YouTube-8M_AudioSetCaps_caption.filtered.csv") in err
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out"), "--conf", "captions=maybe"]) == 2
    assert "captions must be one of auto, filtered, original, got 'maybe'" in capsys.readouterr().err
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out"), "--conf", "caption=original"]) == 2
    assert "unknown key audiosetcaps --conf.caption" in capsys.readouterr().err
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out"), "--subsets", "vggsound,nope"]) == 2
    assert "unknown subset(s) nope" in capsys.readouterr().err


def test_missing_caption_file_is_named(tmp_path, capsys):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    (corpus / "Dataset" / "YouTube-8M_AudioSetCaps_caption.csv").unlink()
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(corpus / "Dataset" / "YouTube-8M_AudioSetCaps_caption.csv") in err


def test_subsets_choose_the_files_and_keep_their_order(tmp_path):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    out = tmp_path / "out"
    assert cli.main(["audiosetcaps", str(corpus), str(out), "--subsets", "youtube8m,vggsound"]) == 0
    assert _cut_ids(out / "cuts_train.jsonl.gz") == [
        "audiosetcaps_vggsound_x_Y-z_W-8k2_30000", "audiosetcaps_vggsound_OxPnZzn1_L8_883000",
        "audiosetcaps_youtube8m__7Xe9vD3Hpg_4000", "audiosetcaps_youtube8m_-TL8Mp3xcUM_0",
        "audiosetcaps_youtube8m_9eUrEyAR3xk_84000"]
    assert _summary(out)["total"]["clips"] == 5


def test_audioset_starts_need_the_segment_lists_only_when_an_id_has_no_start(tmp_path, capsys):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    (corpus / "eval_segments.csv").unlink()
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out1"), "--subsets", "vggsound,youtube8m"]) == 0
    assert cli.main(["audiosetcaps", str(corpus), str(tmp_path / "out2"), "--subsets", "audioset"]) == 2
    err = capsys.readouterr().err
    assert f"AudioSet segment list not found: {corpus / 'eval_segments.csv'} or " \
           f"{corpus / 'Dataset' / 'eval_segments.csv'}" in err


def test_a_video_in_no_segment_list_keeps_no_start(tmp_path):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    with open(corpus / "Dataset" / "AudioSetCaps_caption.csv", "a", encoding="utf-8") as f:
        f.write("YnOtInLiStS1,A bell rings.\n")
    preparer = CORPORA.build("audiosetcaps")
    clips = list(preparer.clips(corpus, ["audioset"]))
    last = [c for c in clips if c.key == "nOtInLiStS1"]
    assert len(last) == 1 and last[0].origin_id == "yt:nOtInLiStS1" and last[0].source == "audiosetcaps_audioset"
    assert last[0].audio == ["YnOtInLiStS1", "nOtInLiStS1"]
    assert preparer.without_start == 1 and preparer.notes == {"origin_without_start": 1}
    assert preparer.files_read == {"audioset": str(corpus / "Dataset" / "AudioSetCaps_caption.csv")}


def test_segment_list_errors_name_file_and_line(tmp_path):
    corpus = tmp_path / "audiosetcaps"
    fixture.build(corpus)
    with open(corpus / "unbalanced_train_segments.csv", "a", encoding="utf-8") as f:
        f.write('zzzzzzzzzzz, thirty, 40.000, "/m/0838f"\n')  # line 7: three header lines, three segments
    with pytest.raises(LayoutError, match=r"unbalanced_train_segments.csv:7: start_seconds should be a number"):
        list(CORPORA.build("audiosetcaps").clips(corpus, ["audioset"]))
    (corpus / "balanced_train_segments.csv").unlink()
    (corpus / "Dataset" / "balanced_train_segments.csv").write_text("# nothing\n")
    with pytest.raises(LayoutError, match=r"unbalanced_train_segments.csv:7"):
        list(CORPORA.build("audiosetcaps").clips(corpus, ["audioset"]))  # the list in Dataset/ is found
    (corpus / "Dataset" / "balanced_train_segments.csv").unlink()
    with pytest.raises(MissingFileError, match="balanced_train_segments.csv"):
        list(CORPORA.build("audiosetcaps").clips(corpus, ["audioset"]))
