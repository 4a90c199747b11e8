"""MusicCaps layout: musiccaps-public.csv (one row per clip, aspect_list a Python list literal,
booleans True/False); audio downloaded under the names MusicCaps scripts use."""
from __future__ import annotations

import csv
from pathlib import Path

from tests.corpus_fixtures import write_audio

HEADER = ["ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list", "caption", "author_id",
          "is_balanced_subset", "is_audioset_eval"]
STRINGS = "A string ensemble plays a sustained melody, and the recording is noisy."
POP = "A female singer performs an upbeat pop song over synths and drums."


def build(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    audio = root / "audio"
    rows = [
        # train; the clip another corpus's fixture shares (origin yt:MuSiCsHaRe1:0); a quoted comma
        ["MuSiCsHaRe1", 0, 10, "/m/0l14jd,/m/04rlf", "['low quality', 'sustained strings melody']", STRINGS, 4,
         True, False],
        # train; empty caption and empty aspect list: a clip with audio but nothing to say
        ["tRaInMuSiC2", 30, 40, "/m/04rlf", "[]", "", 7, False, False],
        # test (AudioSet eval); an aspect with an apostrophe, so the literal mixes quote styles
        ["eVaLmUsIc03", 120, 130, "/m/064t9,/m/04rlf", "['pop', \"singer's voice\", 'fast tempo']", POP, 2,
         True, True],
        # test; no audio downloaded
        ["mIsSiNgMuS4", 15, 25, "/m/04rlf", "['rock', 'distorted guitar']", "A distorted guitar riff repeats.", 1,
         False, True],
        # train; the same clip on two rows, the caption repeated (a duplicate after strip), the same aspects
        ["dUpLiCaTe05", 50, 60, "/m/05r5c", "['piano', 'waltz']", "A piano plays a gentle waltz.", 3, False, False],
        ["dUpLiCaTe05", 50, 60, "/m/05r5c", "['piano', 'waltz']", " A piano plays a gentle waltz. ", 5, False, False],
    ]
    with open(root / "musiccaps-public.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    write_audio(audio / "MuSiCsHaRe1.wav", 2.0, seed=11)  # the Hugging Face card script: <ytid>.wav
    write_audio(audio / "[tRaInMuSiC2]-[30-40].wav", 1.5, seed=12)  # audioset-downloader scripts
    write_audio(audio / "eval" / "YeVaLmUsIc03_120.000_130.000.wav", 1.8, seed=13)  # the AudioSet form
    write_audio(audio / "dUpLiCaTe05_50.wav", 1.2, seed=14)
    return {
        "summary": {
            "total": {"clips": 5, "clips_missing_audio": 1, "clips_unreadable_audio": 0, "clips_without_caption": 1,
                      "clips_written": 3, "captions_total": 6, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 1, "captions_clean": 3, "captions_derived": 3},
            "splits": {
                "train": {"clips": 3, "clips_missing_audio": 0, "clips_without_caption": 1, "clips_written": 2,
                          "captions_total": 4, "captions_empty": 1, "captions_duplicate": 1,
                          "captions_on_missing_audio": 0, "captions_clean": 2, "captions_derived": 2},
                "test": {"clips": 2, "clips_missing_audio": 1, "clips_written": 1, "captions_total": 2,
                         "captions_on_missing_audio": 1, "captions_clean": 1, "captions_derived": 1},
            },
        },
        "ids": {
            "train": ["musiccaps_MuSiCsHaRe1_0", "musiccaps_dUpLiCaTe05_50000"],
            "test": ["musiccaps_eVaLmUsIc03_120000"],
        },
        "origins": {
            "musiccaps_MuSiCsHaRe1_0": "yt:MuSiCsHaRe1:0",
            "musiccaps_eVaLmUsIc03_120000": "yt:eVaLmUsIc03:120000",
        },
        "captions": {
            "musiccaps_MuSiCsHaRe1_0": [(STRINGS, "human"), ("low quality, sustained strings melody", "tags")],
            "musiccaps_eVaLmUsIc03_120000": [(POP, "human"), ("pop, singer's voice, fast tempo", "tags")],
            "musiccaps_dUpLiCaTe05_50000": [("A piano plays a gentle waltz.", "human"), ("piano, waltz", "tags")],
        },
    }
