"""AudioSetCaps layout: Dataset/<part>_caption.csv from Hugging Face (columns id, caption), the
CaptionStew VGGSound .filtered.csv in the root, and the AudioSet segment lists that give the
start of the AudioSet ids (Y<ytid>, no start)."""
from __future__ import annotations

import csv
from pathlib import Path

from tests.corpus_fixtures import write_audio

SEGMENTS_HEADER = ("# Segments csv created Sun Mar  5 10:54:31 2017\n"
                   "# num_ytids={n}, num_segs={n}, num_unique_labels=5, num_positive_labels={n}\n"
                   "# YTID, start_seconds, end_seconds, positive_labels\n")


def write_segment_lists(root: Path, lists: dict) -> None:
    """AudioSet's balanced/unbalanced/eval segment lists: {file name: [(ytid, start, labels), ...]}."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("balanced_train_segments.csv", "unbalanced_train_segments.csv", "eval_segments.csv"):
        rows = lists.get(name, [])
        with open(root / name, "w", encoding="utf-8") as f:
            f.write(SEGMENTS_HEADER.format(n=len(rows)))
            for youtube_id, start, labels in rows:
                f.write(f'{youtube_id}, {start:.3f}, {start + 10:.3f}, "{labels}"\n')


def write_captions(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "caption"])
        writer.writerows(rows)


AUDIOSET_ROWS = [
    ["YAsEtShArEd1", "Rain patters on a metal roof, and thunder rumbles in the distance."],  # the clip AudioCaps shares
    ["YdUpAsEt_x12", "Water runs from a tap into a sink."],
    ["Y-a_b-C_d3Ef", "A man speaks, then a door slams, and a dog barks."],  # '_' and '-' inside the YouTube id
    ["YeMpTyCaPt01", "   "],  # an empty caption: the clip has audio but nothing to say
    ["YdUpAsEt_x12", "  Water runs from a tap into a sink. "],  # the same clip again, the same text: a duplicate
    ["YmIsSiNgAs01", "Birds chirp over a distant lawn mower."],  # no audio downloaded
]
VGGSOUND_FILTERED_ROWS = [
    ["x_Y-z_W-8k2_000030", "An engine revs, and tyres screech on asphalt."],
    ["OxPnZzn1_L8_000883", "A crowd cheers as a ball is kicked."],
]
# the original also holds a clip of an evaluation set, which the filtered copy leaves out
VGGSOUND_ROWS = [VGGSOUND_FILTERED_ROWS[0], ["eVaLoVeRlAp_000010", "A cat meows twice."], VGGSOUND_FILTERED_ROWS[1]]
YOUTUBE8M_ROWS = [
    ["_7Xe9vD3Hpg_4_10", "A solemn cello melody plays while a bell tolls."],  # the card's example ids
    ["-TL8Mp3xcUM_0_10", "A woman speaks in a high-pitched, emotional voice."],
    ["9eUrEyAR3xk_84_10", 'A narrator says "welcome", then music starts.'],
]
SEGMENT_LISTS = {
    "balanced_train_segments.csv": [("AsEtShArEd1", 30, "/m/06mb1,/m/0jb2l"),
                                    ("-a_b-C_d3Ef", 120, "/m/09x0r,/m/0bt9lr")],
    "unbalanced_train_segments.csv": [("dUpAsEt_x12", 40, "/m/0838f"), ("eMpTyCaPt01", 0, "/m/028v0c"),
                                      ("OtHeRvIdEo1", 10, "/m/04rlf")],
    "eval_segments.csv": [("mIsSiNgAs01", 0, "/m/015p6,/m/01yg9g")],
}


def build(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    write_captions(root / "Dataset" / "AudioSetCaps_caption.csv", AUDIOSET_ROWS)
    write_captions(root / "Dataset" / "VGGSound_AudioSetCaps_caption.csv", VGGSOUND_ROWS)
    write_captions(root / "Dataset" / "YouTube-8M_AudioSetCaps_caption.csv", YOUTUBE8M_ROWS)
    write_captions(root / "VGGSound_AudioSetCaps_caption.filtered.csv", VGGSOUND_FILTERED_ROWS)
    write_segment_lists(root, SEGMENT_LISTS)
    audio = root / "audio"
    write_audio(audio / "audioset" / "YAsEtShArEd1.wav", 1.8, seed=21)  # PANNs naming
    write_audio(audio / "audioset" / "YdUpAsEt_x12.flac", 1.2, seed=22)
    write_audio(audio / "audioset" / "Y-a_b-C_d3Ef_120.000_130.000.wav", 1.5, seed=23)  # the AudioSet download form
    write_audio(audio / "audioset" / "YeMpTyCaPt01.wav", 1.0, seed=24)
    write_audio(audio / "vggsound" / "x_Y-z_W-8k2_000030.flac", 1.4, seed=25)
    write_audio(audio / "vggsound" / "OxPnZzn1_L8_000883.wav", 1.1, seed=26)
    write_audio(audio / "vggsound" / "eVaLoVeRlAp_000010.wav", 1.1, seed=27)
    write_audio(audio / "youtube8m" / "batch1" / "Cello" / "_7Xe9vD3Hpg_4_10.flac", 1.3, seed=28)
    write_audio(audio / "youtube8m" / "batch2" / "Speech" / "-TL8Mp3xcUM_0_10.wav", 1.6, seed=29)
    write_audio(audio / "youtube8m" / "batch2" / "Speech" / "9eUrEyAR3xk_84_10.wav", 1.2, seed=30)
    return {
        "summary": {
            "total": {"clips": 10, "clips_missing_audio": 1, "clips_unreadable_audio": 0, "clips_without_caption": 1,
                      "clips_written": 8, "captions_total": 11, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 1, "captions_clean": 8, "captions_derived": 0},
            "splits": {"train": {"clips": 10, "clips_missing_audio": 1, "clips_without_caption": 1, "clips_written": 8,
                                 "captions_total": 11, "captions_empty": 1, "captions_duplicate": 1,
                                 "captions_on_missing_audio": 1, "captions_clean": 8}},
        },
        "ids": {"train": [
            "audiosetcaps_audioset_AsEtShArEd1_30000", "audiosetcaps_audioset_-a_b-C_d3Ef_120000",
            "audiosetcaps_audioset_dUpAsEt_x12_40000",  # rows of a repeated clip are merged and come last
            "audiosetcaps_vggsound_x_Y-z_W-8k2_30000", "audiosetcaps_vggsound_OxPnZzn1_L8_883000",
            "audiosetcaps_youtube8m__7Xe9vD3Hpg_4000", "audiosetcaps_youtube8m_-TL8Mp3xcUM_0",
            "audiosetcaps_youtube8m_9eUrEyAR3xk_84000",
        ]},
        "origins": {
            "audiosetcaps_audioset_AsEtShArEd1_30000": "yt:AsEtShArEd1:30000",
            "audiosetcaps_audioset_-a_b-C_d3Ef_120000": "yt:-a_b-C_d3Ef:120000",
            "audiosetcaps_vggsound_x_Y-z_W-8k2_30000": "yt:x_Y-z_W-8k2:30000",
            "audiosetcaps_youtube8m__7Xe9vD3Hpg_4000": "yt:_7Xe9vD3Hpg:4000",
        },
        "captions": {
            "audiosetcaps_audioset_dUpAsEt_x12_40000": [("Water runs from a tap into a sink.", "llm")],
            "audiosetcaps_audioset_-a_b-C_d3Ef_120000": [("A man speaks, then a door slams, and a dog barks.", "llm")],
            "audiosetcaps_youtube8m_9eUrEyAR3xk_84000": [('A narrator says "welcome", then music starts.', "llm")],
        },
    }
