"""JamendoMaxCaps layout: final_caption30sec.jsonl (one line per 30-s segment caption), date-named
metadata JSONL (not read), and the audio written out of the parquet shards as mp3_files/<id>.mp3.

The real audio is MP3; here it is WAV/FLAC of the same stem, which is all the lookup uses. One
track sits in the MTG-Jamendo layout (``17/<id>.low.flac``). Audio is searched in the corpus root
(no --audio-dir).
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.corpus_fixtures import write_audio, write_corrupt

CALM = "A calm ambient piece with soft synth pads and a slow, steady pulse."
PIANO = "Gentle piano joins the pads, adding a warm, hopeful melody."
UPBEAT = 'An upbeat electronic track with punchy drums, a bright "lead" synth, and a driving bassline.'


def build(root: Path) -> dict:
    """Segments are 2 s here (30 s in the release) so the fixture's audio stays small."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        {"id": "1990389", "caption": CALM, "start_time": 0.0, "end_time": 2.0},
        {"id": "1990389", "caption": PIANO, "start_time": 2.0, "end_time": 4.0},
        {"id": 245017, "caption": UPBEAT, "start_time": 0, "end_time": 2},  # id written as a number
        {"id": "245017", "caption": "", "start_time": 2.0, "end_time": 4.0},  # empty caption
        {"id": "1990389", "caption": f"  {CALM} ", "start_time": 4.0, "end_time": 6.0},  # same text, other segment
        {"id": "777001", "caption": "A folk tune with acoustic guitar, fiddle and hand percussion.",
         "start_time": 0.0, "end_time": 2.0},  # no audio
        None,  # a blank line
        {"id": "880088", "caption": "A heavy rock riff with distorted guitars and pounding drums.",
         "start_time": 0.0, "end_time": 2.0},  # corrupt audio
        {"id": "880088", "caption": "The riff returns, louder, with a screaming guitar solo.",
         "start_time": 2.0, "end_time": 4.0},
        # a later line of the second segment (not adjacent), the same text as its caption
        {"id": "1990389", "caption": f" {PIANO} ", "start_time": 2.0, "end_time": 4.0},
        {"id": "1990389", "caption": "A segment past the end of the file.", "start_time": 10.0, "end_time": 12.0},
    ]
    with open(root / "final_caption30sec.jsonl", "w", encoding="utf-8") as f:
        for line in lines:
            f.write((json.dumps(line) if line is not None else "") + "\n")
    # Jamendo API metadata by release date: part of the release, not captions
    with open(root / "2008-01-01.jsonl", "w", encoding="utf-8") as f:
        meta = {"id": "1990389", "name": "Calm", "duration": 90, "musicinfo": {"tags": {"genres": ["ambient"]}}}
        f.write(json.dumps(meta) + "\n")
    write_audio(root / "mp3_files" / "1990389.wav", 6.0, seed=11)
    write_audio(root / "mtg" / "17" / "245017.low.flac", 4.0, seed=12)
    write_corrupt(root / "mp3_files" / "880088.wav")
    return {
        "summary": {
            "total": {"clips": 9, "clips_missing_audio": 4, "clips_unreadable_audio": 3, "clips_without_caption": 1,
                      "clips_written": 4, "captions_total": 10, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 4, "captions_clean": 4, "captions_derived": 0},
            "splits": {
                "train": {"clips": 9, "clips_written": 4, "captions_total": 10, "captions_clean": 4},
            },
        },
        "ids": {"train": ["jamendomaxcaps_1990389_0", "jamendomaxcaps_1990389_2000", "jamendomaxcaps_245017_0",
                          "jamendomaxcaps_1990389_4000"]},
        "origins": {"jamendomaxcaps_1990389_0": "jamendo:1990389:0",
                    "jamendomaxcaps_1990389_4000": "jamendo:1990389:4000",
                    "jamendomaxcaps_245017_0": "jamendo:245017:0"},
        "captions": {
            "jamendomaxcaps_1990389_0": [(CALM, "llm")],
            "jamendomaxcaps_1990389_2000": [(PIANO, "llm")],
            "jamendomaxcaps_1990389_4000": [(CALM, "llm")],
        },
    }
