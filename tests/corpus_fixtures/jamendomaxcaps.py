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
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        {"id": "1990389", "caption": CALM, "start_time": 0.0, "end_time": 30.0},
        {"id": "1990389", "caption": PIANO, "start_time": 30.0, "end_time": 60.0},
        {"id": 245017, "caption": UPBEAT, "start_time": 0, "end_time": 30},  # id written as a number
        {"id": "245017", "caption": "", "start_time": 30.0, "end_time": 60.0},  # empty caption
        # a later line of the first track (not adjacent), the same text as its first caption
        {"id": "1990389", "caption": f"  {CALM} ", "start_time": 60.0, "end_time": 90.0},
        {"id": "777001", "caption": "A folk tune with acoustic guitar, fiddle and hand percussion.",
         "start_time": 0.0, "end_time": 30.0},  # no audio
        None,  # a blank line
        {"id": "880088", "caption": "A heavy rock riff with distorted guitars and pounding drums.",
         "start_time": 0.0, "end_time": 30.0},  # corrupt audio
        {"id": "880088", "caption": "The riff returns, louder, with a screaming guitar solo.",
         "start_time": 30.0, "end_time": 54.2},
    ]
    with open(root / "final_caption30sec.jsonl", "w", encoding="utf-8") as f:
        for line in lines:
            f.write((json.dumps(line) if line is not None else "") + "\n")
    # Jamendo API metadata by release date: part of the release, not captions
    with open(root / "2008-01-01.jsonl", "w", encoding="utf-8") as f:
        meta = {"id": "1990389", "name": "Calm", "duration": 90, "musicinfo": {"tags": {"genres": ["ambient"]}}}
        f.write(json.dumps(meta) + "\n")
    write_audio(root / "mp3_files" / "1990389.wav", 2.0, seed=11)
    write_audio(root / "mtg" / "17" / "245017.low.flac", 1.5, seed=12)
    write_corrupt(root / "mp3_files" / "880088.wav")
    return {
        "summary": {
            "total": {"clips": 4, "clips_missing_audio": 2, "clips_unreadable_audio": 1, "clips_without_caption": 0,
                      "clips_written": 2, "captions_total": 8, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 3, "captions_clean": 3, "captions_derived": 0},
            "splits": {
                "train": {"clips": 4, "clips_written": 2, "captions_total": 8, "captions_clean": 3},
            },
        },
        "ids": {"train": ["jamendomaxcaps_1990389", "jamendomaxcaps_245017"]},
        "origins": {"jamendomaxcaps_1990389": "jamendo:1990389", "jamendomaxcaps_245017": "jamendo:245017"},
        "captions": {
            "jamendomaxcaps_1990389": [(CALM, "llm"), (PIANO, "llm")],
            "jamendomaxcaps_245017": [(UPBEAT, "llm")],
        },
    }
