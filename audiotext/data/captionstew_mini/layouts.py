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


AUDIOSETCAPS_SUBSETS = ("audioset", "vggsound", "youtube8m")


@writer("audiosetcaps")
def audiosetcaps(root: Path, clips: List[dict]) -> Dict[str, str]:
    """Dataset/{AudioSetCaps,VGGSound_AudioSetCaps,YouTube-8M_AudioSetCaps}_caption.csv (id, caption)
    with each corpus's ids (``Y<ytid>``, ``<ytid>_<start, 6 digits>``, ``<ytid>_<start>_10``), and
    AudioSet's segment lists, which give the ``Y<ytid>`` clips their start. Audio as the download
    tools name it under ``audio/<subset>/``. Training data only."""
    files = dict(zip(AUDIOSETCAPS_SUBSETS, ("AudioSetCaps_caption.csv", "VGGSound_AudioSetCaps_caption.csv",
                                            "YouTube-8M_AudioSetCaps_caption.csv")))
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


# --- AudioSet -----------------------------------------------------------------------------------

# The AudioSet ontology classes the mini's clips are labelled with: (mid, display name) as in
# Google's class_labels_indices.csv (research.google.com/audioset), in that file's index order.
# The mini writes only these 47 of the 527 classes, re-indexed from 0.
AUDIOSET_CLASSES = (
    ("/m/09x0r", "Speech"), ("/m/05zppz", "Male speech, man speaking"), ("/m/02zsn", "Female speech, woman speaking"),
    ("/m/0brhx", "Speech synthesizer"), ("/m/01w250", "Whistling"), ("/m/07pbtc8", "Walk, footsteps"),
    ("/m/0l15bq", "Clapping"), ("/m/04rlf", "Music"), ("/m/04szw", "Musical instrument"), ("/m/0342h", "Guitar"),
    ("/m/02sgy", "Electric guitar"), ("/m/018vs", "Bass guitar"), ("/m/042v_gx", "Acoustic guitar"),
    ("/m/05r5c", "Piano"), ("/m/01s0ps", "Electric piano"), ("/m/013y1f", "Organ"), ("/m/0l14qv", "Synthesizer"),
    ("/m/02hnl", "Drum kit"), ("/m/026t6", "Drum"), ("/m/06rvn", "Snare drum"), ("/m/0bm02", "Bass drum"),
    ("/m/01p970", "Tabla"), ("/m/01qbl", "Cymbal"), ("/m/0dwsp", "Marimba, xylophone"), ("/m/07gql", "Trumpet"),
    ("/m/07c6l", "Trombone"), ("/m/07y_7", "Violin, fiddle"), ("/m/01xqw", "Cello"), ("/m/0l14j_", "Flute"),
    ("/m/06ncr", "Saxophone"), ("/m/01wy6", "Clarinet"), ("/m/0395lw", "Bell"), ("/m/0f8s22", "Chime"),
    ("/m/01hgjl", "Scratching (performance technique)"), ("/m/01z7dr", "Video game music"), ("/m/03m9d0z", "Wind"),
    ("/m/06mb1", "Rain"), ("/m/02mk9", "Engine"), ("/m/07r4wb8", "Knock"), ("/m/07pp_mv", "Alarm"),
    ("/m/03kmc9", "Siren"), ("/m/01x3z", "Clock"), ("/m/07qjznl", "Tick-tock"), ("/m/07r5v4s", "Drip"),
    ("/m/07rqsjt", "Whoosh, swoosh, swish"), ("/m/02fs_r", "Beep, bleep"), ("/m/07rcgpl", "Hum"),
)
_AUDIOSET_MID = {name: mid for mid, name in AUDIOSET_CLASSES}
# the mini's generator classes -> AudioSet display names
_SCENE_CLASSES = {
    "bell": ("Bell",), "knocking": ("Knock",), "clapping": ("Clapping",), "rain": ("Rain",), "wind": ("Wind",),
    "siren": ("Siren",), "alarm": ("Alarm",), "footsteps": ("Walk, footsteps",), "clock": ("Clock", "Tick-tock"),
    "engine": ("Engine",), "whistle": ("Whistling",), "dripping": ("Drip",), "kick_drum": ("Bass drum", "Drum"),
    "snare_drum": ("Snare drum", "Drum"), "cymbal": ("Cymbal",), "tom_drum": ("Drum",), "tabla": ("Tabla", "Drum"),
    "chime": ("Chime",), "electronic_blip": ("Beep, bleep",), "drum_loop": ("Drum",), "drone": ("Hum",),
    "whoosh": ("Whoosh, swoosh, swish",), "synth_bass": ("Synthesizer",),
    "vinyl_scratch": ("Scratching (performance technique)",), "robot_voice": ("Speech synthesizer",),
    "guitar": ("Electric guitar", "Guitar"),
}
_INSTRUMENTS = {
    "piano": ("Piano",), "electric piano": ("Electric piano",), "organ": ("Organ",),
    "marimba": ("Marimba, xylophone",), "acoustic guitar": ("Acoustic guitar", "Guitar"),
    "electric guitar": ("Electric guitar", "Guitar"), "bass guitar": ("Bass guitar",), "violin": ("Violin, fiddle",),
    "cello": ("Cello",), "trumpet": ("Trumpet",), "trombone": ("Trombone",), "saxophone": ("Saxophone",),
    "clarinet": ("Clarinet",), "flute": ("Flute",), "synth lead": ("Synthesizer",), "drum kit": ("Drum kit", "Drum"),
}
AUDIOSET_LISTS = {"balanced_train": "balanced_train_segments.csv", "unbalanced_train": "unbalanced_train_segments.csv",
                  "eval": "eval_segments.csv"}


def audioset_labels(clip: dict) -> List[str]:
    """The AudioSet display names of a mini clip, from what its generator knows: a scene's event
    classes, a MIDI clip's instrument, an Asterisk prompt's speaker gender, a Colobot music excerpt
    (a video game's soundtrack). ``[]`` for a clip of another kind. Ordered as the ontology file."""
    labels = set()
    render, gt = clip.get("render"), clip.get("labels") or {}
    if render == "scene":
        for cls in gt.get("event_classes", []):
            labels.update(_SCENE_CLASSES[cls])
    elif render == "midi":
        labels.update(("Music", "Musical instrument") + _INSTRUMENTS[gt["instrument"]])
    elif clip.get("track"):  # a Colobot music excerpt
        labels.update(("Music", "Video game music"))
    elif clip.get("domain") == "speech" and clip.get("gender") in ("male", "female"):
        labels.update(("Speech", f"{clip['gender'].capitalize()} speech, "
                                 f"{'man' if clip['gender'] == 'male' else 'woman'} speaking"))
    return [name for _, name in AUDIOSET_CLASSES if name in labels]


def audioset_subset(clip: dict) -> str:
    """The AudioSet list a mini clip is written in: the stew's valid and test clips are AudioSet
    ``eval`` (so no stew evaluation clip is an AudioSet training clip); a training clip goes to
    ``balanced_train`` (1 in 3, by key) or ``unbalanced_train``."""
    if clip["split"] != "train":
        return "eval"
    return _subset_of(clip, ("balanced_train", "unbalanced_train", "unbalanced_train"))


@writer("audioset")
def audioset(root: Path, clips: List[dict]) -> Dict[str, str]:
    """Google's AudioSet files: ``balanced_train_segments.csv``, ``unbalanced_train_segments.csv``,
    ``eval_segments.csv`` (three ``#`` lines, then ``YTID, start_seconds, end_seconds,
    "mid,mid"``) and ``class_labels_indices.csv`` (``index,mid,display_name``, the classes of
    :data:`AUDIOSET_CLASSES`); audio as the PANNs download names it,
    ``audios/<list stem>/Y<ytid>_<start>.000_<end>.000.wav``. A clip's segment ends at
    ``start + min(10, duration)``; each clip needs ``yt``, ``start``, ``duration``, ``split`` and
    ``audioset_labels`` (non-empty)."""
    rows: Dict[str, List[str]] = {name: [] for name in AUDIOSET_LISTS}
    audio = {}
    for clip in clips:
        labels = clip["audioset_labels"]
        if not labels:
            raise ValueError(f"AudioSet clip {clip['key']} has no label")
        subset = audioset_subset(clip)
        start = float(int(clip["start"]))
        end = start + round(min(10.0, float(clip["duration"])), 3)
        mids = ",".join(_AUDIOSET_MID[name] for name in labels)
        rows[subset].append(f'{clip["yt"]}, {start:.3f}, {end:.3f}, "{mids}"')
        stem = AUDIOSET_LISTS[subset].rsplit(".", 1)[0]
        audio[clip["key"]] = f"audios/{stem}/Y{clip['yt']}_{start:.3f}_{end:.3f}.wav"
    root.mkdir(parents=True, exist_ok=True)
    for subset, name in AUDIOSET_LISTS.items():
        listed = rows[subset]
        n_labels = sum(row.count("/m/") for row in listed)
        with open(root / name, "w", encoding="utf-8") as f:
            f.write(f"# Segments csv created by audiotext (CaptionStew-mini)\n# num_ytids={len(listed)}, "
                    f"num_segs={len(listed)}, num_unique_labels={len(AUDIOSET_CLASSES)}, "
                    f"num_positive_labels={n_labels}\n# YTID, start_seconds, end_seconds, positive_labels\n")
            f.writelines(line + "\n" for line in listed)
    _csv(root / "class_labels_indices.csv", ["index", "mid", "display_name"],
         [[i, mid, name] for i, (mid, name) in enumerate(AUDIOSET_CLASSES)])
    return audio
