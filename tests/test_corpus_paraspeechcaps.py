"""ParaSpeechCaps: path forms, VoxCeleb original-before-enhanced audio, subsets, repeats across splits, errors."""
from __future__ import annotations

import json
import re

import pytest

from audiotext.data.corpora import prepare_corpus
from audiotext.data.corpora.paraspeechcaps import clip_identity
from audiotext.data.layout import LayoutError, MissingFileError
from tests.corpus_fixtures import paraspeechcaps as fixture


def _cuts(path):
    from lhotse import CutSet

    return {c.id: c for c in CutSet.from_file(path)}


def _prepare(tmp_path, **kwargs):
    corpus = tmp_path / "psc"
    fixture.build(corpus)
    out = tmp_path / "out"
    summary = prepare_corpus("paraspeechcaps", corpus, out, **kwargs)
    return corpus, out, summary


def test_identity_of_each_source():
    assert clip_identity("voxceleb", "voxceleb2/dev/aac/id08661/ZR6mIEixsP8/00034_voicefixer.wav") == (
        "voxceleb_id08661_ZR6mIEixsP8_00034", "voxceleb:id08661/ZR6mIEixsP8/00034",
        ["id08661/ZR6mIEixsP8/00034", "id08661/ZR6mIEixsP8/00034_voicefixer"])
    # a path without the suffix is the same clip
    assert clip_identity("voxceleb", "voxceleb1/test/wav/id10270/5r0dWxy17C8/00001.wav")[:2] == (
        "voxceleb_id10270_5r0dWxy17C8_00001", "voxceleb:id10270/5r0dWxy17C8/00001")
    assert clip_identity("ears", "p026/emo_relief_freeform.wav") == (
        "ears_p026_emo_relief_freeform", "ears:p026/emo_relief_freeform", ["p026/emo_relief_freeform"])
    assert clip_identity("expresso", "audio_48khz/read/ex04/whisper/base/ex04_whisper_00204.wav") == (
        "expresso_audio_48khz_read_ex04_whisper_base_ex04_whisper_00204",
        "expresso:audio_48khz/read/ex04/whisper/base/ex04_whisper_00204",
        ["audio_48khz/read/ex04/whisper/base/ex04_whisper_00204", "ex04_whisper_00204"])
    assert clip_identity("emilia", "EN/EN_B00030/EN_B00030_S01984/mp3/EN_B00030_S01984_W000037.mp3") == (
        "emilia_EN_B00030_S01984_W000037", "emilia:EN/EN_B00030/EN_B00030_S01984/mp3/EN_B00030_S01984_W000037",
        ["EN/EN_B00030/EN_B00030_S01984/mp3/EN_B00030_S01984_W000037", "EN_B00030_S01984_W000037"])
    with pytest.raises(ValueError, match="speaker"):
        clip_identity("voxceleb", "00001_voicefixer.wav")
    with pytest.raises(ValueError, match="unknown source 'libritts'"):
        clip_identity("libritts", "a/b.wav")


def test_voxceleb_original_before_voicefixer_and_ears_speaker_folder(tmp_path):
    corpus, out, summary = _prepare(tmp_path)
    train = _cuts(out / "cuts_train.jsonl.gz")
    source = {cid: c.recording.sources[0].source for cid, c in train.items()}
    vox = corpus / "audio" / "voxceleb"
    # both files exist: the original recording
    assert source["paraspeechcaps_voxceleb_id10001_1zcIwhmdeo4_00001"] == str(
        vox / "voxceleb1/dev/wav/id10001/1zcIwhmdeo4/00001.wav")
    # only the enhanced copy exists: that one
    assert source["paraspeechcaps_voxceleb_id00012_21Uxsk56VDQ_00001"] == str(
        vox / "voxceleb2/dev/aac/id00012/21Uxsk56VDQ/00001_voicefixer.wav")
    assert source["paraspeechcaps_voxceleb_id10270_5r0dWxy17C8_00001"] == str(
        vox / "voxceleb1/test/wav/id10270/5r0dWxy17C8/00001.wav")
    # neither: missing; only a corrupt enhanced copy: unreadable
    assert summary["examples"]["missing_audio"] == ["voxceleb_id00015_0fijmz4vTVU_00003",
                                                    "voxceleb_id00012_21Uxsk56VDQ_00005"]
    assert summary["examples"]["unreadable_audio"] == ["voxceleb_id00012_21Uxsk56VDQ_00005"]
    assert source["paraspeechcaps_ears_p026_emo_relief_freeform"] == str(
        corpus / "audio/ears/p026/emo_relief_freeform.wav")
    test = _cuts(out / "cuts_test.jsonl.gz")
    assert test["paraspeechcaps_voxceleb_id00017_01dfn2spqyE_00001"].recording.sources[0].source == str(
        vox / "voxceleb2/test/aac/id00017/01dfn2spqyE/00001.wav")


def test_speaker_is_the_only_extra(tmp_path):
    _, out, _ = _prepare(tmp_path)
    cut = _cuts(out / "cuts_train.jsonl.gz")["paraspeechcaps_voxceleb_id10270_5r0dWxy17C8_00001"]
    assert cut.custom == {"origin_id": "voxceleb:id10270/5r0dWxy17C8/00001", "speaker": "id10270"}
    grouped = _cuts(out / "cuts_train.jsonl.gz")[
        "paraspeechcaps_expresso_audio_48khz_read_ex04_whisper_base_ex04_whisper_00204"]
    assert grouped.custom == {"origin_id": "expresso:audio_48khz/read/ex04/whisper/base/ex04_whisper_00204",
                              "speaker": "ex04"}
    assert [s.custom["source"] for s in grouped.supervisions] == ["paraspeechcaps"] * 4
    assert [s.custom.get("derived", False) for s in grouped.supervisions] == [False, False, False, True]


def test_train_subset_choice(tmp_path):
    _, out, summary = _prepare(tmp_path, subsets=["train_scaled"])
    assert summary["subsets"] == ["train_scaled"]
    assert list(_cuts(out / "cuts_train.jsonl.gz")) == ["paraspeechcaps_emilia_EN_B00030_S01984_W000037",
                                                          "paraspeechcaps_emilia_EN_B00031_S00002_W000001"]
    assert summary["splits"]["train"]["clips"] == 3
    assert summary["splits"]["valid"]["clips"] == 2 and summary["splits"]["test"]["clips"] == 2
    with pytest.raises(ValueError, match="unknown subset"):
        prepare_corpus("paraspeechcaps", tmp_path / "psc", tmp_path / "o2", subsets=["dev"])


def test_clip_in_two_splits_is_kept_in_the_evaluation_split(tmp_path):
    corpus = tmp_path / "psc"
    fixture.build(corpus)
    ears_dev = fixture.row("ears", "p030/sentences_01_regular.wav", ["Another caption of the dev clip."], " x", "p030")
    vox_test = fixture.row("voxceleb", "voxceleb2/test/aac/id00017/01dfn2spqyE/00001.wav", ["Also in holdout."],
                           " y", "id00017")
    fixture.write_parquet(corpus / "data/train_scaled-00001-of-00002.parquet", [ears_dev, vox_test, vox_test])
    fixture.write_parquet(corpus / "data/dev-00000-of-00001.parquet", [ears_dev, vox_test])
    summary = prepare_corpus("paraspeechcaps", corpus, tmp_path / "out")
    assert summary["excluded"] == {"in_dev_too": 1, "in_holdout_too": 2}  # one train clip, one dev clip
    assert summary["splits"]["train"]["clips"] == 7  # train_base 6 + train_scaled's first shard
    assert list(_cuts(tmp_path / "out/cuts_valid.jsonl.gz")) == ["paraspeechcaps_ears_p030_sentences_01_regular"]
    assert "paraspeechcaps_voxceleb_id00017_01dfn2spqyE_00001" in _cuts(tmp_path / "out/cuts_test.jsonl.gz")


def test_missing_split_file_is_named(tmp_path):
    corpus = tmp_path / "psc"
    fixture.build(corpus)
    (corpus / "data/holdout-00000-of-00001.parquet").unlink()
    with pytest.raises(MissingFileError, match=r"data/holdout-\*\.parquet"):
        prepare_corpus("paraspeechcaps", corpus, tmp_path / "out")


def test_files_in_the_corpus_root_are_found(tmp_path):
    corpus = tmp_path / "psc"
    fixture.build(corpus)
    for path in sorted((corpus / "data").iterdir()):
        path.rename(corpus / path.name)
    summary = prepare_corpus("paraspeechcaps", corpus, tmp_path / "out")
    assert summary["total"]["clips"] == 13


def test_malformed_rows_name_file_and_row(tmp_path):
    corpus = tmp_path / "psc"
    fixture.build(corpus)
    path = corpus / "data/dev-00000-of-00001.parquet"
    fixture.write_parquet(path, [fixture.row("ears", "p030/a.wav", ["x"], "", "p030"),
                                 fixture.row("libritts", "19/198/19_198_000000_000000.wav", ["x"], "", "19")])
    with pytest.raises(LayoutError, match="^" + re.escape(f"{path}:2: unknown source 'libritts'")):
        prepare_corpus("paraspeechcaps", corpus, tmp_path / "out")
    fixture.write_parquet(path, [fixture.row("ears", "", ["x"], "", "p030")])
    with pytest.raises(LayoutError, match="^" + re.escape(f"{path}:1: empty relative_audio_path")):
        prepare_corpus("paraspeechcaps", corpus, tmp_path / "out")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"source": ["ears"], "relative_audio_path": ["p030/a.wav"]}), path)
    with pytest.raises(LayoutError, match="missing column\\(s\\) text_description, transcription"):
        prepare_corpus("paraspeechcaps", corpus, tmp_path / "out")
    path.write_text("not parquet")
    with pytest.raises(LayoutError, match="not a readable parquet file"):
        prepare_corpus("paraspeechcaps", corpus, tmp_path / "out")


def test_summary_is_json(tmp_path):
    _, out, summary = _prepare(tmp_path)
    assert json.loads((out / "prepare_summary.json").read_text())["total"] == summary["total"]
