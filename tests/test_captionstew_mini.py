"""CaptionStew-mini: the builder's layouts read by the real preparers, planted defects, held-out
probe sets, determinism; and the generators it keeps from the mini corpus."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet

from audiotext.data.captionstew_mini import MissingToolError, build, check_tools
from audiotext.data.captionstew_mini import common, midi, music, real, speech
from audiotext.data.captionstew_mini.build import CORPORA
from audiotext.data.corpora import prepare_corpus
from audiotext.data.schema import ORIGIN_ID

SCALE = 0.05

try:
    check_tools()
    TOOLS_MISSING = None
except MissingToolError as err:
    TOOLS_MISSING = str(err)
needs_tools = pytest.mark.skipif(TOOLS_MISSING is not None, reason=f"{TOOLS_MISSING}")


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    out = tmp_path_factory.mktemp("captionstew_mini")
    summary = build(out, seed=0, jobs=2, scale=SCALE)
    prepared = {}
    for name in CORPORA:
        prepared[name] = prepare_corpus(name, out / "corpora" / name, out / "prepared" / name, jobs=2)
    return out, summary, prepared


def _metadata_digest(root: Path) -> dict:
    """Hashes of the corpora's metadata files (CSV, JSON, Parquet) and, per probe CutSet, of its
    clips (id, origin, label, length); the CutSets' absolute paths differ between builds."""
    digest = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted((root / "corpora").rglob("*")) if p.suffix in (".csv", ".json", ".parquet")}
    for path in sorted((root / "probes").rglob("cuts_*.jsonl.gz")):
        digest[str(path.relative_to(root))] = [(c.id, c.custom[ORIGIN_ID], c.supervisions[0].custom["label"],
                                               c.num_samples) for c in CutSet.from_file(path)]
    return digest


@needs_tools
def test_every_layout_is_read_by_its_preparer(mini):
    out, summary, prepared = mini
    assert set(summary["corpora"]) == set(CORPORA)
    for name, result in prepared.items():
        assert result["total"]["clips_written"] > 0, name
    kinds = {group.split("/")[1] for groups in summary["corpora"].values() for group in groups}
    assert kinds == {"real", "sampled", "synthetic"}
    # the planted defects, counted by the preparers
    audiocaps, clotho = prepared["audiocaps"]["total"], prepared["clotho"]["total"]
    assert audiocaps["clips_missing_audio"] == 2 and audiocaps["captions_on_missing_audio"] == 2
    assert clotho["clips_unreadable_audio"] == 1
    assert clotho["captions_empty"] == 1 and clotho["captions_duplicate"] == 1
    for corpus in ("wavcaps", "musiccaps", "audiosetcaps", "paraspeechcaps"):
        assert prepared[corpus]["total"]["clips_missing_audio"] == 0, corpus
    assert set(summary["planted"]) == {
        "missing_audio", "unreadable_audio", "empty_caption", "duplicate_caption", "duplicate_exact",
        "duplicate_near", "empty_after_normalisation", "caption_too_short", "caption_too_long", "no_caption_left",
        "eval_overlap", "merged_across_corpora", "clip_too_long", "clip_too_short"}


@needs_tools
def test_captions_in_each_corpus_style(mini):
    out = mini[0]
    styles = defaultdict(set)
    for name in CORPORA:
        for split in ("train", "valid", "test"):
            path = out / "prepared" / name / f"cuts_{split}.jsonl.gz"
            if path.is_file():
                for cut in CutSet.from_file(path):
                    styles[name] |= {s.custom["style"] for s in cut.supervisions}
    assert {"transcript", "speaking_style"} <= styles["paraspeechcaps"]
    assert "llm" in styles["audiosetcaps"] and "tags" in styles["musiccaps"] and "tags" in styles["clotho"]
    # Asterisk prompts keep their listed text as the transcript
    texts = {s.custom["caption"] for cut in CutSet.from_file(out / "prepared" / "paraspeechcaps" / "cuts_train.jsonl.gz")
             for s in cut.supervisions if s.custom["style"] == "transcript"}
    listed = {p.text for lang in real.ASTERISK_VOICES for p in real.asterisk_prompts(lang)}
    assert texts & listed


@needs_tools
def test_audioset_files_label_the_youtube_clips_and_keep_stew_evaluation_clips_out_of_train(mini):
    from audiotext.data.captionstew_mini.layouts import AUDIOSET_CLASSES

    out, summary, prepared = mini
    prepared_dir = out / "prepared" / "audioset"
    vocabulary = (prepared_dir / "labels.txt").read_text().splitlines()
    assert vocabulary == [name for _, name in AUDIOSET_CLASSES] and len(vocabulary) == 47
    assert vocabulary[:3] == ["Speech", "Male speech, man speaking", "Female speech, woman speaking"]
    assert prepared["audioset"]["notes"] == {}  # every MID of the segment lists is in the vocabulary
    train = CutSet.from_file(prepared_dir / "cuts_train.jsonl.gz")
    test = CutSet.from_file(prepared_dir / "cuts_test.jsonl.gz")
    labels = {c.custom[ORIGIN_ID]: c.supervisions[0].custom["labels"] for c in list(train) + list(test)}
    assert all(labels.values()) and all(set(v) <= set(vocabulary) for v in labels.values())
    seen = {x for v in labels.values() for x in v}
    assert {"Speech", "Music", "Musical instrument", "Video game music"} <= seen and len(seen) > 20
    # the labels come from the generator: a MusicCaps clip's instrument, an AudioCaps scene's events
    by_origin = {}
    for name in ("audiocaps", "musiccaps"):
        for split in ("train", "valid", "test"):
            path = out / "prepared" / name / f"cuts_{split}.jsonl.gz"
            if path.is_file():
                by_origin.update({c.custom[ORIGIN_ID]: (name, split, c.supervisions) for c in CutSet.from_file(path)})
    violin = [o for o, (name, _, sups) in by_origin.items() if name == "musiccaps" and o in labels
              and any("violin" == t.strip() for s in sups for t in s.custom["caption"].split(",")
                      if s.custom["style"] == "tags")]
    assert violin and all({"Violin, fiddle", "Music"} <= set(labels[o]) for o in violin)
    # AudioSet train holds no clip the stew evaluates on (AudioCaps valid/test, MusicCaps test)
    train_origins = {c.custom[ORIGIN_ID] for c in train}
    held_out = {o for o, (_, split, _) in by_origin.items() if split != "train"}
    assert held_out and not (held_out & train_origins)
    assert held_out & {c.custom[ORIGIN_ID] for c in test} == held_out
    assert summary["corpora"]["audioset"]["speech/real"]["clips"] > 0


@needs_tools
def test_probe_sets_are_held_out(mini):
    out, summary, _ = mini
    probe_origins, probe_files = {}, set()
    for task in ("spoken_language", "speaker", "instrument", "voice", "speaking_rate", "tempo", "event_class"):
        for split in ("train", "valid", "test"):
            cuts = CutSet.from_file(out / "probes" / task / f"cuts_{split}.jsonl.gz")
            assert len(cuts) > 0, (task, split)
            for cut in cuts:
                probe_origins[cut.custom[ORIGIN_ID]] = task
    folds = sorted((out / "probes" / "sound_effect").glob("cuts_fold*.jsonl.gz"))
    assert [p.name for p in folds] == [f"cuts_fold{i}.jsonl.gz" for i in range(1, 6)]
    effects = [cut for p in folds for cut in CutSet.from_file(p)]
    assert len(effects) == len({c.custom[ORIGIN_ID] for c in effects}) == 70  # Colobot's 73 labelled effects less 3 under 0.1 s
    # no training clip shares an origin with a probe clip, except the three planted overlaps
    overlap = []
    for name in CORPORA:
        for path in (out / "prepared" / name).glob("cuts_*.jsonl.gz"):
            overlap += [c.custom[ORIGIN_ID] for c in CutSet.from_file(path) if c.custom[ORIGIN_ID] in probe_origins]
    planted = [p for p in summary["planted"]["eval_overlap"] if "probe clip" in p]
    assert len(overlap) == len(planted) == 3
    # the Asterisk probe labels: five languages, four voices (Allison reads English and Spanish)
    test = CutSet.from_file(out / "probes" / "speaker" / "cuts_test.jsonl.gz")
    assert {c.supervisions[0].custom["label"] for c in test} == {"Allison", "June", "Carlo", "IvrvoiceRU"}


@needs_tools
def test_deterministic_for_seed_and_worker_count(mini, tmp_path):
    out, summary, _ = mini
    again = build(tmp_path / "again", seed=0, jobs=1, scale=SCALE)
    assert _metadata_digest(tmp_path / "again") == _metadata_digest(out)
    assert again["corpora"] == summary["corpora"] and again["planted"] == summary["planted"]


@needs_tools
def test_another_seed_rebuilds_over_an_earlier_build_and_differs(mini, tmp_path):
    out, summary, _ = mini
    stale = tmp_path / "corpora" / "audiocaps" / "audio" / "train" / "Ystale.wav"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    other = build(tmp_path, seed=1, jobs=2, scale=SCALE)
    assert not stale.exists()
    assert _metadata_digest(tmp_path) != _metadata_digest(out)
    assert other["corpora"] != summary["corpora"] or other["planted"] != summary["planted"]


@needs_tools
def test_asterisk_and_colobot_catalogues():
    prompts = {p.name: p for p in real.asterisk_prompts("en")}
    assert prompts["agent-loginok"].text == "Agent logged in."
    assert prompts["digits/1"].text == "one" and prompts["digits/1"].speaker == "Allison"
    assert "beep" not in prompts and "silence/1" not in prompts  # tones and silences are not speech
    effects = real.colobot_sound_effects()
    numbers = {e.number for e in effects}
    assert 65 not in numbers and 73 not in numbers  # byte-identical copies of 50 and 64
    assert {e.label for e in effects} == {"ui_beep", "impact", "explosion", "engine", "alarm", "machine",
                                          "creature", "weapon"}


def test_missing_tools_error_names_package_and_installer(monkeypatch):
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    monkeypatch.setattr(common, "find_soundfont", lambda: None)
    monkeypatch.setattr(common, "find_sonic_pi_samples", lambda: None)
    monkeypatch.setattr(real, "ASTERISK_ROOT", "/nonexistent")
    monkeypatch.setattr(real, "COLOBOT_ROOT", "/nonexistent")
    with pytest.raises(MissingToolError) as err:
        check_tools()
    message = str(err.value)
    for needed in ("espeak-ng", "fluidsynth", "fluid-soundfont-gm", "sonic-pi-samples", "colobot-common-sounds",
                   "asterisk-core-sounds-ru-wav", "tools/install.sh"):
        assert needed in message


def test_split_counts_and_balance():
    assert common.split_counts(100, (0.8, 0.1, 0.1)) == {"train": 80, "valid": 10, "test": 10}
    assert common.split_counts(5, (0.8, 0.1, 0.1)) == {"train": 3, "valid": 1, "test": 1}
    with pytest.raises(ValueError):
        common.split_counts(2, (0.8, 0.1, 0.1))
    labels = common.balanced(["a", "b", "c"], 10, np.random.default_rng(0))
    assert sorted(labels.count(v) for v in "abc") == [3, 3, 4]


def test_midi_writer_bytes():
    assert midi._varlen(0) == b"\x00" and midi._varlen(0x7F) == b"\x7f"
    assert midi._varlen(0x80) == b"\x81\x00" and midi._varlen(0x3FFF) == b"\xff\x7f"
    track = midi.MidiTrack()
    track.program(0.0, 0, 40)
    track.note(0.5, 0.25, 0, 60, 100)
    data = track.to_bytes()
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert int.from_bytes(data[18:22], "big") == len(data) - 22
    assert b"\x90\x3c\x64" in data and b"\x80\x3c\x00" in data and data.endswith(b"\xff\x2f\x00")


def test_music_plan_melodies_belong_to_one_split():
    counts = common.split_counts(90, (0.8, 0.1, 0.1))
    clips = music.plan(90, counts, seed=3)
    owner = {}
    for clip in clips:
        assert owner.setdefault(clip["labels"]["melody_id"], clip["split"]) == clip["split"]
        assert clip["duration_s"] <= common.MAX_DURATION
    instruments = {c["labels"]["instrument"] for c in clips if c["split"] == "train"}
    assert len(instruments) == len(music.INSTRUMENTS)


def test_speech_sentences_unique():
    counts = common.split_counts(500, (0.8, 0.1, 0.1))
    clips = speech.plan(500, counts, seed=0)
    texts = [c["text"] for c in clips]
    assert len(set(texts)) == len(texts)


def _by_rate(clips, value):
    out = defaultdict(list)
    for clip in clips:
        out[clip["labels"]["speaking_rate"]].append(value(clip))
    return {k: np.array(v) for k, v in out.items()}


def test_speech_plan_length_does_not_reveal_rate():
    counts = common.split_counts(900, (0.8, 0.1, 0.1))
    clips = speech.plan(900, counts, seed=0)
    planned = _by_rate(clips, lambda c: speech.spoken_units(c["text"]) * 60.0 / c["rate"])
    means = {k: v.mean() for k, v in planned.items()}
    assert max(means.values()) - min(means.values()) < 0.1, means
    for k, v in planned.items():  # each utterance close to its own drawn length
        target = np.array([c["speech_s"] for c in clips if c["labels"]["speaking_rate"] == k])
        assert np.abs(v - target).mean() < 0.15, k
    words = _by_rate(clips, lambda c: len(c["text"].split()))
    assert words["fast"].mean() > 1.6 * words["slow"].mean()  # the rate lives in words per second


@needs_tools
def test_rendered_speech_duration_does_not_reveal_rate():
    """Rendered by espeak-ng: clip lengths overlap across rate classes; words per second do not."""
    counts = common.split_counts(45, (1.0, 0.0, 0.0))
    clips = speech.plan(45, counts, seed=4)
    seconds = {id(c): len(speech.render(c)) / common.SAMPLE_RATE for c in clips}
    duration = _by_rate(clips, lambda c: seconds[id(c)])
    means = {k: v.mean() for k, v in duration.items()}
    assert max(means.values()) - min(means.values()) < 0.5, means  # was 1.5 s before planning lengths
    wps = _by_rate(clips, lambda c: len(c["text"].split()) / seconds[id(c)])
    assert wps["slow"].max() < wps["fast"].min(), (wps["slow"], wps["fast"])
