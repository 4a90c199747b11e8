"""SpeechCraft layout (assumed; see the module docstring): EN/ Description JSON files per source corpus,
an Instruction file beside them (not read), a ZH file (not a default subset), and the source corpora's
audio under audio/ (LibriTTS-R <speaker>/<chapter>/<id>.wav, GigaSpeech per-segment files).

The LibriTTS-R file is an object of records with structured fields; the GigaSpeech file has the
annotation pipeline's output form (``labels`` tab-separated with the transcription, the description
under ``llama-instruction``). Planted: an empty description, a duplicate within a record's list,
missing audio, a corrupt file.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.corpus_fixtures import write_audio, write_corrupt


def libritts_record(description, transcript, **labels):
    record = {"description": description, "transcript": transcript, "pitch": "normal", "energy": "normal",
              "speed": "normal", "age": "Youth adult", "gender": "Female", "emotion": "Neutral", "emphasis": []}
    record.update(labels)
    return record


def pipeline_record(description, transcript, **labels):
    fields = {"age": "Youth adult", "gender": "male", "pitch": "normal", "volume": "high", "speed": "fast",
              "emotion": "happy"}
    fields.update(labels)
    text = "\t".join(f"{k}:{v}" for k, v in fields.items()) + f"\ttranscription: {transcript}"
    return {"labels": text, "llama-instruction": description}


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")


def build(root: Path) -> dict:
    write_json(root / "EN" / "LibriTTS-R_description.json", {
        "19_198_000000_000000": libritts_record(
            "Entertaining us with her storytelling, a youthful woman with a normal pitch reads \"calmly\", "
            "at an even pace.", "Chapter one. It was a dark night.", speed="slow"),
        "19_198_000000_000001": libritts_record("   ", "It was late."),
        "103_1240_000000_000001": libritts_record(
            ["A man’s low, fast voice rings out with excitement.",
             " A man’s low, fast voice rings out with excitement."],
            "Run, now!", gender="Male", pitch="low", speed="fast", emotion="Happy"),
        "1034_121119_000001_000000": libritts_record("An elderly man speaks slowly and sadly.", "Long ago.",
                                                     age="Elderly", gender="Male", emotion="Sad"),
    })
    write_json(root / "EN" / "LibriTTS-R_instruction.json", {
        "19_198_000000_000000": libritts_record(
            "A youthful woman reads calmly: \"Chapter one. It was a dark night.\"",
            "Chapter one. It was a dark night."),
    })
    write_json(root / "EN" / "GigaSpeech-M_description.json", {
        "POD0000000001_S0000008": pipeline_record("An upbeat young man speaks quickly and loudly.",
                                                  "so we had a great time"),
        "YOU0000000315_S0000660": pipeline_record("A middle-aged woman speaks in a flat, quiet tone.",
                                                  "and that is the point", age="Middle-aged", gender="female"),
    })
    write_json(root / "ZH" / "aishell3_description.json", {
        "SSB00050001": {"description": "一位年轻女性用平稳的语速说话。", "transcript": "广州女大学生登山失联四天"},
    })
    audio = root / "audio"
    write_audio(audio / "LibriTTS_R/train-clean-100/19/198/19_198_000000_000000.wav", 1.6, sample_rate=24000, seed=1)
    write_audio(audio / "LibriTTS_R/train-clean-100/19/198/19_198_000000_000001.wav", 1.1, sample_rate=24000, seed=2)
    write_audio(audio / "LibriTTS_R/train-other-500/103/1240/103_1240_000000_000001.wav", 1.3, sample_rate=24000,
                seed=3)
    write_audio(audio / "gigaspeech/POD0000000001_S0000008.wav", 1.4, seed=4)
    write_corrupt(audio / "gigaspeech/YOU0000000315_S0000660.wav")
    write_audio(audio / "aishell3/train/wav/SSB0005/SSB00050001.wav", 1.2, sample_rate=44100, seed=5)
    return {
        "summary": {
            "total": {"clips": 6, "clips_missing_audio": 2, "clips_unreadable_audio": 1, "clips_without_caption": 0,
                      "clips_written": 4, "captions_total": 7, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 2, "captions_clean": 3, "captions_derived": 4},
            "splits": {
                "train": {"clips": 6, "clips_missing_audio": 2, "clips_written": 4, "captions_total": 7,
                          "captions_empty": 1, "captions_duplicate": 1, "captions_on_missing_audio": 2,
                          "captions_clean": 3, "captions_derived": 4},
            },
        },
        "ids": {
            "train": ["speechcraft_libritts_19_198_000000_000000", "speechcraft_libritts_19_198_000000_000001",
                      "speechcraft_libritts_103_1240_000000_000001", "speechcraft_gigaspeech_POD0000000001_S0000008"],
        },
        "origins": {
            "speechcraft_libritts_19_198_000000_000000": "libritts:19_198_000000_000000",
            "speechcraft_gigaspeech_POD0000000001_S0000008": "gigaspeech:POD0000000001_S0000008",
        },
        "captions": {
            "speechcraft_libritts_19_198_000000_000000": [
                ("Entertaining us with her storytelling, a youthful woman with a normal pitch reads \"calmly\", "
                 "at an even pace.", "speaking_style"),
                ("Chapter one. It was a dark night.", "transcript")],
            "speechcraft_libritts_19_198_000000_000001": [("It was late.", "transcript")],
            "speechcraft_libritts_103_1240_000000_000001": [
                ("A man’s low, fast voice rings out with excitement.", "speaking_style"), ("Run, now!", "transcript")],
            "speechcraft_gigaspeech_POD0000000001_S0000008": [
                ("An upbeat young man speaks quickly and loudly.", "speaking_style"),
                ("so we had a great time", "transcript")],
        },
    }
