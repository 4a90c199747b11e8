"""mini_stew generator: manifests, labels, split disjointness, audio and determinism on a 60-clip build."""
from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiotext.data.captionstew_mini import MissingToolError, build, check_tools
from audiotext.data.captionstew_mini import common, midi, music, sound, speech

SPLITS = ("train", "valid", "test")
DOMAINS = ("speech", "music", "sound")
LABELS = {
    "speech": ("voice", "gender", "accent", "pitch_bucket", "speaking_rate", "words_per_minute", "transcript"),
    "music": ("instrument", "instrument_family", "tempo_bpm", "tempo_bucket", "mode", "register", "rhythm", "melody_id"),
    "sound": ("event_class", "event_classes", "num_events", "arrangement", "source_recordings"),
}
NUM_CLIPS = 60

try:
    check_tools()
    TOOLS_MISSING = None
except MissingToolError as err:
    TOOLS_MISSING = str(err)
needs_tools = pytest.mark.skipif(TOOLS_MISSING is not None, reason=f"{TOOLS_MISSING}")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini_stew")
    summary = build(out, num_clips=NUM_CLIPS, seed=0, jobs=1)
    return out, summary


def _load(out: Path, kind: str, split: str):
    from lhotse import load_manifest

    return load_manifest(out / "manifests" / f"mini_stew_{kind}_{split}.jsonl.gz")


def _supervision_lines(out: Path) -> list:
    lines = []
    for split in SPLITS:
        with gzip.open(out / "manifests" / f"mini_stew_supervisions_{split}.jsonl.gz", "rt") as f:
            lines += f.read().splitlines()
    return lines


@needs_tools
def test_manifests_load_and_match(corpus):
    out, summary = corpus
    total = 0
    for split in SPLITS:
        recs, sups, cuts = (_load(out, kind, split) for kind in ("recordings", "supervisions", "cuts"))
        assert len(recs) == len(cuts) == summary["splits"][split]["total"] > 0
        assert sorted(c.id for c in cuts) == sorted(r.id for r in recs)
        for cut in cuts:
            assert cut.id.split("-")[0] in DOMAINS
            assert len(cut.supervisions) == 2  # two caption styles per clip
            for sup in cut.supervisions:
                assert sup.start == 0 and abs(sup.duration - cut.duration) < 1e-6
        assert len(sups) == 2 * len(recs)
        total += len(recs)
    assert total == summary["num_clips"] == NUM_CLIPS
    saved = json.loads((out / "manifests" / "summary.json").read_text())
    assert saved["splits"] == summary["splits"] and saved["build_time_s"] >= 0


@needs_tools
def test_every_supervision_has_fields_and_labels(corpus):
    out, _ = corpus
    styles = {"speech": {"transcript", "speaking_style"}, "music": {"description", "tags"}, "sound": {"description", "tags"}}
    for split in SPLITS:
        for cut in _load(out, "cuts", split):
            customs = [sup.custom for sup in cut.supervisions]
            domain = customs[0]["domain"]
            assert {c["style"] for c in customs} == styles[domain]
            for sup, c in zip(cut.supervisions, customs):
                assert isinstance(c["caption"], str) and len(c["caption"].split()) >= 2, c["caption"]
                assert c["domain"] == domain and c["source"].startswith("mini_stew/")
                for key in LABELS[domain]:
                    assert key in c, (cut.id, key)
                    assert c[key] == customs[0][key]  # labels identical on every caption of a clip
                if domain == "speech":
                    assert sup.speaker == c["voice"] and sup.language == "en"
                    if c["style"] == "transcript":
                        assert sup.text == c["transcript"] == c["caption"]


@needs_tools
def test_captions_describe_labels(corpus):
    out, _ = corpus
    for split in SPLITS:
        for cut in _load(out, "cuts", split):
            c = {sup.custom["style"]: sup.custom for sup in cut.supervisions}
            for custom in c.values():
                assert not re.search(r"\b[Aa] [aeiouAEIOU]", custom["caption"]), custom["caption"]  # "a apple"
            if "speaking_style" in c:
                lab = c["speaking_style"]
                accent = speech.VOICES[lab["voice"].split("+")[0]][1]
                assert accent in lab["caption"], lab["caption"]
            elif c["description"]["domain"] == "music":
                lab = c["tags"]
                assert lab["instrument"] in lab["caption"] and lab["instrument"] in c["description"]["caption"]
                assert lab["tempo_bucket"] in lab["caption"] and music.RHYTHM_TAGS[lab["rhythm"]] in lab["caption"]
            else:
                lab = c["tags"]
                assert lab["caption"] == sound.tags(lab["event_classes"])
                assert all(sound.TAGS[k] in lab["caption"] for k in lab["event_classes"])
                assert lab["num_events"] == len(lab["event_classes"]) and lab["event_class"] == lab["event_classes"][0]


@needs_tools
def test_each_domain_in_each_split(corpus):
    _, summary = corpus
    for split in SPLITS:
        for domain in DOMAINS:
            assert summary["splits"][split][domain] >= 1, (split, domain)


@needs_tools
def test_splits_share_no_sentence_melody_or_recording(corpus):
    out, _ = corpus
    owners = defaultdict(set)
    for split in SPLITS:
        for sup in _load(out, "supervisions", split):
            c = sup.custom
            if c["domain"] == "speech":
                owners[("sentence", c["transcript"])].add(split)
            elif c["domain"] == "music":
                owners[("melody", c["melody_id"])].add(split)
            else:
                for src in c["source_recordings"]:
                    owners[("recording", src)].add(split)
    kinds = {k for k, _ in owners}
    assert kinds == {"sentence", "melody", "recording"}
    shared = {item: s for item, s in owners.items() if len(s) > 1}
    assert not shared


@needs_tools
def test_audio_files(corpus):
    out, _ = corpus
    for split in SPLITS:
        for rec in _load(out, "recordings", split):
            path = Path(rec.sources[0].source)
            assert path.is_absolute() and path.exists() and path.parent.name == split and path.stem == rec.id
            info = sf.info(str(path))
            assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
            assert info.frames == rec.num_samples
            assert 1.0 <= rec.duration <= 6.0
            x, _ = sf.read(str(path))
            assert np.sqrt(np.mean(x ** 2)) > 1e-3 and np.max(np.abs(x)) > 0.3  # peak-normalized, not silent


@needs_tools
def test_deterministic_for_seed_and_worker_count(corpus, tmp_path):
    out, _ = corpus
    again = build(tmp_path / "again", num_clips=NUM_CLIPS, seed=0, jobs=2)
    assert _supervision_lines(tmp_path / "again") == _supervision_lines(out)
    assert again["splits"] == corpus[1]["splits"]
    build(tmp_path / "other", num_clips=NUM_CLIPS, seed=1, jobs=1)
    assert _supervision_lines(tmp_path / "other") != _supervision_lines(out)


@needs_tools
def test_rebuild_removes_stale_clips(tmp_path):
    build(tmp_path, num_clips=40, seed=0, jobs=1)
    build(tmp_path, num_clips=20, seed=0, jobs=1)
    assert len(list((tmp_path / "wav").rglob("*.wav"))) == 20


def test_missing_tools_error_names_package_and_installer(monkeypatch):
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    monkeypatch.setattr(common, "find_soundfont", lambda: None)
    monkeypatch.setattr(common, "find_sonic_pi_samples", lambda: None)
    with pytest.raises(MissingToolError) as err:
        check_tools()
    message = str(err.value)
    for needed in ("espeak-ng", "fluidsynth", "timgm6mb-soundfont", "sonic-pi-samples", "tools/install.sh"):
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
