"""AudioCaps layout: train.csv / val.csv / test.csv, one row per caption; audio downloaded as Y<ytid>.wav."""
from __future__ import annotations

import csv
from pathlib import Path

from tests.corpus_fixtures import write_audio, write_corrupt

HEADER = ["audiocap_id", "youtube_id", "start_time", "caption"]


def _write(path: Path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)


def build(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    audio = root / "audio"
    # train: one caption per clip; a quoted comma, an empty caption, a clip without audio,
    # a clip whose file is corrupt, and the clip shared with AudioSet-derived corpora (origin yt:AsEtShArEd1:30000)
    _write(root / "train.csv", [
        [91139, "r1nicOVtvkQ", 130, "A woman talks nearby, then a dog barks"],
        [58146, "UDGBjjwyaqE", 20, "Birds chirp, and a car passes by"],
        [11542, "8xBnJsZ6A2c", 0, "   "],
        [1000, "AsEtShArEd1", 30, "Rain falls on a metal roof"],
        [1001, "MiSsInGaUd1", 10, "Wind blows across a microphone"],
        [1002, "CoRrUpTaUd1", 40, "An engine idles"],
    ])
    write_audio(audio / "train" / "Yr1nicOVtvkQ.wav", 2.0, seed=1)
    write_audio(audio / "train" / "YUDGBjjwyaqE_20.000_30.000.wav", 1.5, seed=2)  # AudioSet naming
    write_audio(audio / "train" / "8xBnJsZ6A2c_20.wav", 1.2, seed=3)  # a wrong start: not this clip
    write_audio(audio / "train" / "8xBnJsZ6A2c_0.wav", 1.2, seed=3)
    write_audio(audio / "train" / "AsEtShArEd1.wav", 1.8, seed=4)
    write_corrupt(audio / "train" / "YCoRrUpTaUd1.wav")
    # val: five captions per clip; one duplicate (after strip) and one empty
    _write(root / "val.csv", [
        [97151, "rqfQRErjfk8", 170, "A crowd cheers"],
        [97152, "rqfQRErjfk8", 170, "People applaud, and a man whistles"],
        [97153, "rqfQRErjfk8", 170, " A crowd cheers "],
        [97154, "rqfQRErjfk8", 170, ""],
        [97155, "rqfQRErjfk8", 170, "A large group of people clap"],
    ])
    write_audio(audio / "val" / "97151.wav", 1.6, seed=5)  # named by audiocap_id
    _write(root / "test.csv", [[i, "tEsTcLiP001", 60, f"A vehicle horn honks, take {i}"] for i in range(5)])
    write_audio(audio / "test" / "tEsTcLiP001_60.wav", 1.4, seed=6)
    return {
        "summary": {
            "total": {"clips": 8, "clips_missing_audio": 2, "clips_unreadable_audio": 1, "clips_without_caption": 1,
                      "clips_written": 5, "captions_total": 16, "captions_empty": 2, "captions_duplicate": 1,
                      "captions_on_missing_audio": 2, "captions_clean": 11, "captions_derived": 0},
            "splits": {
                "train": {"clips": 6, "clips_missing_audio": 2, "captions_total": 6, "captions_empty": 1,
                          "captions_duplicate": 0, "captions_on_missing_audio": 2, "captions_clean": 3},
                "valid": {"clips": 1, "captions_total": 5, "captions_empty": 1, "captions_duplicate": 1,
                          "captions_clean": 3},
                "test": {"clips": 1, "captions_total": 5, "captions_clean": 5},
            },
        },
        "ids": {
            "train": ["audiocaps_r1nicOVtvkQ_130000", "audiocaps_UDGBjjwyaqE_20000", "audiocaps_AsEtShArEd1_30000"],
            "valid": ["audiocaps_rqfQRErjfk8_170000"],
            "test": ["audiocaps_tEsTcLiP001_60000"],
        },
        "origins": {"audiocaps_AsEtShArEd1_30000": "yt:AsEtShArEd1:30000"},
    }
