"""AudioSet layout: Google's three segment lists (three ``#`` header lines, then ``YTID,
start_seconds, end_seconds, "mid,mid"``) and class_labels_indices.csv (here in ``metadata/``, as
PANNs keeps it); audio under the names download tools use."""
from __future__ import annotations

from pathlib import Path

from tests.corpus_fixtures import write_audio

HEADER = ("# Segments csv created Sun Mar  5 10:54:31 2017\n"
          "# num_ytids=3, num_segs=3, num_unique_labels=3, num_positive_labels=5\n"
          "# YTID, start_seconds, end_seconds, positive_labels\n")
CLASSES = ('index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/05zppz,"Male speech, man speaking"\n'
           '2,/m/04rlf,"Music"\n3,/m/0342h,"Guitar"\n')


def build(root: Path) -> dict:
    (root / "metadata").mkdir(parents=True)
    (root / "metadata" / "class_labels_indices.csv").write_text(CLASSES)
    (root / "balanced_train_segments.csv").write_text(
        HEADER + '--0w1YA1Hm4, 30.000, 40.000, "/m/09x0r,/m/05zppz"\n'
                 'MuSiCsHaRe1, 0.000, 10.000, "/m/04rlf,/m/0zzzzz"\n'  # one unknown MID; the clip MusicCaps shares
                 'a_b-c_D-e_F, 20.000, 30.000, "/t/dd99999"\n')  # only an unknown MID: no label left
    (root / "unbalanced_train_segments.csv").write_text(HEADER + '--aE2O5G5WE, 0.000, 10.000, "/m/0342h"\n')
    (root / "eval_segments.csv").write_text(
        HEADER + '-1nilez17Dg, 30.000, 40.000, "/m/04rlf,/m/0342h"\n'
                 'YmAJAqzo-Y_, 5.000, 15.000, "/m/09x0r"\n')  # no audio downloaded
    audios = root / "audios"
    write_audio(audios / "balanced_train_segments" / "Y--0w1YA1Hm4_30.000_40.000.wav", 1.2, seed=31)
    write_audio(audios / "balanced_train_segments" / "YMuSiCsHaRe1.wav", 1.2, seed=32)  # the PANNs name
    write_audio(audios / "balanced_train_segments" / "Ya_b-c_D-e_F_20.000_30.000.wav", 1.2, seed=33)
    write_audio(audios / "unbalanced" / "--aE2O5G5WE_0.wav", 1.2, seed=34)
    write_audio(audios / "eval_segments" / "-1nilez17Dg_30.000_40.000.wav", 1.2, seed=35)
    return {
        "subsets": ["all"],
        "summary": {
            "total": {"clips": 6, "clips_missing_audio": 1, "clips_without_caption": 1, "clips_written": 4,
                      "captions_total": 0, "captions_derived": 4},
            "splits": {
                "train": {"clips": 4, "clips_missing_audio": 0, "clips_without_caption": 1, "clips_written": 3},
                "test": {"clips": 2, "clips_missing_audio": 1, "clips_written": 1},
            },
        },
        "ids": {
            "train": ["audioset_--0w1YA1Hm4_30000", "audioset_MuSiCsHaRe1_0", "audioset_--aE2O5G5WE_0"],
            "test": ["audioset_-1nilez17Dg_30000"],
        },
        "origins": {"audioset_--0w1YA1Hm4_30000": "yt:--0w1YA1Hm4:30000", "audioset_MuSiCsHaRe1_0": "yt:MuSiCsHaRe1:0"},
        "captions": {
            "audioset_--0w1YA1Hm4_30000": [("Speech, Male speech, man speaking", "tags")],
            "audioset_MuSiCsHaRe1_0": [("Music", "tags")],
            "audioset_-1nilez17Dg_30000": [("Music, Guitar", "tags")],
        },
    }
