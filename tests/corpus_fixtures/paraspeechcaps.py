"""ParaSpeechCaps layout: the Hugging Face snapshot's data/<split>-NNNNN-of-NNNNN.parquet (every column
of the dataset card, text_description a list of strings) and the source corpora's audio under audio/.

Planted: a VoxCeleb clip with both the original and the _voicefixer file (the original is used), one
with only the _voicefixer file, one with neither (missing), one whose only file is corrupt; a
text_description list with an empty string and a duplicate (after strip); an Expresso path on two
rows of train_base (one clip, all captions, yielded at its last row); train_scaled in two shards;
two EARS speakers with the same file stem; a holdout description that is empty; the VoxCeleb1 test
utterance id10270/5r0dWxy17C8/00001 in train_base (the curation removes it by overlap).
"""
from __future__ import annotations

from pathlib import Path

from tests.corpus_fixtures import write_audio, write_corrupt

COLUMNS = ("source", "relative_audio_path", "text_description", "transcription", "intrinsic_tags",
           "situational_tags", "basic_tags", "all_tags", "speakerid", "name", "duration", "gender", "accent",
           "pitch", "speaking_rate", "noise", "utterance_pitch_mean", "snr", "phonemes")
LIST_COLUMNS = ("text_description", "intrinsic_tags", "situational_tags", "basic_tags", "all_tags")
FLOAT_COLUMNS = ("duration", "utterance_pitch_mean", "snr")


def row(source, relative, descriptions, transcription, speaker, gender="female", accent=None, **extra):
    out = {"source": source, "relative_audio_path": relative, "text_description": descriptions,
           "transcription": transcription, "intrinsic_tags": ["husky"] if accent else None,
           "situational_tags": None, "basic_tags": [gender, "medium-pitched", "measured speed"],
           "all_tags": [gender, "husky"], "speakerid": speaker, "name": speaker, "duration": 1.5,
           "gender": gender, "accent": accent, "pitch": "medium-pitched", "speaking_rate": "measured speed",
           "noise": "very clean environment", "utterance_pitch_mean": 180.5, "snr": 55.2, "phonemes": "h ə l oʊ"}
    out.update(extra)
    return out


def write_parquet(path: Path, rows) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {c: pa.list_(pa.string()) if c in LIST_COLUMNS else pa.float64() if c in FLOAT_COLUMNS else pa.string()
             for c in COLUMNS}
    schema = pa.schema([(c, types[c]) for c in COLUMNS])
    table = pa.Table.from_pylist([{c: r.get(c) for c in COLUMNS} for r in rows], schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=2)  # several row groups, as the real files have


VOX1 = "voxceleb1/dev/wav/id10001/1zcIwhmdeo4"
VOX2 = "voxceleb2/dev/aac/id00012/21Uxsk56VDQ"
EXPRESSO_READ = "audio_48khz/read/ex04/whisper/base/ex04_whisper_00204"
EXPRESSO_CONV = ("audio_48khz/conversational_vad_segmented/ex04-ex02/disgusted/"
                 "ex04-ex02_disgusted_012_channel1_segment_50.0_59.58")
EMILIA_1 = "EN/EN_B00030/EN_B00030_S01984/mp3/EN_B00030_S01984_W000037"
EMILIA_2 = "EN/EN_B00031/EN_B00031_S00002/mp3/EN_B00031_S00002_W000001"


def build(root: Path) -> dict:
    data = root / "data"
    audio = root / "audio"
    write_parquet(data / "train_base-00000-of-00001.parquet", [
        row("voxceleb", f"{VOX1}/00001_voicefixer.wav",
            ["A male speaker with a deep voice talks slowly.", "   ",
             " A male speaker with a deep voice talks slowly. "],
            " Well, I think so.", "id10001", gender="male", accent="british"),
        row("voxceleb", f"{VOX2}/00001_voicefixer.wav",
            ["A female speaker, sounding happy, speaks fast.", "A happy female voice, quick and clear."],
            " That's wonderful news.", "id00012"),
        row("voxceleb", "voxceleb2/dev/aac/id00015/0fijmz4vTVU/00003_voicefixer.wav",
            ["A man mumbles in a noisy room."], " I don't know.", "id00015", gender="male"),
        row("expresso", f"{EXPRESSO_READ}.wav",
            ["A female speaker whispers softly, with an American accent.", "A whispered, breathy female voice."],
            " Come closer.", "ex04", accent="american"),
        row("voxceleb", "voxceleb1/test/wav/id10270/5r0dWxy17C8/00001_voicefixer.wav",
            ["A man with a British accent speaks calmly."], " It was a long day.", "id10270", gender="male"),
        row("ears", "p026/emo_relief_freeform.wav",
            ["A relieved female speaker sighs and speaks slowly.", "A female voice full of relief."],
            " Finally, it is over.", "p026"),
        row("expresso", f"{EXPRESSO_READ}.wav", ["A female speaker whispers."], " Come closer.", "ex04"),
    ])
    write_parquet(data / "train_scaled-00000-of-00002.parquet", [
        row("emilia", f"{EMILIA_1}.mp3",
            ["A young man speaks energetically with a fast pace.", "An energetic male voice."],
            " Let's get started right now.", "EN_B00030_S01984", gender="male"),
    ])
    write_parquet(data / "train_scaled-00001-of-00002.parquet", [
        row("emilia", f"{EMILIA_2}.mp3", ["A calm woman speaks in a low pitch."], "", "EN_B00031_S00002"),
        row("voxceleb", f"{VOX2}/00005_voicefixer.wav", ["A cheerful woman laughs while talking."], " Ha, yes.",
            "id00012"),
    ])
    write_parquet(data / "dev-00000-of-00001.parquet", [
        row("ears", "p030/sentences_01_regular.wav",
            ["A male speaker reads in a neutral tone.", "A neutral, steady male voice."],
            " The quick brown fox.", "p030", gender="male"),
        row("voxceleb", f"{VOX1}/00002_voicefixer.wav", ["A man speaks with a raised, angry voice."], " Stop it!",
            "id10001", gender="male"),
    ])
    write_parquet(data / "holdout-00000-of-00001.parquet", [
        row("voxceleb", "voxceleb2/test/aac/id00017/01dfn2spqyE/00001_voicefixer.wav",
            ["A sad woman speaks quietly.", "A quiet, sorrowful female voice."], " I miss them.", "id00017"),
        row("expresso", f"{EXPRESSO_CONV}.wav", ["A disgusted female speaker with an American accent.", ""],
            " Ugh, gross.", "ex04", accent="american"),
    ])
    vox = audio / "voxceleb"
    write_audio(vox / f"{VOX1}/00001.wav", 1.6, seed=1)  # original and enhanced: the original is used
    write_audio(vox / f"{VOX1}/00001_voicefixer.wav", 1.2, seed=2)
    write_audio(vox / f"{VOX2}/00001_voicefixer.wav", 1.4, seed=3)  # enhanced only
    write_corrupt(vox / f"{VOX2}/00005_voicefixer.wav")
    write_audio(vox / "voxceleb1/test/wav/id10270/5r0dWxy17C8/00001.wav", 1.3, seed=4)
    write_audio(vox / f"{VOX1}/00002_voicefixer.wav", 1.1, seed=5)
    write_audio(vox / "voxceleb2/test/aac/id00017/01dfn2spqyE/00001.wav", 1.5, seed=6)
    write_audio(vox / "voxceleb2/test/aac/id00017/01dfn2spqyE/00001_voicefixer.wav", 1.0, seed=7)
    write_audio(audio / "expresso" / f"{EXPRESSO_READ}.wav", 1.2, seed=8)
    write_audio(audio / "expresso" / f"{EXPRESSO_CONV}.wav", 1.3, seed=9)
    write_audio(audio / "ears/p026/emo_relief_freeform.wav", 1.7, seed=10)
    write_audio(audio / "ears/p027/emo_relief_freeform.wav", 0.9, seed=11)  # same stem, another speaker
    write_audio(audio / "ears/p030/sentences_01_regular.wav", 1.2, seed=12)
    write_audio(audio / "emilia" / f"{EMILIA_1}.mp3", 1.5, seed=13)
    write_audio(audio / "emilia" / f"{EMILIA_2}.mp3", 1.1, seed=14)
    return {
        "summary": {
            "total": {"clips": 13, "clips_missing_audio": 2, "clips_unreadable_audio": 1, "clips_without_caption": 0,
                      "clips_written": 11, "captions_total": 23, "captions_empty": 2, "captions_duplicate": 1,
                      "captions_on_missing_audio": 2, "captions_clean": 18, "captions_derived": 10},
            "splits": {
                "train": {"clips": 9, "clips_missing_audio": 2, "clips_unreadable_audio": 1, "clips_written": 7,
                          "captions_total": 16, "captions_empty": 1, "captions_duplicate": 1,
                          "captions_on_missing_audio": 2, "captions_clean": 12, "captions_derived": 6},
                "valid": {"clips": 2, "clips_written": 2, "captions_total": 3, "captions_empty": 0,
                          "captions_clean": 3, "captions_derived": 2},
                "test": {"clips": 2, "clips_written": 2, "captions_total": 4, "captions_empty": 1,
                         "captions_clean": 3, "captions_derived": 2},
            },
        },
        "ids": {
            "train": ["paraspeechcaps_voxceleb_id10001_1zcIwhmdeo4_00001",
                      "paraspeechcaps_voxceleb_id00012_21Uxsk56VDQ_00001",
                      "paraspeechcaps_voxceleb_id10270_5r0dWxy17C8_00001",
                      "paraspeechcaps_ears_p026_emo_relief_freeform",
                      "paraspeechcaps_expresso_audio_48khz_read_ex04_whisper_base_ex04_whisper_00204",
                      "paraspeechcaps_emilia_EN_B00030_S01984_W000037",
                      "paraspeechcaps_emilia_EN_B00031_S00002_W000001"],
            "valid": ["paraspeechcaps_ears_p030_sentences_01_regular",
                      "paraspeechcaps_voxceleb_id10001_1zcIwhmdeo4_00002"],
            "test": ["paraspeechcaps_voxceleb_id00017_01dfn2spqyE_00001",
                     "paraspeechcaps_expresso_audio_48khz_conversational_vad_segmented_ex04-ex02_disgusted_"
                     "ex04-ex02_disgusted_012_channel1_segment_50.0_59.58"],
        },
        "origins": {
            "paraspeechcaps_voxceleb_id10270_5r0dWxy17C8_00001": "voxceleb:id10270/5r0dWxy17C8/00001",
            "paraspeechcaps_voxceleb_id00012_21Uxsk56VDQ_00001": "voxceleb:id00012/21Uxsk56VDQ/00001",
            "paraspeechcaps_expresso_audio_48khz_read_ex04_whisper_base_ex04_whisper_00204":
                f"expresso:{EXPRESSO_READ}",
            "paraspeechcaps_ears_p026_emo_relief_freeform": "ears:p026/emo_relief_freeform",
            "paraspeechcaps_emilia_EN_B00030_S01984_W000037": f"emilia:{EMILIA_1}",
        },
        "captions": {
            "paraspeechcaps_voxceleb_id10001_1zcIwhmdeo4_00001": [
                ("A male speaker with a deep voice talks slowly.", "speaking_style"),
                ("Well, I think so.", "transcript")],
            "paraspeechcaps_expresso_audio_48khz_read_ex04_whisper_base_ex04_whisper_00204": [
                ("A female speaker whispers softly, with an American accent.", "speaking_style"),
                ("A whispered, breathy female voice.", "speaking_style"),
                ("A female speaker whispers.", "speaking_style"),
                ("Come closer.", "transcript")],
            "paraspeechcaps_emilia_EN_B00031_S00002_W000001": [
                ("A calm woman speaks in a low pitch.", "speaking_style")],
            "paraspeechcaps_expresso_audio_48khz_conversational_vad_segmented_ex04-ex02_disgusted_"
            "ex04-ex02_disgusted_012_channel1_segment_50.0_59.58": [
                ("A disgusted female speaker with an American accent.", "speaking_style"),
                ("Ugh, gross.", "transcript")],
        },
    }
