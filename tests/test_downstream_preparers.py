"""Downstream preparers on tiny copies of each data set's official layout (tests/downstream_fixtures.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from lhotse import CutSet

from audiotext.bin import prepare_downstream
from audiotext.data.downstream import (
    DATASETS, PREPARERS, LayoutError, MissingFileError, crema_d_fold, read_summary, select_top_tags,
)
from audiotext.data.downstream.music import gtzan_fold
from tests import downstream_fixtures as fx

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")


def load(paths):
    return {split: CutSet.from_file(path).to_eager() for split, path in paths.items()}


def customs(cuts):
    return {cut.id: cut.supervisions[0].custom for cut in cuts}


def sizes(sets):
    return {split: len(cuts) for split, cuts in sets.items()}


def check_common(sets, task, domain):
    for cuts in sets.values():
        for cut in cuts:
            assert len(cut.supervisions) == 1
            sup = cut.supervisions[0]
            assert sup.duration == pytest.approx(cut.duration) and sup.start == 0.0
            assert sup.custom["task"] == task and sup.custom["domain"] == domain
            assert ("label" in sup.custom) != ("labels" in sup.custom)
            assert Path(cut.recording.sources[0].source).is_file()


# every downstream data set, in the order the CLI help and local/prepare_downstream.sh list them
EXPECTED_NAMES = ("esc50", "urbansound8k", "fsd50k", "vggsound", "voxceleb1", "crema_d", "speech_commands",
                  "nsynth", "gtzan", "mtat")


def test_registry_matches_info():
    assert tuple(PREPARERS) == EXPECTED_NAMES
    assert tuple(DATASETS) == EXPECTED_NAMES
    assert prepare_downstream.NAMES == EXPECTED_NAMES
    script = (Path(__file__).resolve().parents[1] / "egs" / "captionstew" / "local" / "prepare_downstream.sh")
    defaults = [line for line in script.read_text().splitlines() if line.startswith("names=")]
    assert defaults == [f'names="{" ".join(EXPECTED_NAMES)}"']
    for info in DATASETS.values():
        assert info.domain in ("sound", "speech", "music")
        assert info.label_key == ("labels" if info.multilabel else "label")


def test_esc50_folds_and_corrupt_clip(tmp_path):
    root = fx.make_esc50(tmp_path / "ESC-50-master")
    paths = PREPARERS["esc50"](root, tmp_path / "out")
    assert list(paths) == [f"fold{k}" for k in range(1, 6)]
    assert all(p.name == f"cuts_{s}.jsonl.gz" and p.is_file() for s, p in paths.items())
    sets = load(paths)
    assert sizes(sets) == {"fold1": 2, "fold2": 2, "fold3": 1, "fold4": 2, "fold5": 2}
    check_common(sets, "esc50", "sound")
    c = customs(sets["fold2"])["esc50-2-100020-A-0"]
    assert c["label"] == "dog" and c["fold"] == 2 and c["target"] == 0 and c["esc10"] is True
    assert c["src_file"] == "100020" and c["take"] == "A"
    # the Freesound id is the origin: curation keeps Clotho/WavCaps copies of these sounds out of training
    origins = {cut.id: cut.custom["origin_id"] for cut in sets["fold2"]}
    assert origins["esc50-2-100020-A-0"] == "freesound:100020"
    assert list(c)[:4] == ["label", "fold", "domain", "task"]
    assert all(cs["fold"] == int(s[4:]) for s, cuts in sets.items() for cs in customs(cuts).values())
    cut = sets["fold1"][0]
    assert cut.sampling_rate == 44100 and cut.num_samples == int(0.2 * 44100)
    assert cut.load_audio().shape == (1, cut.num_samples)
    summary = read_summary(tmp_path / "out")
    assert summary["skipped"] == {"unreadable": 1}
    assert "3-100031-A-1.wav" in summary["skipped_examples"]["unreadable"][0]
    assert summary["clips"]["fold3"] == 1 and summary["label_counts"]["fold3"] == {"dog": 1}


def test_esc50_missing_listed_audio_names_path(tmp_path):
    root = fx.make_esc50(tmp_path / "esc")
    gone = root / "audio" / "4-100041-A-1.wav"
    gone.unlink()
    with pytest.raises(MissingFileError, match=str(gone)):
        PREPARERS["esc50"](root, tmp_path / "out")


def test_urbansound8k_folds_and_stereo(tmp_path):
    root = fx.make_urbansound8k(tmp_path / "UrbanSound8K")
    sets = load(PREPARERS["urbansound8k"](root, tmp_path / "out"))
    assert sizes(sets) == {f"fold{k}": 1 for k in range(1, 11)}
    check_common(sets, "urbansound8k", "sound")
    stereo = sets["fold2"][0]
    assert stereo.id == "urbansound8k-1002-3-0-2" and stereo.num_channels == 2 and stereo.sampling_rate == 22050
    c = stereo.supervisions[0].custom
    assert c == {"label": "dog_bark", "fold": 2, "domain": "sound", "task": "urbansound8k", "class_id": 3,
                 "fs_id": "1002", "salience": 1, "source_start": 1.5, "source_end": 1.7}
    assert sets["fold7"][0].supervisions[0].custom["salience"] == 2
    assert read_summary(tmp_path / "out")["channels"] == {"1": 9, "2": 1}


def test_urbansound8k_resample_option(tmp_path):
    root = fx.make_urbansound8k(tmp_path / "us8k")
    sets = load(PREPARERS["urbansound8k"](root, tmp_path / "out", sampling_rate=16000, num_jobs=2))
    cut = sets["fold1"][0]
    assert cut.sampling_rate == 16000 and cut.load_audio().shape[-1] == pytest.approx(3200, abs=2)


def test_fsd50k_multilabel_splits(tmp_path):
    root = fx.make_fsd50k(tmp_path / "fsd50k")
    sets = load(PREPARERS["fsd50k"](root, tmp_path / "out"))
    assert sizes(sets) == {"train": 3, "valid": 2, "test": 2}
    check_common(sets, "fsd50k", "sound")
    train = customs(sets["train"])
    assert train["fsd50k-dev-64760"]["labels"] == ["Electric_guitar", "Guitar", "Plucked_string_instrument",
                                                   "Musical_instrument", "Music"]
    assert train["fsd50k-dev-64760"]["mids"][0] == "/m/02sgy"
    assert customs(sets["valid"])["fsd50k-dev-40515"]["labels"] == ["Rain", "Water"]
    assert set(customs(sets["test"])) == {"fsd50k-eval-37199", "fsd50k-eval-175151"}
    assert "fold" not in train["fsd50k-dev-16399"]


def test_vggsound_counts_missing_clips(tmp_path):
    root = fx.make_vggsound(tmp_path / "vggsound")
    sets = load(PREPARERS["vggsound"](root, tmp_path / "out"))
    assert sizes(sets) == {"train": 3, "test": 1}
    check_common(sets, "vggsound", "sound")
    train = customs(sets["train"])
    assert train["vggsound--0BKyt8iZ1I_000150"]["label"] == "cattle, bovinae cowbell"
    assert train["vggsound--0BKyt8iZ1I_000150"]["start_seconds"] == 150
    by_id = {cut.id: cut for cut in sets["train"]}
    assert by_id["vggsound--0BKyt8iZ1I_000150"].recording.sources[0].source.endswith(".mp3")
    assert by_id["vggsound---0PQM4-hqg_000030"].recording.sources[0].source.endswith(".wav")  # wav over flac
    assert customs(sets["test"])["vggsound----g-f_I2yQ_000001"]["youtube_id"] == "---g-f_I2yQ"
    summary = read_summary(tmp_path / "out")
    assert summary["skipped"] == {"duplicate_row": 1, "missing": 2} and summary["listed"] == 6
    assert any("gone-video1_000010" in e for e in summary["skipped_examples"]["missing"])


def test_voxceleb1_identification(tmp_path):
    root = fx.make_voxceleb1(tmp_path / "voxceleb1")
    sets = load(PREPARERS["voxceleb1"](root, tmp_path / "out"))
    assert sizes(sets) == {"train": 3, "valid": 2, "test": 2}
    check_common(sets, "voxceleb1", "speech")
    c = customs(sets["test"])["voxceleb1-id10270-x6uYqmx31kE-00001"]
    assert c["label"] == "id10270" and c["speaker"] == "id10270" and c["video"] == "x6uYqmx31kE"
    assert {cs["label"] for cs in customs(sets["train"]).values()} == {"id10001", "id10270"}
    test_cut = next(c for c in sets["test"] if c.id == "voxceleb1-id10270-x6uYqmx31kE-00001")
    assert test_cut.custom["origin_id"] == "voxceleb:id10270/x6uYqmx31kE/00001"


def test_voxceleb1_missing_listed_audio(tmp_path):
    root = fx.make_voxceleb1(tmp_path / "vox")
    (root / "wav" / "id10001" / "7w0IBEWc9Qw" / "00002.wav").unlink()
    with pytest.raises(MissingFileError, match=str(root / "wav" / "id10001" / "7w0IBEWc9Qw" / "00002.wav")):
        PREPARERS["voxceleb1"](root, tmp_path / "out")


def test_crema_d_speaker_folds(tmp_path):
    root = fx.make_crema_d(tmp_path / "CREMA-D")
    sets = load(PREPARERS["crema_d"](root, tmp_path / "out"))
    assert sizes(sets) == {"fold1": 4, "fold2": 1, "fold3": 1, "fold4": 1, "fold5": 1}
    check_common(sets, "crema_d", "speech")
    c = customs(sets["fold1"])["crema_d-1001_IEO_HAP_HI"]
    assert c == {"label": "HAP", "fold": 1, "domain": "speech", "task": "crema_d", "emotion": "happy",
                 "speaker": "1001", "sentence": "IEO", "intensity": "HI"}
    speakers = {s: {cs["speaker"] for cs in customs(cuts).values()} for s, cuts in sets.items()}
    assert speakers["fold1"] == {"1001", "1006", "1076"}
    for a in speakers.values():  # speaker-disjoint
        for b in speakers.values():
            assert a is b or not a & b
    assert [crema_d_fold(a) for a in (1001, 1005, 1006, 1091)] == [1, 5, 1, 1]
    summary = read_summary(tmp_path / "out")
    assert summary["skipped"] == {"empty": 1, "unparsed_name": 1}


def test_speech_commands_lists(tmp_path):
    root = fx.make_speech_commands(tmp_path / "speech_commands_v0.02")
    sets = load(PREPARERS["speech_commands"](root, tmp_path / "out"))
    assert sizes(sets) == {"train": 4, "valid": 2, "test": 3}
    check_common(sets, "speech_commands", "speech")
    assert set(customs(sets["valid"])) == {"speech_commands-yes-0137b3f4_nohash_0",
                                           "speech_commands-no-0137b3f4_nohash_0"}
    c = customs(sets["train"])["speech_commands-yes-004ae714_nohash_1"]
    assert c["label"] == "yes" and c["speaker"] == "004ae714" and c["utterance"] == "1"
    assert {cs["label"] for cs in customs(sets["test"]).values()} == {"yes", "no", "up"}
    summary = read_summary(tmp_path / "out")
    assert summary["skipped"] == {"background_noise": 2}
    assert "zero" in summary["absent_words"] and "yes" not in summary["absent_words"]


def test_speech_commands_missing_list_entry(tmp_path):
    root = fx.make_speech_commands(tmp_path / "sc")
    (root / "up" / "0137b3f4_nohash_2.wav").unlink()
    with pytest.raises(MissingFileError, match=f"{root / 'testing_list.txt'} not found: "
                                               f"{root / 'up' / '0137b3f4_nohash_2.wav'}"):
        PREPARERS["speech_commands"](root, tmp_path / "out")


def test_nsynth_family_and_pitch(tmp_path):
    root = fx.make_nsynth(tmp_path / "nsynth")
    sets = load(PREPARERS["nsynth"](root, tmp_path / "out"))
    assert sizes(sets) == {"train": 3, "valid": 1, "test": 2}
    check_common(sets, "nsynth", "music")
    c = customs(sets["train"])["nsynth-guitar_acoustic_010-060-100"]
    assert c["label"] == "guitar" and c["pitch"] == 60 and c["instrument_family"] == 3
    assert c["velocity"] == 100 and c["instrument_source_str"] == "acoustic"
    assert customs(sets["test"])["nsynth-vocal_acoustic_000-060-025"]["label"] == "vocal"
    only = load(PREPARERS["nsynth"](root, tmp_path / "out2", splits=("valid", "test")))
    assert sizes(only) == {"valid": 1, "test": 2}


def test_gtzan_marsyas_au_folds(tmp_path):
    root = fx.make_gtzan_marsyas(tmp_path / "gtzan")
    sets = load(PREPARERS["gtzan"](root, tmp_path / "out"))
    assert sizes(sets) == {"fold1": 10, "fold2": 10}
    summary = read_summary(tmp_path / "out")
    assert summary["empty_splits"] == [f"fold{k}" for k in range(3, 11)] and summary["clips"]["fold3"] == 0
    assert not (tmp_path / "out" / "cuts_fold3.jsonl.gz").exists()
    check_common(sets, "gtzan", "music")
    c = customs(sets["fold2"])["gtzan-jazz.00015"]
    assert c == {"label": "jazz", "fold": 2, "domain": "music", "task": "gtzan", "clip_index": 15}
    assert sets["fold1"][0].sampling_rate == 22050
    assert sets["fold1"][0].recording.sources[0].source.endswith(".au")
    assert [gtzan_fold(i) for i in (0, 9, 10, 54, 99)] == [1, 1, 2, 6, 10]


def test_gtzan_kaggle_corrupt_jazz_00054(tmp_path):
    root = fx.make_gtzan_kaggle(tmp_path / "gtzan")
    sets = load(PREPARERS["gtzan"](root, tmp_path / "out"))
    assert len(sets["fold1"]) == 10 and len(sets["fold6"]) == 9
    assert "gtzan-jazz.00054" not in customs(sets["fold6"])
    summary = read_summary(tmp_path / "out")
    assert summary["skipped"] == {"unreadable": 1}
    assert "jazz.00054.wav" in summary["skipped_examples"]["unreadable"][0]


def test_gtzan_filtered_split_lists(tmp_path):
    root = fx.make_gtzan_marsyas(tmp_path / "gtzan")
    lists = tmp_path / "split"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text("blues/blues.00000.wav\nrock/rock.00015.wav\n")
    (lists / "valid_filtered.txt").write_text("jazz/jazz.00000.wav\n")
    (lists / "test_filtered.txt").write_text("pop/pop.00015.wav\npop/pop.00000.wav\n")
    sets = load(PREPARERS["gtzan"](root, tmp_path / "out", split_dir=lists))
    assert sizes(sets) == {"train": 2, "valid": 1, "test": 2}
    assert customs(sets["train"])["gtzan-rock.00015"]["fold"] == 2
    assert read_summary(tmp_path / "out")["skipped"] == {"not_in_split": 15}
    PREPARERS["gtzan"](root, tmp_path / "out")  # folds into the same directory: no stale split files stay
    assert sorted(p.name for p in (tmp_path / "out").glob("cuts_*")) == ["cuts_fold1.jsonl.gz", "cuts_fold2.jsonl.gz"]
    (lists / "valid_filtered.txt").write_text("jazz/jazz.00042.wav\n")
    with pytest.raises(MissingFileError, match="jazz.00042"):
        PREPARERS["gtzan"](root, tmp_path / "out", split_dir=lists)


MTAT_TOP = [  # top_k, selected tags in rank order, train / valid / test clip ids, clips without a kept tag
    (1, ["classical"], [11], [15], [2, 6], 4),
    (2, ["classical", "guitar"], [10, 11], [15], [2, 6], 3),
    (3, ["classical", "guitar", "strings"], [10, 11], [15], [2, 6, 20], 2),
    (5, ["classical", "guitar", "strings", "slow", "techno"], [10, 11], [15], [2, 6, 20], 2),
    (50, ["classical", "guitar", "strings", "slow", "techno", "drums"], [10, 11, 12], [15], [2, 6, 20], 1),
]


@pytest.mark.parametrize("top_k,tags,train,valid,test,untagged", MTAT_TOP)
def test_mtat_top_k(tmp_path, top_k, tags, train, valid, test, untagged):
    root = fx.make_mtat(tmp_path / "magnatagatune")
    sets = load(PREPARERS["mtat"](root, tmp_path / "out", top_k=top_k))
    check_common(sets, "mtat", "music")
    ids = {s: sorted(cs["clip_id"] for cs in customs(cuts).values()) for s, cuts in sets.items()}
    assert ids == {"train": train, "valid": valid, "test": test}
    summary = read_summary(tmp_path / "out")
    assert summary["tags"] == tags and summary["top_k"] == top_k
    assert summary["skipped"] == {"no_top_tags": untagged}
    keep = set(tags)
    for cuts in sets.values():
        for cut in cuts:
            clip = next(c for c in fx.MTAT_CLIPS if c[0] == cut.supervisions[0].custom["clip_id"])
            expected = [t for t in fx.MTAT_TAGS if t in clip[2] and t in keep]
            assert cut.supervisions[0].custom["labels"] == expected and expected
    assert sets["test"][0].recording.sources[0].source.endswith(".mp3")


def test_mtat_keep_untagged_and_missing_mp3(tmp_path):
    root = fx.make_mtat(tmp_path / "mtat")
    sets = load(PREPARERS["mtat"](root, tmp_path / "out", top_k=1, keep_untagged=True))
    assert sum(sizes(sets).values()) == len(fx.MTAT_CLIPS)
    assert customs(sets["train"])["mtat-12"]["labels"] == []
    broken = fx.make_mtat(tmp_path / "mtat2", missing_clip=20)
    with pytest.raises(MissingFileError, match="mp3/d/kitka-wintersongs-01-kalanda-0-29.mp3"):
        PREPARERS["mtat"](broken, tmp_path / "out2", top_k=3)
    PREPARERS["mtat"](broken, tmp_path / "out3", top_k=1)  # clip 20 has no kept tag: not needed


def test_select_top_tags_ties_keep_column_order():
    assert select_top_tags({"a": 2, "b": 3, "c": 3}, ["a", "b", "c", "d"], 3) == ["b", "c", "a"]
    with pytest.raises(ValueError):
        select_top_tags({"a": 1}, ["a"], 0)


MISSING_METADATA = {
    "esc50": "meta/esc50.csv",
    "urbansound8k": "metadata/UrbanSound8K.csv",
    "fsd50k": "FSD50K.ground_truth/dev.csv",
    "vggsound": "vggsound.csv",
    "voxceleb1": "iden_split.txt",
    "crema_d": "AudioWAV",
    "speech_commands": "validation_list.txt",
    "nsynth": "nsynth-train/examples.json",
    "gtzan": "genres/blues",
    "mtat": "annotations_final.csv",
}


@pytest.mark.parametrize("name", sorted(MISSING_METADATA))
def test_missing_metadata_names_path(tmp_path, name):
    root = tmp_path / "corpus"
    root.mkdir()
    with pytest.raises(MissingFileError) as err:
        PREPARERS[name](root, tmp_path / "out")
    assert f"not found: {root / MISSING_METADATA[name]}" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_malformed_metadata_is_a_layout_error(tmp_path):
    root = fx.make_esc50(tmp_path / "esc")
    fx.write_csv(root / "meta" / "esc50.csv", ["filename", "fold", "category"], [["1-1-A-0.wav", 1, "dog"]])
    with pytest.raises(LayoutError, match="missing column"):
        PREPARERS["esc50"](root, tmp_path / "out")


def test_relative_corpus_dir_gives_absolute_sources(tmp_path, monkeypatch):
    fx.make_speech_commands(tmp_path / "sc")
    monkeypatch.chdir(tmp_path)
    sets = load(PREPARERS["speech_commands"]("sc", "out"))
    source = sets["train"][0].recording.sources[0].source
    assert Path(source).is_absolute() and Path(source).is_file()


def test_cli(tmp_path, capsys):
    root = fx.make_crema_d(tmp_path / "crema")
    assert prepare_downstream.main(["crema_d", str(root), str(tmp_path / "out")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["clips"]["fold1"] == 4 and printed["files"]["fold1"].endswith("cuts_fold1.jsonl.gz")
    assert prepare_downstream.main(["esc50", str(tmp_path / "nowhere"), str(tmp_path / "o")]) == 2
    assert f"not found: {tmp_path / 'nowhere' / 'meta' / 'esc50.csv'}" in capsys.readouterr().err
    assert prepare_downstream.main(["esc50", str(root), str(tmp_path / "o"), "--top-k", "5"]) == 2
    assert "--top-k does not apply to esc50" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        prepare_downstream.main(["imagenet", str(root), str(tmp_path / "o")])
    assert exit_info.value.code == 2
