"""Write CaptionStew-mini clips in the official layouts of six caption corpora.

Each writer takes the clips assigned to its corpus and writes the metadata files exactly as the
corpus distributes them (file names, columns, encodings), and returns, per clip, the audio path
under the corpus root that a download of the real corpus would use. The registered preparers
(:mod:`audiotext.data.corpora`) then read the result as they read the real corpus.

A clip is a dict with ``key``, ``split`` (train/valid/test), ``captions`` (the source-style
captions, in order), optional ``tags``, ``transcript``, ``title``, ``yt`` (an 11-character
YouTube-like id) and ``start`` (seconds) for YouTube-based corpora, and ``audio_missing`` (list
the clip but write no audio: a planted defect).
"""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Callable, Dict, List, Sequence

WRITERS: Dict[str, Callable] = {}


def writer(name: str):
    def wrap(fn):
        WRITERS[name] = fn
        return fn
    return wrap


def _csv(path: Path, header, rows, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)


@writer("audiocaps")
def audiocaps(root: Path, clips: List[dict]) -> Dict[str, str]:
    """train.csv / val.csv / test.csv (audiocap_id, youtube_id, start_time, caption), one row per
    caption; audio as ``audio/<split>/Y<ytid>.wav`` (the aac-datasets download form)."""
    files = {"train": "train.csv", "valid": "val.csv", "test": "test.csv"}
    rows = {split: [] for split in files}
    audio = {}
    next_id = 1
    for clip in clips:
        for caption in clip["captions"]:
            rows[clip["split"]].append([next_id, clip["yt"], int(clip["start"]), caption])
            next_id += 1
        audio[clip["key"]] = f"audio/{clip['split']}/Y{clip['yt']}.wav"
    for split, name in files.items():
        _csv(root / name, ["audiocap_id", "youtube_id", "start_time", "caption"], rows[split])
    return audio


@writer("clotho")
def clotho(root: Path, clips: List[dict]) -> Dict[str, str]:
    """clotho_captions_<split>.csv (file_name, caption_1..5; UTF-8) and clotho_metadata_<split>.csv
    (ISO-8859-1); audio in development/, validation/, evaluation/."""
    names = {"train": "development", "valid": "validation", "test": "evaluation"}
    caps = {split: [] for split in names}
    meta = {split: [] for split in names}
    audio = {}
    for clip in clips:
        file_name = f"{clip['title']}.wav"
        captions = (list(clip["captions"]) + [""] * 5)[:5]
        caps[clip["split"]].append([file_name, *captions])
        keywords = ";".join(clip.get("tags") or [])
        meta[clip["split"]].append([file_name, keywords, clip["sound_id"], "", "", "", "CC0"])
        audio[clip["key"]] = f"{names[clip['split']]}/{file_name}"
    for split, name in names.items():
        _csv(root / f"clotho_captions_{name}.csv", ["file_name"] + [f"caption_{i}" for i in range(1, 6)], caps[split])
        _csv(root / f"clotho_metadata_{name}.csv", ["file_name", "keywords", "sound_id", "sound_link",
                                                     "start_end_samples", "manufacturer", "license"],
             meta[split], encoding="iso-8859-1")
    return audio


def _subset_of(clip: dict, names: Sequence[str]) -> str:
    """A stable choice among ``names`` from the clip key (the corpora split their clips by origin)."""
    return names[int(hashlib.sha256(clip["key"].encode()).hexdigest(), 16) % len(names)]


@writer("wavcaps")
def wavcaps(root: Path, clips: List[dict]) -> Dict[str, str]:
    """json_files/BBC_Sound_Effects/bbc_final.json and json_files/SoundBible/sb_final.json
    ({"num_captions_per_audio": 1, "data": [...]}; the default subsets of the preparer and the
    paper), the three official blacklists (empty here), FLAC audio where aac-datasets puts it
    (Audio/<Source>/<id>.flac). WavCaps is training data only."""
    meta = root / "json_files"
    data = {"bbc": [], "soundbible": []}
    audio = {}
    for clip in clips:
        if clip["split"] != "train":
            raise ValueError(f"WavCaps has only training data, clip {clip['key']} is in {clip['split']}")
        ident = str(clip["sound_id"])
        subset = _subset_of(clip, ("bbc", "soundbible"))
        if subset == "bbc":
            ident = f"07{int(ident):06d}"
            data["bbc"].append({"description": f"{clip['title']}.", "category": "['Music']" if clip.get("domain") ==
                                "music" else "['Sound Effects']", "caption": clip["captions"][0], "id": ident,
                                "duration": clip.get("duration", 0.0), "audio": "wav_path",
                                "download_link": f"https://sound-effects-media.bbcrewind.co.uk/zip/{ident}.wav.zip"})
            audio[clip["key"]] = f"Audio/BBC_Sound_Effects/{ident}.flac"
        else:
            slug = clip["title"].replace(" ", "-")
            data["soundbible"].append({"title": clip["title"], "description": f"{clip['title']}.", "author": "audiotext",
                                       "href": f"{ident}-{slug}.html", "caption": clip["captions"][0], "id": ident,
                                       "duration": clip.get("duration", 0.0), "audio": "wav_path",
                                       "download_link": f"http://soundbible.com/grab.php?id={ident}&type=wav"})
            audio[clip["key"]] = f"Audio/SoundBible/{ident}.flac"
    for subset, folder, name in (("bbc", "BBC_Sound_Effects", "bbc_final.json"), ("soundbible", "SoundBible",
                                                                                  "sb_final.json")):
        (meta / folder).mkdir(parents=True, exist_ok=True)
        (meta / folder / name).write_text(json.dumps({"num_captions_per_audio": 1, "data": data[subset]},
                                                     ensure_ascii=False) + "\n", encoding="utf-8")
    (meta / "blacklist").mkdir(parents=True, exist_ok=True)
    for name in ("blacklist_exclude_all_ac", "blacklist_exclude_test_ac", "blacklist_exclude_ub8k_esc50_vggsound"):
        (meta / "blacklist" / f"{name}.json").write_text(json.dumps({"AudioSet": [], "FreeSound": []}) + "\n")
    return audio


@writer("musiccaps")
def musiccaps(root: Path, clips: List[dict]) -> Dict[str, str]:
    """musiccaps-public.csv (one row per clip, aspect_list a Python list literal; test clips are
    ``is_audioset_eval``); audio as ``audio/<ytid>.wav`` (the dataset card's download script)."""
    rows, audio = [], {}
    for i, clip in enumerate(clips):
        if clip["split"] == "valid":
            raise ValueError(f"MusicCaps has no validation split, clip {clip['key']} is in it")
        start = int(clip["start"])
        aspects = "[" + ", ".join(repr(t) for t in clip.get("tags") or []) + "]"
        rows.append([clip["yt"], start, start + 10, "/m/04rlf", aspects, clip["captions"][0], i % 9,
                     "False", "True" if clip["split"] == "test" else "False"])
        audio[clip["key"]] = f"audio/{clip['yt']}.wav"
    _csv(root / "musiccaps-public.csv", ["ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list",
                                         "caption", "author_id", "is_balanced_subset", "is_audioset_eval"], rows)
    return audio


@writer("audiosetcaps")
def audiosetcaps(root: Path, clips: List[dict]) -> Dict[str, str]:
    """Dataset/{AudioSetCaps,VGGSound_AudioSetCaps,YouTube-8M_AudioSetCaps}_caption.csv (id, caption)
    with each corpus's ids (``Y<ytid>``, ``<ytid>_<start, 6 digits>``, ``<ytid>_<start>_10``), and
    AudioSet's segment lists, which give the ``Y<ytid>`` clips their start. Audio as the download
    tools name it under ``audio/<subset>/``. Training data only."""
    files = {"audioset": "AudioSetCaps_caption.csv", "vggsound": "VGGSound_AudioSetCaps_caption.csv",
             "youtube8m": "YouTube-8M_AudioSetCaps_caption.csv"}
    rows = {subset: [] for subset in files}
    segments = []
    audio = {}
    for clip in clips:
        if clip["split"] != "train":
            raise ValueError(f"AudioSetCaps has only training data, clip {clip['key']} is in {clip['split']}")
        subset = clip.get("subset") or _subset_of(clip, tuple(files))
        start = int(clip["start"])
        if subset == "audioset":
            ident = f"Y{clip['yt']}"
            segments.append(f'{clip["yt"]}, {start:.3f}, {start + 10:.3f}, "/m/04rlf"')
        elif subset == "vggsound":
            ident = f"{clip['yt']}_{start:06d}"
        else:
            ident = f"{clip['yt']}_{start}_10"
        rows[subset] += [[ident, caption] for caption in clip["captions"]]
        audio[clip["key"]] = f"audio/{subset}/{ident}.wav"
    for subset, name in files.items():
        _csv(root / "Dataset" / name, ["id", "caption"], rows[subset])
    for name, listed in (("balanced_train_segments.csv", segments), ("unbalanced_train_segments.csv", []),
                         ("eval_segments.csv", [])):
        with open(root / "Dataset" / name, "w", encoding="utf-8") as f:
            f.write(f"# Segments csv created by audiotext\n# num_ytids={len(listed)}, num_segs={len(listed)}, "
                    f"num_unique_labels=1, num_positive_labels={len(listed)}\n"
                    "# YTID, start_seconds, end_seconds, positive_labels\n")
            f.writelines(line + "\n" for line in listed)
    return audio


PARASPEECHCAPS_COLUMNS = ("source", "relative_audio_path", "text_description", "transcription", "intrinsic_tags",
                          "situational_tags", "basic_tags", "all_tags", "speakerid", "name", "duration", "gender",
                          "accent", "pitch", "speaking_rate", "noise", "utterance_pitch_mean", "snr", "phonemes")


@writer("paraspeechcaps")
def paraspeechcaps(root: Path, clips: List[dict]) -> Dict[str, str]:
    """data/{train_base,train_scaled,dev,holdout}-00000-of-00001.parquet with every column of the dataset card
    (text_description a list of strings); clips are EARS-style ``<speaker>/<name>.wav`` under
    ``audio/ears/``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = {"train": "train_base", "train_scaled": "train_scaled", "valid": "dev", "test": "holdout"}
    lists = {"text_description", "intrinsic_tags", "situational_tags", "basic_tags", "all_tags"}
    floats = {"duration", "utterance_pitch_mean", "snr"}
    schema = pa.schema([(c, pa.list_(pa.string()) if c in lists else pa.float64() if c in floats else pa.string())
                        for c in PARASPEECHCAPS_COLUMNS])
    rows = {split: [] for split in shards}
    audio = {}
    for clip in clips:
        relative = f"{clip['speaker']}/{clip['name']}.wav"
        tags = list(clip.get("tags") or [])
        # train_scaled holds the automatically annotated utterances: here the synthetic ones
        shard = "train_scaled" if clip["split"] == "train" and clip.get("kind") == "synthetic" else clip["split"]
        rows[shard].append({
            "source": "ears", "relative_audio_path": relative, "text_description": list(clip["captions"]),
            "transcription": clip.get("transcript", ""), "intrinsic_tags": tags, "situational_tags": None,
            "basic_tags": tags, "all_tags": tags, "speakerid": clip["speaker"], "name": clip["speaker"],
            "duration": clip.get("duration", 0.0), "gender": clip.get("gender"), "accent": clip.get("accent"),
            "pitch": None, "speaking_rate": None, "noise": None, "utterance_pitch_mean": None, "snr": None,
            "phonemes": None})
        audio[clip["key"]] = f"audio/ears/{relative}"
    for split, shard in shards.items():
        path = root / "data" / f"{shard}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([{c: r.get(c) for c in PARASPEECHCAPS_COLUMNS} for r in rows[split]],
                                     schema=schema)
        pq.write_table(table, path)
    return audio
