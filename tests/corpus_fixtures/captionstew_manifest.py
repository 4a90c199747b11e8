"""Manifests as the published CaptionStew data-prep scripts write them: one CutSet per source,
``custom["caption"]`` a list of strings, no style/domain/source tags, the source's own cut ids."""
from __future__ import annotations

from pathlib import Path

from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

from tests.corpus_fixtures import write_audio


def _cut(cut_id: str, path: Path, captions, recording_path: str = None) -> MonoCut:
    recording = Recording.from_file(path, recording_id=cut_id)
    if recording_path is not None:  # as written by a script run elsewhere (relative, or a moved file)
        recording.sources[0].source = recording_path
    sup = SupervisionSegment(id=cut_id, recording_id=cut_id, start=0.0, duration=recording.duration, channel=0,
                             custom={"caption": list(captions)})
    return MonoCut(id=cut_id, start=0, duration=recording.duration, channel=0, recording=recording, supervisions=[sup])


def build(root: Path) -> dict:
    audio = root / "audio"
    bbc = write_audio(audio / "BBC_Sound_Effects" / "07075020.flac", 1.5, seed=11)
    sb = write_audio(audio / "SoundBible" / "2053.flac", 1.2, seed=12)
    vgg = write_audio(audio / "vggsound" / "train" / "AsEtShArEd1_000030.wav", 1.6, seed=13)
    vgg2 = write_audio(audio / "vggsound" / "train" / "---g-f_I2yQ_000001.wav", 1.3, seed=14)
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    CutSet.from_cuts([
        _cut("BBCSoundEffects_07075020", bbc, ["Birds sing in a forest.", " Birds sing in a forest. "]),
        # a file moved since the manifest was written: found again by its name
        _cut("SoundBible_2053", sb, ["A door creaks open."], recording_path="/gone/SoundBible/2053.flac"),
    ]).to_file(manifests / "wavcaps.jsonl.gz")
    missing = write_audio(root / "tmp" / "Xmissing0001_000010.wav", 1.0, seed=15)
    cuts = [
        _cut("AsEtShArEd1_000030", vgg, ["Rain patters on a roof while thunder rumbles.", ""],
             recording_path="audio/vggsound/train/AsEtShArEd1_000030.wav"),  # relative to the corpus dir
        _cut("---g-f_I2yQ_000001", vgg2, ["A man speaks over engine noise."]),
        _cut("Xmissing0001_000010", missing, ["A dog barks twice."]),
    ]
    CutSet.from_cuts(cuts).to_file(manifests / "vggsound.jsonl.gz")
    missing.unlink()
    return {
        "summary": {
            "total": {"clips": 5, "clips_missing_audio": 1, "clips_unreadable_audio": 0, "clips_without_caption": 0,
                      "clips_written": 4, "captions_total": 7, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 1, "captions_clean": 4, "captions_derived": 0},
            "splits": {"train": {"clips": 5, "clips_written": 4}},
        },
        "ids": {"train": ["vggsound_AsEtShArEd1_000030", "vggsound_---g-f_I2yQ_000001",
                          "wavcaps_BBCSoundEffects_07075020", "wavcaps_SoundBible_2053"]},
        "origins": {"vggsound_AsEtShArEd1_000030": "yt:AsEtShArEd1:30000",
                    "vggsound_---g-f_I2yQ_000001": "yt:---g-f_I2yQ:1000",
                    "wavcaps_BBCSoundEffects_07075020": "bbc:07075020",
                    "wavcaps_SoundBible_2053": "soundbible:2053"},
        "captions": {"wavcaps_BBCSoundEffects_07075020": [("Birds sing in a forest.", "llm")],
                     "vggsound_AsEtShArEd1_000030": [("Rain patters on a roof while thunder rumbles.", "llm")]},
    }
