"""WavCaps: subsets, blacklists, AudioSet segment starts, numeric ids shared by FreeSound and SoundBible."""
from __future__ import annotations

import json

import pytest

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import CORPORA
from audiotext.data.corpora.wavcaps import iter_json_entries
from audiotext.data.layout import LayoutError, MissingFileError
from audiotext.data.schema import caption_records
from tests.corpus_fixtures import wavcaps as fixture


def _run(tmp_path, *extra):
    corpus = tmp_path / "wavcaps"
    if not corpus.exists():
        fixture.build(corpus)
    out = tmp_path / "out"
    code = cli.main(["wavcaps", str(corpus), str(out), *extra])
    return code, corpus, out


def _cuts(out):
    from lhotse import CutSet

    return {c.id: c for c in CutSet.from_file(out / "cuts_train.jsonl.gz")}


def test_all_subsets(tmp_path):
    code, corpus, out = _run(tmp_path, "--subsets", "all", "--jobs", "2")
    assert code == 0
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["subsets"] == ["bbc", "soundbible", "freesound", "audioset_sl"]
    assert {k: summary["total"][k] for k in fixture.ALL_SUBSETS["total"]} == fixture.ALL_SUBSETS["total"]
    assert list(summary["splits"]) == ["train"]
    assert summary["excluded"] == fixture.ALL_SUBSETS["excluded"]
    cuts = _cuts(out)
    assert list(cuts) == fixture.ALL_SUBSETS["ids"]
    origins = {cut_id: cut.custom["origin_id"] for cut_id, cut in cuts.items()}
    assert origins == {
        "wavcaps_bbc_NHU05051026": "bbc:NHU05051026", "wavcaps_bbc_07070011": "bbc:07070011",
        "wavcaps_soundbible_2219": "soundbible:2219", "wavcaps_soundbible_2217": "soundbible:2217",
        "wavcaps_freesound_180913": "freesound:180913", "wavcaps_freesound_2219": "freesound:2219",
        "wavcaps_freesound_2218": "freesound:2218",
        "wavcaps_audioset_sl_AsEtShArEd1": "yt:AsEtShArEd1:30000",  # the key AudioCaps' fixture gives this clip
        "wavcaps_audioset_sl_nOsTaRtAb12": "yt:nOsTaRtAb12",  # in no strong-label table
    }
    for cut_id, cut in cuts.items():
        sources = {sup.custom["source"] for sup in cut.supervisions}
        assert sources == {cut_id.rsplit("_", 1)[0]}, cut_id
        assert {(sup.custom["style"], sup.custom["domain"]) for sup in cut.supervisions} == {("llm", "sound")}
    assert [(c.text, c.style) for c in caption_records(cuts["wavcaps_freesound_2218"])] == [(fixture.STOMP, "llm")]
    assert [(c.text, c.style) for c in caption_records(cuts["wavcaps_audioset_sl_AsEtShArEd1"])] == [
        (fixture.RAIN_ROOF, "llm")]


def test_numeric_ids_resolve_within_their_source(tmp_path):
    code, corpus, out = _run(tmp_path, "--subsets", "soundbible,freesound")
    assert code == 0
    cuts = _cuts(out)
    # SoundBible 2219 and Freesound 2219 are different files (1.2 s and 2.0 s)
    assert cuts["wavcaps_soundbible_2219"].duration == pytest.approx(1.2)
    assert cuts["wavcaps_freesound_2219"].duration == pytest.approx(2.0)
    assert "FreeSound_flac" in cuts["wavcaps_freesound_2219"].recording.sources[0].source
    # SoundBible 2218 has no file of its own: it must not take Freesound's 2218
    assert "wavcaps_soundbible_2218" not in cuts
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["examples"]["missing_audio"] == ["2218"]


def test_subset_order_is_canonical_and_default_reads_no_blacklist_requirement(tmp_path):
    code, corpus, out = _run(tmp_path, "--subsets", "audioset_sl,bbc")
    assert code == 0
    assert json.loads((out / "prepare_summary.json").read_text())["subsets"] == ["audioset_sl", "bbc"]
    assert [c.split("_")[1] for c in _cuts(out)] == ["bbc", "bbc", "audioset", "audioset"]
    # the default subsets do not need the blacklist files
    for path in (corpus / "json_files" / "blacklist").iterdir():
        path.unlink()
    code, corpus, out = _run(tmp_path)
    assert code == 0
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert summary["subsets"] == ["bbc", "soundbible"] and summary["excluded"] == {}


def test_missing_blacklist_is_named_when_it_applies(tmp_path, capsys):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    missing = corpus / "json_files" / "blacklist" / "blacklist_exclude_test_ac.json"
    missing.unlink()
    code, _, _ = _run(tmp_path, "--subsets", "freesound")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: wavcaps:") and str(missing) in err


def test_every_blacklist_file_is_honoured(tmp_path):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    (corpus / "json_files" / "blacklist" / "my_extra_blacklist.json").write_text(
        json.dumps({"FreeSound": [2219], "AudioSet": ["YnOsTaRtAb12"]}))
    preparer = CORPORA.build("wavcaps")
    keys = [e.key for e in preparer.clips(corpus, ["freesound", "audioset_sl"])]
    assert keys == ["180913", "555", "2218", "AsEtShArEd1", "-dAsH_uNd12"]
    assert dict(preparer.excluded) == {"blacklisted_freesound": 2, "blacklisted_audioset_sl": 2}
    assert "my_extra_blacklist.json" in preparer.blacklist_files
    assert preparer.audioset_without_start == 0


def test_unknown_blacklist_key_is_an_error(tmp_path):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    path = corpus / "json_files" / "blacklist" / "blacklist_exclude_all_ac.json"
    path.write_text(json.dumps({"AudioSet": [], "Clotho": ["1"]}))
    with pytest.raises(LayoutError, match="unknown blacklist key 'Clotho'"):
        list(CORPORA.build("wavcaps").clips(corpus, ["freesound"]))


def test_without_strong_table_origins_have_no_start(tmp_path):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    (corpus / "json_files" / "AudioSet_SL" / "audioset_train_strong.tsv").unlink()
    preparer = CORPORA.build("wavcaps")
    entries = list(preparer.clips(corpus, ["audioset_sl"]))
    assert [(e.key, e.origin_id) for e in entries] == [
        ("AsEtShArEd1", "yt:AsEtShArEd1"), ("nOsTaRtAb12", "yt:nOsTaRtAb12"), ("-dAsH_uNd12", "yt:-dAsH_uNd12")]
    assert preparer.audioset_without_start == 3
    assert entries[0].audio[:4] == ["AudioSet_SL_flac/YAsEtShArEd1", "AudioSet_SL/YAsEtShArEd1",
                                    "audioset_sl/YAsEtShArEd1", "YAsEtShArEd1"]


def test_strong_table_at_corpus_root(tmp_path):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    (corpus / "json_files" / "AudioSet_SL" / "audioset_train_strong.tsv").rename(corpus / "audioset_eval_strong.tsv")
    entries = list(CORPORA.build("wavcaps").clips(corpus, ["audioset_sl"]))
    assert [e.origin_id for e in entries] == ["yt:AsEtShArEd1:30000", "yt:nOsTaRtAb12", "yt:-dAsH_uNd12:120000"]
    assert "AsEtShArEd1_30" in entries[0].audio  # AudioSet download names are searched too


def test_duplicate_id_is_one_clip_with_both_captions(tmp_path):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    entries = list(CORPORA.build("wavcaps").clips(corpus, ["bbc"]))
    assert [e.key for e in entries] == ["NHU05051026", "07070011", "07070012", "NHU05099001", "07070013"]
    assert entries[0].captions == [(fixture.BUG, "llm"), (f" {fixture.BUG} ", "llm")]
    assert entries[0].source == "wavcaps_bbc" and entries[0].split == "train"
    assert entries[0].audio == ["BBC_Sound_Effects_flac/NHU05051026", "BBC_Sound_Effects/NHU05051026",
                                "bbc_sound_effects/NHU05051026", "NHU05051026"]


def test_bad_audioset_id_names_file_and_line(tmp_path):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    path = corpus / "json_files" / "AudioSet_SL" / "as_final.json"
    data = {"num_captions_per_audio": 1, "data": [{"id": "YAsEtShArEd1.wav", "caption": "x"},
                                                  {"id": "AsEtShArEd1_30000", "caption": "y"}]}
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(LayoutError, match=rf"{path}:8: AudioSet_SL id 'AsEtShArEd1_30000'"):
        list(CORPORA.build("wavcaps").clips(corpus, ["audioset_sl"]))


def test_entry_without_id_or_caption_and_broken_json(tmp_path):
    path = tmp_path / "sb_final.json"
    path.write_text('{"num_captions_per_audio": 1,\n "data": [\n  {"id": "1", "caption": "a"},\n  {"caption": "b"}\n]}')
    entries = iter_json_entries(path)
    assert next(entries) == (3, {"id": "1", "caption": "a"})
    line, entry = next(entries)
    assert line == 4
    preparer_path = tmp_path / "corpus" / "json_files" / "SoundBible" / "sb_final.json"
    preparer_path.parent.mkdir(parents=True)
    path.replace(preparer_path)
    with pytest.raises(LayoutError, match=rf"{preparer_path}:4: missing or empty 'id'"):
        list(CORPORA.build("wavcaps").clips(tmp_path / "corpus", ["soundbible"]))
    preparer_path.write_text('{"data": [\n{"id": "1"}\n]}')
    with pytest.raises(LayoutError, match=rf"{preparer_path}:2: entry has no 'caption'"):
        list(CORPORA.build("wavcaps").clips(tmp_path / "corpus", ["soundbible"]))
    preparer_path.write_text('{"data": [\n{"id": "1", "caption": "a"},\n{"id": "2", "caption": "b"\n]}')
    with pytest.raises(LayoutError, match=rf"{preparer_path}:4: not valid JSON"):
        list(CORPORA.build("wavcaps").clips(tmp_path / "corpus", ["soundbible"]))
    preparer_path.write_text('{"num_captions_per_audio": 1}')
    with pytest.raises(LayoutError, match="no 'data' list"):
        list(CORPORA.build("wavcaps").clips(tmp_path / "corpus", ["soundbible"]))


def test_bare_list_and_numbered_caption_slots(tmp_path):
    path = tmp_path / "json_files" / "SoundBible" / "sb_final.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps([{"id": "7", "caption": "a bell"},
                                {"id": 8, "caption_1": "one", "caption_2": None, "caption_3": "three"}]))
    entries = list(CORPORA.build("wavcaps").clips(tmp_path, ["soundbible"]))
    assert [(e.key, e.origin_id, e.captions) for e in entries] == [
        ("7", "soundbible:7", [("a bell", "llm")]),
        ("8", "soundbible:8", [("one", "llm"), ("", "llm"), ("three", "llm")])]


def test_missing_metadata_file_is_named(tmp_path):
    corpus = tmp_path / "wavcaps"
    fixture.build(corpus)
    (corpus / "json_files" / "SoundBible" / "sb_final.json").unlink()
    with pytest.raises(MissingFileError, match="sb_final.json"):
        list(CORPORA.build("wavcaps").clips(corpus, ["bbc", "soundbible"]))
