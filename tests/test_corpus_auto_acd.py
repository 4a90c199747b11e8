"""Auto-ACD specifics: the two id forms, their merge, malformed ids, the files and lists it needs."""
from __future__ import annotations

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from tests.corpus_fixtures import auto_acd as fixture


def test_clips_of_both_id_forms(tmp_path):
    corpus = tmp_path / "auto_acd"
    fixture.build(corpus)
    clips = {c.key: c for c in CORPORA.build("auto_acd").clips(corpus, [])}
    merged = clips["TbDp9hcY-pc_30000"]
    assert merged.audio[:2] == ["TbDp9hcY-pc_000030", "YTbDp9hcY-pc"]  # both names the corpus gives
    assert [text for text, _ in merged.captions] == [
        "A dog loudly barks and scratches at a door.", " A dog loudly barks and scratches at a door.",
        "A dog barks at a rolling ball outdoors."]
    assert clips["mAJAqzo-Y_Y_30000"].origin_id == "yt:mAJAqzo-Y_Y:30000"
    assert clips["oPRC3zComfA_117000"].origin_id == "yt:oPRC3zComfA:117000"
    assert [(k, c.split) for k, c in clips.items() if c.split == "test"] == [
        ("tEsTaCd0001_20000", "test"), ("tEsTaCd0002_0", "test")]


def test_malformed_id_exit_2_naming_file_and_line(tmp_path, capsys):
    corpus = tmp_path / "auto_acd"
    fixture.build(corpus)
    with open(corpus / "test.csv", "a", encoding="utf-8") as f:
        f.write("https://www.youtube.com/watch?v=abc,A caption.\n")  # line 4
    assert cli.main(["auto_acd", str(corpus), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{corpus / 'test.csv'}:4: youtube_id 'https://www.youtube.com/watch?v=abc' is neither" in err


def test_missing_files_are_named(tmp_path, capsys):
    corpus = tmp_path / "auto_acd"
    fixture.build(corpus)
    (corpus / "eval_segments.csv").unlink()
    assert cli.main(["auto_acd", str(corpus), str(tmp_path / "out")]) == 2
    assert f"AudioSet segment list not found: {corpus / 'eval_segments.csv'}" in capsys.readouterr().err
    (corpus / "test.csv").unlink()
    assert cli.main(["auto_acd", str(corpus), str(tmp_path / "out")]) == 2
    assert f"Auto-ACD test captions not found: {corpus / 'test.csv'}" in capsys.readouterr().err


def test_a_wrong_header_is_named(tmp_path, capsys):
    corpus = tmp_path / "auto_acd"
    fixture.build(corpus)
    (corpus / "train.csv").write_text("id,caption\nYmAJAqzo-Y_Y,A caption.\n")
    assert cli.main(["auto_acd", str(corpus), str(tmp_path / "out")]) == 2
    assert f"{corpus / 'train.csv'}: missing column(s) youtube_id" in capsys.readouterr().err


def test_a_video_in_no_segment_list_keeps_no_start(tmp_path):
    corpus = tmp_path / "auto_acd"
    fixture.build(corpus)
    with open(corpus / "train.csv", "a", encoding="utf-8") as f:
        f.write("YnOtInLiStS1,A bell rings.\n")
    preparer = CORPORA.build("auto_acd")
    clips = [c for c in preparer.clips(corpus, []) if c.key == "nOtInLiStS1"]
    assert [(c.origin_id, c.split) for c in clips] == [("yt:nOtInLiStS1", "train")]
    assert preparer.without_start == 1
