"""Clotho v2.1 layout: clotho_captions_<split>.csv (UTF-8), clotho_metadata_<split>.csv (ISO-8859-1),
audio in development/, validation/, evaluation/ under the names the CSVs give (spaces, commas, dots)."""
from __future__ import annotations

import csv
from pathlib import Path

from tests.corpus_fixtures import write_audio

CAPTIONS_HEADER = ["file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5"]
METADATA_HEADER = ["file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer", "license"]
CC_BY = "http://creativecommons.org/licenses/by/3.0/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"


def _write(path: Path, header, rows, encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _meta(name, keywords, sound_id, manufacturer, license=CC_BY):
    link = f"https://freesound.org/people/{manufacturer}/sounds/{sound_id}" if sound_id.isdigit() else "Not found"
    return [name, keywords, sound_id, link, "[1024, 845524]", manufacturer, license]


RADIO = ["A radio dispatcher and an officer are communicating over the radio.",
         "Static crackles, and a dispatcher talks over a walkie-talkie.",  # a quoted comma
         "A discussion with a walkie-talkie with a considerable amount of static.",
         "People talking through a walkie-talkie with bad audio quality.",
         "The walkie-talkie the people are talking through has bad audio quality."]
BIRDS = ["Birds sing while rain falls on leaves.",
         "",  # empty slot
         "Wind blows through trees as birds chirp, and rain patters.",
         " Birds sing while rain falls on leaves. ",  # the first caption again, after strip
         "Rain and wind with birds calling in the distance."]
DOOR = [f"Someone knocks on a wooden door, knock {i}." for i in range(1, 6)]
GONE = [f"A microphone is buffeted by strong wind, take {i}." for i in range(1, 6)]
KITCHEN = [f"Water drips from a faucet into a metal sink, drop {i}." for i in range(1, 6)]
THUNDER = [f"Thunder rumbles over a lake as a storm approaches, part {i}." for i in range(1, 6)]


def build(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    # development -> train. "Door.Knock 01.wav" has no metadata row: kept, origin clotho:<stem>, no tags.
    # "Missing Audio Clip.wav" has no audio. The metadata (ISO-8859-1) has "café" and "Müller", and a
    # row for a file without captions (ignored).
    _write(root / "clotho_captions_development.csv", CAPTIONS_HEADER, [
        ["Radio Garble.wav", *RADIO],
        ["birds, rain & wind (2).wav", *BIRDS],
        ["Door.Knock 01.wav", *DOOR],
        ["Missing Audio Clip.wav", *GONE],
    ], "utf-8")
    _write(root / "clotho_metadata_development.csv", METADATA_HEADER, [
        _meta("Radio Garble.wav", "garbled-radio;police;radio;café", "80399", "Benboncan"),
        _meta("Orphan Sound.wav", "nothing", "11111", "nobody", CC0),
        _meta("birds, rain & wind (2).wav", "birds; rain;;wind", "12345", "Müller"),
        _meta("Missing Audio Clip.wav", "wind;microphone", "555", "Benboncan"),
    ], "iso-8859-1")
    write_audio(root / "development" / "Radio Garble.wav", 2.0, seed=1)
    write_audio(root / "development" / "birds, rain & wind (2).wav", 1.5, seed=2)
    write_audio(root / "development" / "Door.Knock 01.wav", 1.2, seed=3)
    # validation -> valid: the CSV keeps a ":" that v2.1 replaced in the audio file name; sound_id "Not found"
    _write(root / "clotho_captions_validation.csv", CAPTIONS_HEADER,
           [["Kitchen Roomtone w: Dripping Faucet.wav", *KITCHEN]], "utf-8")
    _write(root / "clotho_metadata_validation.csv", METADATA_HEADER,
           [_meta("Kitchen Roomtone w: Dripping Faucet.wav", "kitchen;faucet;drip", "Not found", "Not found")],
           "iso-8859-1")
    write_audio(root / "validation" / "Kitchen Roomtone w_Dripping Faucet.wav", 1.6, seed=4)
    # evaluation -> test
    _write(root / "clotho_captions_evaluation.csv", CAPTIONS_HEADER,
           [["Thunder over the lake.wav", *THUNDER]], "utf-8")
    _write(root / "clotho_metadata_evaluation.csv", METADATA_HEADER,
           [_meta("Thunder over the lake.wav", "thunder;storm;lake", "360328", "InspectorJ")], "iso-8859-1")
    write_audio(root / "evaluation" / "Thunder over the lake.wav", 1.4, seed=5)
    return {
        "summary": {
            "total": {"clips": 6, "clips_missing_audio": 1, "clips_unreadable_audio": 0, "clips_without_caption": 0,
                      "clips_written": 5, "captions_total": 30, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 5, "captions_clean": 23, "captions_derived": 4},
            "splits": {
                "train": {"clips": 4, "clips_missing_audio": 1, "clips_written": 3, "captions_total": 20,
                          "captions_empty": 1, "captions_duplicate": 1, "captions_on_missing_audio": 5,
                          "captions_clean": 13, "captions_derived": 2},
                "valid": {"clips": 1, "clips_written": 1, "captions_total": 5, "captions_clean": 5,
                          "captions_derived": 1},
                "test": {"clips": 1, "clips_written": 1, "captions_total": 5, "captions_clean": 5,
                         "captions_derived": 1},
            },
        },
        "ids": {
            "train": ["clotho_Radio Garble", "clotho_birds, rain & wind (2)", "clotho_Door.Knock 01"],
            "valid": ["clotho_Kitchen Roomtone w: Dripping Faucet"],
            "test": ["clotho_Thunder over the lake"],
        },
        "origins": {
            "clotho_Radio Garble": "freesound:80399",
            "clotho_birds, rain & wind (2)": "freesound:12345",
            "clotho_Door.Knock 01": "clotho:Door.Knock 01",
            "clotho_Kitchen Roomtone w: Dripping Faucet": "clotho:Kitchen Roomtone w: Dripping Faucet",
            "clotho_Thunder over the lake": "freesound:360328",
        },
        "captions": {
            "clotho_Radio Garble": [(c, "human") for c in RADIO] + [("garbled-radio, police, radio, café", "tags")],
            "clotho_birds, rain & wind (2)": [
                ("Birds sing while rain falls on leaves.", "human"),
                ("Wind blows through trees as birds chirp, and rain patters.", "human"),
                ("Rain and wind with birds calling in the distance.", "human"),
                ("birds, rain, wind", "tags"),
            ],
            "clotho_Door.Knock 01": [(c, "human") for c in DOOR],
        },
    }
