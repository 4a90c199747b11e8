"""Auto-ACD layout: train.csv and test.csv with columns youtube_id, caption; VGGSound ids
<ytid>_<start:06d> and AudioSet ids Y<ytid> (start from the AudioSet segment lists)."""
from __future__ import annotations

import csv
from pathlib import Path

from tests.corpus_fixtures import write_audio
from tests.corpus_fixtures.audiosetcaps import write_segment_lists

PREAMBLE = 'The audio caption for the given information could be: "A car engine idles, then revs twice."'
TRAIN_ROWS = [
    ["oPRC3zComfA_000117", "Electronic music plays as a person skillfully spins, with a crowd cheering."],
    ["YmAJAqzo-Y_Y", "A woman talks quietly in a small room, while a fan hums."],  # AudioSet; '_' and '-' in the id
    ["cArEnGiNe01_000010", PREAMBLE],  # kept as distributed
    ["TbDp9hcY-pc_000030", "A dog loudly barks and scratches at a door."],
    ["TbDp9hcY-pc_000030", " A dog loudly barks and scratches at a door."],  # the same clip, a duplicate caption
    ["eMpTyAcD001_000000", ""],  # an empty caption
    ["mIsSiNgAcD1_000050", "Gunshots ring out as a metallic clang echoes."],  # no audio downloaded
    ["YTbDp9hcY-pc", "A dog barks at a rolling ball outdoors."],  # the same segment named by its AudioSet id
]
TEST_ROWS = [
    ["tEsTaCd0001_000020", "A train horn blares as the train passes a crossing."],
    ["tEsTaCd0002_000000", "Waves crash against rocks, and seagulls call."],
]
SEGMENT_LISTS = {
    "balanced_train_segments.csv": [("mAJAqzo-Y_Y", 30, "/m/09x0r,/m/02x984l")],
    "unbalanced_train_segments.csv": [("TbDp9hcY-pc", 30, "/m/0bt9lr,/m/05tny_")],
    "eval_segments.csv": [("--4gqARaEJE", 0, "/m/068hy")],
}


def _write(path: Path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["youtube_id", "caption"])
        writer.writerows(rows)


def build(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    _write(root / "train.csv", TRAIN_ROWS)
    _write(root / "test.csv", TEST_ROWS)
    write_segment_lists(root, SEGMENT_LISTS)
    audio = root / "audio"
    write_audio(audio / "vggsound" / "oPRC3zComfA_000117.flac", 1.4, seed=51)  # VGGSound naming
    write_audio(audio / "audioset" / "YmAJAqzo-Y_Y.wav", 1.6, seed=52)  # PANNs naming
    write_audio(audio / "vggsound" / "cArEnGiNe01_000010.wav", 1.2, seed=53)
    write_audio(audio / "vggsound" / "TbDp9hcY-pc_000030.wav", 1.1, seed=54)
    write_audio(audio / "vggsound" / "eMpTyAcD001_000000.wav", 1.0, seed=55)
    write_audio(audio / "test" / "tEsTaCd0001_000020.wav", 1.3, seed=56)
    write_audio(audio / "test" / "YtEsTaCd0002_0.000_10.000.wav", 1.5, seed=57)  # the AudioSet download form
    return {
        "summary": {
            "total": {"clips": 8, "clips_missing_audio": 1, "clips_unreadable_audio": 0, "clips_without_caption": 1,
                      "clips_written": 6, "captions_total": 10, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 1, "captions_clean": 7, "captions_derived": 0},
            "splits": {
                "train": {"clips": 6, "clips_missing_audio": 1, "clips_without_caption": 1, "clips_written": 4,
                          "captions_total": 8, "captions_empty": 1, "captions_duplicate": 1,
                          "captions_on_missing_audio": 1, "captions_clean": 5},
                "test": {"clips": 2, "clips_missing_audio": 0, "clips_written": 2, "captions_total": 2,
                         "captions_clean": 2},
            },
        },
        "ids": {
            # the clip named on three rows (two ids) is merged and comes after the others
            "train": ["auto_acd_oPRC3zComfA_117000", "auto_acd_mAJAqzo-Y_Y_30000", "auto_acd_cArEnGiNe01_10000",
                      "auto_acd_TbDp9hcY-pc_30000"],
            "test": ["auto_acd_tEsTaCd0001_20000", "auto_acd_tEsTaCd0002_0"],
        },
        "origins": {"auto_acd_mAJAqzo-Y_Y_30000": "yt:mAJAqzo-Y_Y:30000",
                    "auto_acd_TbDp9hcY-pc_30000": "yt:TbDp9hcY-pc:30000",
                    "auto_acd_tEsTaCd0001_20000": "yt:tEsTaCd0001:20000"},
        "captions": {
            "auto_acd_TbDp9hcY-pc_30000": [("A dog loudly barks and scratches at a door.", "llm"),
                                           ("A dog barks at a rolling ball outdoors.", "llm")],
            "auto_acd_cArEnGiNe01_10000": [(PREAMBLE, "llm")],
        },
    }
