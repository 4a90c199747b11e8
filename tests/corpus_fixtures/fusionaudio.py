"""FusionAudio layout: a JSON list of {audio_id, instruction, input, dataset, task, output} entries,
captions (task "Captioning questions") and QA pairs mixed; audio_id a path named by the YouTube id;
the AudioSet segment lists give the starts."""
from __future__ import annotations

import json
from pathlib import Path

from tests.corpus_fixtures import write_audio
from tests.corpus_fixtures.audiosetcaps import write_segment_lists

AUDIO_ROOT = "/wangbenyou/xinyuan/FusionAudio/audioset"
SHARED = ("Steady rain patters on a metal roof while thunder rumbles far away, suggesting an outdoor "
          "shelter during a storm; no speech or music is present.")


def entry(name: str, task: str, output, instruction: str = "Please describe the audio in detail.") -> dict:
    return {"audio_id": f"{AUDIO_ROOT}/{name}.wav", "instruction": instruction, "input": "", "dataset": "audioset",
            "task": task, "output": output}


ENTRIES = [
    entry("AsEtShArEd1", "Captioning questions", SHARED),  # the clip AudioCaps and AudioSetCaps share
    entry("AsEtShArEd1", "Open-ended questions", "A metal roof.", "What surface is the rain hitting?"),
    entry("fUsIoNdUp01", "Captioning questions", "A vacuum cleaner drones, then switches off."),
    entry("Q-r_S-t_U2v", "Captioning questions", "A choir sings, accompanied by an organ, in a reverberant hall."),
    entry("fUsIoNdUp01", "Open-ended questions", "A vacuum cleaner.", "Which appliance is running?"),
    entry("fUsIoNdUp01", "Captioning questions", " A vacuum cleaner drones, then switches off. "),  # a duplicate
    entry("fUsIoNeMp01", "Captioning questions", ""),  # an empty caption
    entry("fUsIoNmIs01", "Captioning questions", "A kettle whistles as water boils."),  # no audio downloaded
    entry("fUsIoNmIs01", "Open-ended questions", "Yes.", "Is water boiling?"),
]
SEGMENT_LISTS = {
    "balanced_train_segments.csv": [("AsEtShArEd1", 30, "/m/06mb1,/m/0jb2l")],
    "unbalanced_train_segments.csv": [("Q-r_S-t_U2v", 250, "/m/0l14jd,/m/013y1f"), ("fUsIoNdUp01", 0, "/m/0d31p"),
                                      ("fUsIoNeMp01", 10, "/m/028v0c")],
    "eval_segments.csv": [("fUsIoNmIs01", 20, "/m/03q5_w")],
}


def build(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "FusionAudio-1.2M.json", "w", encoding="utf-8") as f:
        json.dump(ENTRIES, f, indent=1, ensure_ascii=False)
    write_segment_lists(root, SEGMENT_LISTS)
    audio = root / "audio"
    write_audio(audio / "AsEtShArEd1.wav", 1.8, seed=41)  # the download script's <ytid> naming
    write_audio(audio / "unbalanced" / "YQ-r_S-t_U2v_250.000_260.000.flac", 1.5, seed=42)  # the AudioSet form
    write_audio(audio / "fUsIoNdUp01.wav", 1.2, seed=43)
    write_audio(audio / "fUsIoNeMp01.wav", 1.0, seed=44)
    return {
        "summary": {
            "total": {"clips": 5, "clips_missing_audio": 1, "clips_unreadable_audio": 0, "clips_without_caption": 1,
                      "clips_written": 3, "captions_total": 6, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 1, "captions_clean": 3, "captions_derived": 0},
            "splits": {"train": {"clips": 5, "clips_missing_audio": 1, "clips_without_caption": 1, "clips_written": 3,
                                 "captions_total": 6, "captions_empty": 1, "captions_duplicate": 1,
                                 "captions_on_missing_audio": 1, "captions_clean": 3}},
        },
        "ids": {"train": ["fusionaudio_AsEtShArEd1_30000", "fusionaudio_Q-r_S-t_U2v_250000",
                          "fusionaudio_fUsIoNdUp01_0"]},
        "origins": {"fusionaudio_AsEtShArEd1_30000": "yt:AsEtShArEd1:30000",
                    "fusionaudio_Q-r_S-t_U2v_250000": "yt:Q-r_S-t_U2v:250000"},
        "captions": {"fusionaudio_AsEtShArEd1_30000": [(SHARED, "llm")],
                     "fusionaudio_fUsIoNdUp01_0": [("A vacuum cleaner drones, then switches off.", "llm")]},
    }
