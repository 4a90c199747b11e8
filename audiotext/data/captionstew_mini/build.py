"""Build CaptionStew-mini: real recordings first, synthetic audio where real audio is lacking, written
in the official layouts of six caption corpora, plus held-out probe sets for evaluation.

Output (``out_dir``)::

    corpora/<corpus>/...          AudioCaps, Clotho, WavCaps, MusicCaps, AudioSetCaps, ParaSpeechCaps
                                  in their distributed layouts (read by ``prepare_corpus``)
    probes/<task>/cuts_*.jsonl.gz probe sets (downstream CutSets with ``origin_id``), never in training
    summary.json                  clips and hours per corpus, domain and kind (real / sampled / synthetic),
                                  the planted defects, the build time

Where the audio comes from (``kind``):

- real: Asterisk prompts (5 languages, 4 voices; transcripts from the packages' listings), Sonic Pi
  samples (drums, instruments, ambiences), Colobot's music tracks (cut into 10 s excerpts) and
  sound effects (probe only);
- sampled: generated MIDI rendered by fluidsynth with the FluidR3 GM soundfont (sampled instruments);
- synthetic: espeak-ng speech (60 voices, pitch and pace varied: speaking styles the real prompts
  lack) and sound scenes mixing synthesized events with Sonic Pi recordings.

Probe sets are held out by file: no probe recording, sentence, melody or Sonic Pi file is in the
training corpora; Asterisk probe prompts are kept apart per language (see :func:`plan_asterisk`).
Every random decision comes from ``seed``; workers only render.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import soundfile as sf

from . import captions, layouts, music, real, sound, speech
from .common import SAMPLE_RATE, check_tools, fade, normalize_and_write, resample, split_counts

log = logging.getLogger(__name__)

CORPORA = ("audiocaps", "clotho", "wavcaps", "musiccaps", "audiosetcaps", "paraspeechcaps", "audioset")
# the caption corpora; ``audioset`` (Google's segment lists over the mini's YouTube clips) is written from them
CAPTION_CORPORA = CORPORA[:-1]
PROBE_SPLITS = ("train", "valid", "test")
EXCERPT_SECONDS = 10.0  # Colobot music excerpts, as long as an AudioSet / MusicCaps clip


# --- sizes ---------------------------------------------------------------------------------


def sizes(scale: float) -> Dict[str, int]:
    """Clip counts at ``scale`` (1.0: the default, ~5,000 clips; tests use ~0.05)."""
    base = {
        "asterisk_probe_per_lang": 130, "asterisk_train_per_lang": 170,
        "espeak_train": 700, "espeak_probe": 360,
        "music_train": 500, "music_probe": 360,
        "scene_train": 700, "scene_probe": 360,
        "colobot_excerpts_per_track": 8,
    }
    # floors: every probe split gets clips, and every planted defect has a clip to be planted in
    floors = {"asterisk_probe_per_lang": 8, "asterisk_train_per_lang": 8, "espeak_train": 20, "espeak_probe": 12,
              "music_train": 20, "music_probe": 12, "scene_train": 60, "scene_probe": 12,
              "colobot_excerpts_per_track": 1}
    return {k: max(floors[k], int(round(v * scale))) for k, v in base.items()}


def _rng(seed: int, *keys) -> np.random.Generator:
    digest = hashlib.sha256(repr((seed,) + keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def youtube_like_id(*keys) -> str:
    """A deterministic 11-character id in YouTube's alphabet (the corpora key clips by YouTube id)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return "".join(alphabet[b % 64] for b in digest[:11])


PROBE_FRACTIONS = (0.6, 0.15, 0.25)  # probe train / valid / test


# --- planning: real recordings ---------------------------------------------------------------


def _duration(path: str) -> float:
    info = sf.info(path)
    return info.frames / info.samplerate


def plan_asterisk(seed: int, n_probe: int, n_train: int) -> Tuple[List[dict], List[dict]]:
    """Per language, prompts of 1-15 s in a seeded order: the first ``n_probe`` are probe clips
    (train/valid/test 60/15/25), the next ``n_train`` go to the caption corpora, and a few shorter
    prompts too (curation drops them as ``clip_too_short``)."""
    probe, train = [], []
    for lang, (folder, speaker, gender, language, accent) in real.ASTERISK_VOICES.items():
        prompts = real.asterisk_prompts(lang)
        durations = {p.name: _duration(p.path) for p in prompts}
        usable = [p for p in prompts if 1.0 <= durations[p.name] <= 15.0]
        short = [p for p in prompts if durations[p.name] < 1.0]
        order = [usable[i] for i in _rng(seed, "asterisk", lang).permutation(len(usable))]
        held = order[:n_probe]
        counts = split_counts(len(held), PROBE_FRACTIONS)
        splits = [s for s in PROBE_SPLITS for _ in range(counts[s])]
        for prompt, split in zip(held, splits):
            probe.append({"key": f"asterisk_{lang}_{prompt.name.replace('/', '_')}", "split": split,
                          "path": prompt.path, "speaker": speaker, "lang": lang, "language": language,
                          "name": prompt.name})
        for prompt in order[n_probe: n_probe + n_train] + short[:2]:
            train.append({"key": f"asterisk_{lang}_{prompt.name.replace('/', '_')}", "domain": "speech",
                          "kind": "real", "package": f"asterisk-core-sounds-{lang}-wav", "path": prompt.path,
                          "speaker": speaker, "lang": lang, "language": language, "accent": accent,
                          "gender": gender, "name": prompt.name, "text": prompt.text,
                          "duration": durations[prompt.name]})
    return probe, train


def _slot_starts(path: str, min_rms_db: float = -40.0) -> List[float]:
    """Starts (s) of the track's 10 s slots whose quietest second is above ``min_rms_db``."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    second = sr
    out = []
    for k in range(int(len(x) // (EXCERPT_SECONDS * sr))):
        piece = x[int(k * EXCERPT_SECONDS * sr): int((k + 1) * EXCERPT_SECONDS * sr)]
        rms = np.sqrt(np.mean(piece[: len(piece) // second * second].reshape(-1, second) ** 2, axis=1))
        if 20 * np.log10(max(float(rms.min()), 1e-9)) > min_rms_db:
            out.append(k * EXCERPT_SECONDS)
    return out


def _pool(jobs: int):
    # fork: callable from any script; workers run numpy and subprocesses only
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method).Pool(jobs)


def plan_colobot_music(seed: int, per_track: int, jobs: int = 1) -> List[dict]:
    """Non-overlapping 10 s excerpts of every Colobot track, chosen by seed; each excerpt's caption
    words come from measured descriptors (see :func:`describe_excerpt`)."""
    out = []
    tracks = real.colobot_music()
    if jobs > 1:
        with _pool(jobs) as pool:
            starts = pool.map(_slot_starts, tracks)
    else:
        starts = [_slot_starts(path) for path in tracks]
    for path, slot_starts in zip(tracks, starts):
        # excerpts from the first 10 s on (intros), none that is mostly silence (some tracks end in a minute of it)
        audible = [start for start in slot_starts if start >= EXCERPT_SECONDS]
        if not audible:
            continue
        chosen = sorted(_rng(seed, "colobot", Path(path).stem).permutation(len(audible))[:per_track])
        for slot in chosen:
            start = audible[slot]
            out.append({"key": f"colobot_{Path(path).stem}_{int(start)}", "domain": "music", "kind": "real",
                        "package": "colobot-common-sounds", "path": path, "offset": start,
                        "duration": EXCERPT_SECONDS, "track": Path(path).stem})
    # one excerpt longer than the curation's 60 s limit, from the longest track
    longest = max(real.colobot_music(), key=lambda p: sf.info(p).duration)
    out.append({"key": f"colobot_{Path(longest).stem}_long", "domain": "music", "kind": "real",
                "package": "colobot-common-sounds", "path": longest, "offset": 20.0, "duration": 70.0,
                "track": Path(longest).stem})
    return out


MUSICAL = {"synth_bass", "guitar", "drum_loop"}  # Sonic Pi classes counted as music in the summary


def plan_sonic_pi_singles(sample_dir: str, train_files: Sequence[str]) -> List[dict]:
    """Each Sonic Pi recording the scene generator may use in training, also as a clip of its own."""
    out = []
    for cls, (_, prefixes) in sound.REAL_CLASSES.items():
        for name in sorted(train_files):
            if name.startswith(prefixes):
                path = str(Path(sample_dir) / name)
                out.append({"key": f"sonicpi_{Path(name).stem}", "domain": "sound" if cls not in MUSICAL else "music",
                            "kind": "real", "package": "sonic-pi-samples", "path": path, "sonic_class": cls,
                            "duration": min(_duration(path), 20.0), "title": Path(name).stem.replace("_", " ")})
    return out



# --- planning: synthetic and sampled audio ----------------------------------------------------


def _split_generator_clips(clips: List[dict], n_train: int) -> Tuple[List[dict], List[dict]]:
    """The generator's first ``n_train`` training clips go to the corpora; its other training clips
    and all its valid/test clips are the probe set (valid/test share no sentence, melody or Sonic
    Pi file with anything in training)."""
    train = [c for c in clips if c["split"] == "train"]
    pretrain, probe = train[:n_train], train[n_train:] + [c for c in clips if c["split"] != "train"]
    return pretrain, probe


def plan_synthetic(seed: int, sz: Dict[str, int], sample_dir: str) -> Dict[str, Tuple[List[dict], List[dict]]]:
    out = {}
    for name, planner, train_key, probe_key in (("espeak", speech.plan, "espeak_train", "espeak_probe"),
                                                 ("midi", music.plan, "music_train", "music_probe"),
                                                 ("scene", None, "scene_train", "scene_probe")):
        probe_counts = split_counts(sz[probe_key], PROBE_FRACTIONS)
        counts = {"train": sz[train_key] + probe_counts["train"], "valid": probe_counts["valid"],
                  "test": probe_counts["test"]}
        n = sum(counts.values())
        if planner is None:
            clips = sound.plan(n, counts, seed, sample_dir, SCENE_FILE_FRACTIONS)
        else:
            clips = planner(n, counts, seed)
        pretrain, probe = _split_generator_clips(clips, sz[train_key])
        kind = {"espeak": "synthetic", "midi": "sampled", "scene": "synthetic"}[name]
        package = {"espeak": "espeak-ng", "midi": "fluidsynth+fluid-soundfont-gm", "scene": "sonic-pi-samples+synthesis"}
        for clip in clips:
            clip.update({"key": f"{name}_{clip['id']}", "render": name, "kind": kind, "package": package[name]})
        for clip in probe:  # probe split: the generator's valid/test, the rest of its train
            clip["probe_split"] = clip["split"]
        out[name] = (pretrain, probe)
    return out


SCENE_FILE_FRACTIONS = (0.7, 0.1, 0.2)  # Sonic Pi files per class: training / probe valid / probe test


def scene_training_files(seed: int, sample_dir: str) -> List[str]:
    """The Sonic Pi files the scene generator keeps for training (the others are probe-only)."""
    assigned = sound.assign_real_splits(sound.real_files(sample_dir), SCENE_FILE_FRACTIONS, seed)
    return sorted(name for per_split in assigned.values() for name, _ in per_split["train"])


# --- assignment to corpora, captions, planted defects -----------------------------------------


def _shares(clips: List[dict], fractions: Dict[str, float], rng: np.random.Generator) -> Dict[str, List[dict]]:
    """Deal clips (in a seeded order) into named groups by fractions; the last group takes the rest."""
    order = [clips[i] for i in rng.permutation(len(clips))]
    out, start, names = {}, 0, list(fractions)
    for k, name in enumerate(names):
        n = len(order) - start if k == len(names) - 1 else int(round(len(order) * fractions[name]))
        out[name] = order[start: start + n]
        start += n
    return out


def _with_split(clips: List[dict], fractions: Dict[str, float], rng: np.random.Generator) -> List[dict]:
    for split, group in _shares(clips, fractions, rng).items():
        for clip in group:
            clip["split"] = split
    return clips


def assign_corpora(seed: int, pools: Dict[str, List[dict]]) -> Dict[str, List[dict]]:
    """Which corpus (and official split) each training clip is written in, with its captions."""
    corpora: Dict[str, List[dict]] = {name: [] for name in CAPTION_CORPORA}
    rng = _rng(seed, "assign")
    cap_rng = _rng(seed, "captions")

    # speech: Asterisk prompts to ParaSpeechCaps (70%) and AudioSetCaps (30%), espeak to ParaSpeechCaps
    asterisk = _shares(pools["asterisk"], {"paraspeechcaps": 0.7, "audiosetcaps": 0.3}, rng)
    for clip in _with_split(asterisk["paraspeechcaps"], {"train": 0.9, "valid": 0.05, "test": 0.05}, rng):
        clip.update(captions=captions.asterisk_style(clip, cap_rng, 2), transcript=clip["text"],
                    speaker=f"{clip['speaker']}-{clip['lang']}", name=clip["name"].replace("/", "-"),
                    tags=[clip["gender"], f"{clip['accent']} accent", clip["language"]])
        corpora["paraspeechcaps"].append(clip)
    for clip in asterisk["audiosetcaps"]:
        clip.update(split="train", captions=[captions.asterisk_llm(clip, cap_rng)])
        corpora["audiosetcaps"].append(clip)
    for clip in _with_split(pools["espeak"], {"train": 0.9, "valid": 0.05, "test": 0.05}, rng):
        labels = clip["labels"]
        clip.update(captions=[clip["captions"]["speaking_style"]], transcript=clip["text"],
                    speaker=f"espeak-{labels['voice'].replace('+', '-')}", name=clip["id"],
                    gender=labels["gender"], accent=labels["accent"],
                    tags=[labels["gender"], labels["pitch_bucket"] + " pitch", labels["speaking_rate"] + " pace"])
        corpora["paraspeechcaps"].append(clip)

    # music: generated MIDI to MusicCaps; Colobot excerpts to MusicCaps and AudioSetCaps
    for clip in _with_split(pools["midi"], {"train": 0.9, "test": 0.1}, rng):
        clip.update(tags=[t.strip() for t in clip["captions"]["tags"].split(",")],
                    captions=[clip["captions"]["description"]])
        corpora["musiccaps"].append(clip)
    long_ones = [c for c in pools["colobot"] if c["duration"] > 60]  # AudioSetCaps clips are not all 10 s
    colobot = _shares([c for c in pools["colobot"] if c["duration"] <= 60], {"musiccaps": 0.5, "audiosetcaps": 0.5}, rng)
    colobot["audiosetcaps"] += long_ones
    for corpus, group in colobot.items():
        for clip in group:
            llm = corpus == "audiosetcaps"
            clip.update(split="train", captions=captions.colobot_music_captions(clip["words"], cap_rng, llm),
                        tags=captions.colobot_music_tags(clip["words"]))
            corpora[corpus].append(clip)

    # sound: scenes to AudioCaps and Clotho; Sonic Pi recordings on their own to WavCaps (SoundBible)
    scenes = _shares(pools["scene"], {"audiocaps": 0.5, "clotho": 0.5}, rng)
    for corpus, group in scenes.items():
        for clip in _with_split(group, {"train": 0.8, "valid": 0.1, "test": 0.1}, rng):
            # AudioCaps: one caption per training clip, five per valid/test clip; Clotho: five everywhere
            n = 1 if corpus == "audiocaps" and clip["split"] == "train" else 5
            variants = _scene_variants(clip, n, _rng(seed, "scene-captions", clip["key"]))
            clip.update(captions=variants, tags=[t.strip() for t in clip["captions"]["tags"].split(",")],
                        title=f"scene {clip['id']}", sound_id=str(100000 + clip["index"]))
            corpora[corpus].append(clip)
    for k, clip in enumerate(pools["sonic"]):
        clip.update(split="train", captions=[captions.sonic_pi_caption(clip["sonic_class"], cap_rng)],
                    tags=captions.sonic_pi_tags(clip["sonic_class"]), sound_id=str(3000 + k))
        corpora["wavcaps"].append(clip)
    for corpus, clips in corpora.items():
        for clip in clips:
            clip.setdefault("yt", youtube_like_id(seed, clip["key"]))
            clip.setdefault("start", int(_rng(seed, "start", clip["key"]).integers(0, 300)))
    return corpora


def _scene_variants(clip: dict, n: int, rng: np.random.Generator) -> List[str]:
    """n differently worded descriptions of one scene (different annotators, as in AudioCaps/Clotho)."""
    out: List[str] = []
    for _ in range(40):
        text = sound.caption(clip["events"], clip["labels"]["arrangement"], rng)
        if text not in out:
            out.append(text)
        if len(out) == n:
            break
    while len(out) < n:  # a scene with few phrasings: annotators sometimes agree word for word
        out.append(out[len(out) % max(1, len(out))])
    return out


NEAR_DUPLICATE = ("A large crowd of people cheers and applauds loudly inside a big hall while a man speaks "
                  "over a public address system and music plays softly in the background")


def plant_defects(corpora: Dict[str, List[dict]], probe_asterisk: List[dict]) -> Dict[str, List[str]]:
    """Plant one or more of every defect the preparers and the curation report count; returns what
    was planted where (summary.json ``planted``)."""
    planted: Dict[str, List[str]] = defaultdict(list)
    audiocaps = [c for c in corpora["audiocaps"] if c["split"] == "train"]
    for clip in audiocaps[:2]:  # listed, never downloaded
        clip["audio_missing"] = True
        planted["missing_audio"].append(f"audiocaps {clip['key']}")
    clotho = [c for c in corpora["clotho"] if c["split"] == "train"]
    clotho[0]["corrupt"] = True
    planted["unreadable_audio"].append(f"clotho {clotho[0]['key']}")
    first = clotho[1]["captions"]
    first[1], first[2] = "   ", f" {first[0]} "  # an empty slot; a duplicate after strip (the preparer)
    planted["empty_caption"].append(f"clotho {clotho[1]['key']} caption_2")
    planted["duplicate_caption"].append(f"clotho {clotho[1]['key']} caption_3")
    first[3] = first[0].upper().rstrip(".") + "!"  # the same words in other case and punctuation (curation)
    planted["duplicate_exact"].append(f"clotho {clotho[1]['key']} caption_4")
    clotho[2]["captions"][:2] = [NEAR_DUPLICATE, NEAR_DUPLICATE.replace("large", "huge")]
    planted["duplicate_near"].append(f"clotho {clotho[2]['key']} caption_2")
    clotho[3]["captions"][4] = "\u200b\u200b"  # invisible characters only: empty once normalised
    planted["empty_after_normalisation"].append(f"clotho {clotho[3]['key']} caption_5")
    clotho[4]["captions"][4] = "Ok"
    planted["caption_too_short"].append(f"clotho {clotho[4]['key']} caption_5")
    clotho[5]["captions"][4] = " ".join([clotho[5]["captions"][0]] * 60)[:2400]
    planted["caption_too_long"].append(f"clotho {clotho[5]['key']} caption_5")
    wavcaps = corpora["wavcaps"]
    wavcaps[0]["captions"] = ["Hm"]  # its only caption is too short: no caption left
    planted["no_caption_left"].append(f"wavcaps {wavcaps[0]['key']}")
    # evaluation overlaps: an AudioSetCaps clip that is an AudioCaps test clip (same video and start),
    # and Asterisk probe prompts also listed in ParaSpeechCaps' training split (same origin)
    test = [c for c in corpora["audiocaps"] if c["split"] == "test"][0]
    corpora["audiosetcaps"].append(dict(test, key=test["key"] + "_asc", split="train", shared_audio=test["key"],
                                        subset="vggsound",
                                        captions=["A recording in which " + test["captions"][0][0].lower()
                                                  + test["captions"][0][1:]]))
    planted["eval_overlap"].append(f"audiosetcaps {test['yt']} = audiocaps test")
    for clip in probe_asterisk[:3]:
        copy = {"key": clip["key"] + "_psc", "split": "train", "domain": "speech", "kind": "real",
                "package": f"asterisk-core-sounds-{clip['lang']}-wav", "path": clip["path"],
                "speaker": clip["probe_speaker_folder"], "name": clip["probe_name"], "duration": 0.0,
                "captions": [f"A speaker reads a telephone prompt in {clip['language']}."], "transcript": "",
                "tags": [], "render": "file", "yt": "", "start": 0, "shared_audio": clip["key"]}
        corpora["paraspeechcaps"].append(copy)
        planted["eval_overlap"].append(f"paraspeechcaps {copy['key']} = probe clip {clip['key']}")
    # merged across corpora: AudioCaps training clips also captioned by AudioSetCaps
    for clip in audiocaps[2:5]:
        # in the VGGSound file: the YouTube-8M cap must not take a merge partner away
        corpora["audiosetcaps"].append(dict(clip, key=clip["key"] + "_asc", shared_audio=clip["key"], subset="vggsound",
                                            captions=[f"The audio captures a scene in which {clip['captions'][0][0].lower()}"
                                                      f"{clip['captions'][0][1:]}"]))
        planted["merged_across_corpora"].append(f"audiocaps/audiosetcaps {clip['yt']}")
    # durations outside 1-60 s: short Asterisk prompts (planned), one 70 s AudioSetCaps excerpt
    planted["clip_too_long"] += [f"audiosetcaps {c['key']}" for c in corpora["audiosetcaps"] if c["duration"] > 60]
    planted["clip_too_short"] += [f"paraspeechcaps/audiosetcaps {c['key']}" for cs in corpora.values()
                                  for c in cs if c.get("domain") == "speech" and 0 < c.get("duration", 1) < 1.0]
    return dict(planted)


# --- rendering ---------------------------------------------------------------------------------


def _read_excerpt(path: str, offset: float = 0.0, duration: float = 0.0) -> np.ndarray:
    info = sf.info(path)
    start = int(offset * info.samplerate)
    frames = int(duration * info.samplerate) if duration else -1
    x, sr = sf.read(path, start=start, frames=frames, dtype="float32", always_2d=True)
    return resample(x.mean(axis=1), sr, SAMPLE_RATE)


def _render_task(task) -> List[Tuple[str, int, dict]]:
    """Render one batch of clips to ``staging/<key>.wav``; returns (key, samples, descriptors)."""
    kind, clips, tools, staging, seed = task
    if kind == "midi":
        rendered = music.render_chunk(clips, tools["soundfont"])
    elif kind == "espeak":
        rendered = [(clip, speech.render(clip)) for clip in clips]
    elif kind == "scene":
        rendered = [(clip, sound.render(clip, tools["sonic_pi_samples"])) for clip in clips]
    else:
        rendered = []
        for clip in clips:
            x = fade(_read_excerpt(clip["path"], clip.get("offset", 0.0), clip.get("excerpt", 0.0)), 0.005, 0.02)
            if clip.get("pad_to") and len(x) < clip["pad_to"] * SAMPLE_RATE:  # a one-shot sample and its silence
                x = np.concatenate([x, np.zeros(int(clip["pad_to"] * SAMPLE_RATE) - len(x), dtype=x.dtype)])
            rendered.append((clip, x))
    out = []
    for clip, audio in rendered:
        desc = captions.music_descriptors(audio) if clip.get("track") else {}
        n = normalize_and_write(Path(staging) / f"{clip['key']}.wav", audio, _rng(seed, "gain", clip["key"]))
        out.append((clip["key"], n, desc))
    return out


def render_all(clips: List[dict], tools: Dict[str, str], staging: Path, jobs: int, seed: int) -> Dict[str, tuple]:
    by_kind = defaultdict(list)
    for clip in clips:
        by_kind[clip["render"]].append(clip)
    tasks = [("midi", chunk, tools, str(staging), seed) for chunk in music.chunks(by_kind["midi"])]
    for kind in ("file", "espeak", "scene"):
        items = by_kind[kind]
        tasks += [(kind, items[k: k + 25], tools, str(staging), seed) for k in range(0, len(items), 25)]
    staging.mkdir(parents=True, exist_ok=True)
    results: Dict[str, tuple] = {}
    if jobs <= 1:
        for batch in map(_render_task, tasks):
            results.update((key, (n, desc)) for key, n, desc in batch)
        return results
    with _pool(jobs) as pool:
        for batch in pool.imap_unordered(_render_task, tasks):
            results.update((key, (n, desc)) for key, n, desc in batch)
    return results


MAX_AUDIOSET_SECONDS = 10.5  # AudioSet segments are at most 10 s: longer excerpts are not AudioSet clips


def audioset_clips(corpora: Dict[str, List[dict]]) -> List[dict]:
    """The mini's AudioSet clips: its AudioCaps and MusicCaps clips and the ``Y<ytid>`` clips of
    AudioSetCaps (its AudioSet part), each once (planted copies of another corpus's clip are left
    out), with ``audioset_labels`` from the generator's ground truth
    (:func:`~audiotext.data.captionstew_mini.layouts.audioset_labels`) and the clip's own split."""
    out, seen = [], set()
    for corpus in ("audiocaps", "musiccaps", "audiosetcaps"):
        for clip in corpora[corpus]:
            if clip.get("shared_audio") or clip["yt"] in seen or clip["duration"] > MAX_AUDIOSET_SECONDS:
                continue
            if corpus == "audiosetcaps" and (clip.get("subset") or layouts._subset_of(
                    clip, layouts.AUDIOSETCAPS_SUBSETS)) != "audioset":
                continue
            labels = layouts.audioset_labels(clip)
            if not labels:
                continue
            seen.add(clip["yt"])
            out.append(dict(clip, audioset_labels=labels))
    return out


def _link(src: Path, dest: Path) -> None:
    """``dest`` as a hard link to ``src`` (a copy where the file system has no hard links)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        dest.hardlink_to(src)
    except OSError:
        shutil.copyfile(src, dest)


def _place(staging: Path, key: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = staging / f"{key}.wav"
    if dest.suffix == ".wav":
        shutil.copyfile(src, dest)
    else:  # FLAC (WavCaps): re-encode
        x, sr = sf.read(str(src), dtype="int16")
        sf.write(str(dest), x, sr, subtype="PCM_16")


# --- probe sets --------------------------------------------------------------------------------


def write_probes(out: Path, staging: Path, probes: Dict[str, List[dict]], jobs: int) -> Dict[str, dict]:
    """Probe CutSets in the downstream layout (``probes/<task>/cuts_<split>.jsonl.gz``)."""
    from audiotext.data.downstream.common import Item, write_splits

    audio_dir = out / "probes" / "audio"
    summaries = {}
    for clip in (c for group in probes.values() for c in group):
        dest = audio_dir / f"{clip['key']}.wav"
        if not dest.exists():
            _place(staging, clip["key"], dest)
    tasks = {  # task -> (clip group, label field, domain, split field)
        "spoken_language": ("asterisk", "language", "speech"),
        "speaker": ("asterisk", "speaker", "speech"),
        "sound_effect": ("colobot_sfx", "sfx_class", "sound"),
        "sample_family": ("sonic_probe", "sample_family", "sound"),
        "instrument": ("midi", "instrument", "music"),
        "voice": ("espeak", "voice", "speech"),
        "speaking_rate": ("espeak", "speaking_rate", "speech"),
        "tempo": ("midi", "tempo_bucket", "music"),
        "event_class": ("scene", "event_class", "sound"),
    }
    for task, (group, label, domain) in tasks.items():
        items = []
        for clip in probes[group]:
            value = clip.get(label, clip.get("labels", {}).get(label))
            items.append(Item(split=clip["probe_split"], path=(audio_dir / f"{clip['key']}.wav").resolve(),
                              id=clip["key"], custom={"label": value, "kind": clip["kind"]},
                              origin=clip["origin"]))
        order = sorted({i.split for i in items}) if group in ("colobot_sfx", "sonic_probe") else PROBE_SPLITS
        write_splits(task, domain, items, out / "probes" / task, split_order=order, num_jobs=jobs)
        summaries[task] = {"clips": Counter(i.split for i in items), "labels": len({i.custom["label"] for i in items}),
                           "kind": probes[group][0]["kind"]}
    return summaries


def plan_sample_family(seed: int, sample_dir: str, folds: int = 5) -> List[dict]:
    """The Sonic Pi recordings the scene generator keeps out of training (its probe files), each a
    probe clip labelled with its family (percussion, music, electronic: :data:`sound.CATEGORIES`),
    dealt into ``folds`` folds per family."""
    assigned = sound.assign_real_splits(sound.real_files(sample_dir), SCENE_FILE_FRACTIONS, seed)
    by_family = defaultdict(list)
    for cls, per_split in sorted(assigned.items()):
        for split in ("valid", "test"):
            for name, duration in per_split[split]:
                by_family[sound.CATEGORY[cls]].append((name, min(duration, 20.0)))
    out = []
    for family in sorted(by_family):
        members = sorted(set(by_family[family]))
        for rank, i in enumerate(_rng(seed, "sample-family", family).permutation(len(members))):
            name, duration = members[i]
            out.append({"key": f"sonicpi_probe_{Path(name).stem}", "path": str(Path(sample_dir) / name),
                        "render": "file", "excerpt": duration, "pad_to": 1.0, "kind": "real",
                        "sample_family": family, "probe_split": f"fold{rank % folds + 1}",
                        "origin": f"sonic-pi:{Path(name).stem}"})
    return out


def plan_sound_effects(seed: int, folds: int = 5) -> List[dict]:
    """Colobot's labelled effects of at least 0.1 s, dealt into ``folds`` folds per class."""
    effects = [e for e in real.colobot_sound_effects() if _duration(e.path) >= 0.1]
    by_class = defaultdict(list)
    for effect in effects:
        by_class[effect.label].append(effect)
    out = []
    for label in sorted(by_class):
        members = by_class[label]
        for rank, i in enumerate(_rng(seed, "sfx", label).permutation(len(members))):
            effect = members[i]
            out.append({"key": f"colobot_sfx_{effect.number:03d}_{effect.name}", "path": effect.path,
                        "render": "file", "kind": "real", "sfx_class": label,
                        "probe_split": f"fold{rank % folds + 1}", "origin": f"colobot:sound{effect.number:03d}"})
    return out


# --- the build ---------------------------------------------------------------------------------


def build(out_dir, seed: int = 0, jobs: int = 2, scale: float = 1.0) -> dict:
    """Build CaptionStew-mini under ``out_dir`` and return its summary (also ``summary.json``).

    ``scale`` multiplies every clip count (1.0: ~5,000 clips; the tests use 0.05).
    Raises MissingToolError when a Debian tool or data package is absent (the message names all).
    """
    started = time.time()
    tools = check_tools()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # an --out that cannot be written fails here, before any work
    sz = sizes(scale)
    for sub in ("corpora", "probes", "staging"):  # a rebuild must not leave an earlier build's files behind
        if (out / sub).exists():
            shutil.rmtree(out / sub)

    probe_asterisk, train_asterisk = plan_asterisk(seed, sz["asterisk_probe_per_lang"], sz["asterisk_train_per_lang"])
    for clip in probe_asterisk:
        clip.update(render="file", kind="real", probe_split=clip["split"],
                    probe_speaker_folder=f"{clip['speaker']}-{clip['lang']}", probe_name=clip["name"].replace("/", "-"))
        clip["origin"] = f"ears:{clip['probe_speaker_folder']}/{clip['probe_name']}"
    for clip in train_asterisk:
        clip["render"] = "file"
    synthetic = plan_synthetic(seed, sz, tools["sonic_pi_samples"])
    colobot = plan_colobot_music(seed, sz["colobot_excerpts_per_track"], jobs)
    for clip in colobot:
        clip.update(render="file", excerpt=clip["duration"])
    sonic = plan_sonic_pi_singles(tools["sonic_pi_samples"], scene_training_files(seed, tools["sonic_pi_samples"]))
    for clip in sonic:  # WavCaps clips are whole recordings: a short hit is heard with the silence after it
        clip.update(render="file", excerpt=clip["duration"], pad_to=1.5)
    sfx = plan_sound_effects(seed)
    sonic_probe = plan_sample_family(seed, tools["sonic_pi_samples"])
    probes = {"asterisk": probe_asterisk, "colobot_sfx": sfx, "sonic_probe": sonic_probe}
    for name, (_, probe) in synthetic.items():
        for clip in probe:
            clip["origin"] = f"captionstew_mini:{clip['key']}"
            clip.update({k: v for k, v in clip["labels"].items() if isinstance(v, (str, int))})
        probes[name] = probe

    to_render = (probe_asterisk + train_asterisk + colobot + sonic + sfx + sonic_probe
                 + [c for pretrain, probe in synthetic.values() for c in pretrain + probe])
    log.info("captionstew_mini: rendering %d clips with %d job(s)", len(to_render), jobs)
    staging = out / "staging"
    rendered = render_all(to_render, tools, staging, jobs, seed)
    for clip in to_render:
        clip["duration"] = rendered[clip["key"]][0] / SAMPLE_RATE

    # Colobot excerpts are described from where their measured descriptors fall among all excerpts
    descs = {c["key"]: rendered[c["key"]][1] for c in colobot}
    edges = {k: np.percentile([d[k] for d in descs.values()], [100 / 3, 200 / 3]) for k in
             ("rms_db", "centroid_hz", "onsets_per_s")} if descs else {}
    for clip in colobot:
        clip["words"] = captions.colobot_music_words(descs[clip["key"]], edges)

    pools = {"asterisk": train_asterisk, "espeak": synthetic["espeak"][0], "midi": synthetic["midi"][0],
             "scene": synthetic["scene"][0], "colobot": colobot, "sonic": sonic}
    corpora = assign_corpora(seed, pools)
    planted = plant_defects(corpora, probe_asterisk)

    corpora["audioset"] = audioset_clips(corpora)
    stats = {}
    placed: Dict[str, Path] = {}  # clip key -> its audio in a caption corpus (the AudioSet files link to it)
    for corpus, clips in corpora.items():
        root = out / "corpora" / corpus
        paths = layouts.WRITERS[corpus](root, clips)
        per = defaultdict(lambda: {"clips": 0, "hours": 0.0})
        for clip in clips:
            dest = root / paths[clip["key"]]
            if clip.get("audio_missing"):
                continue
            if clip.get("corrupt"):
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(b"RIFF\x00\x00\x00\x00WAVE truncated by a failed download")
                continue
            if corpus == "audioset":
                _link(placed[clip["key"]], dest)
            else:
                _place(staging, clip.get("shared_audio", clip["key"]), dest)
                placed.setdefault(clip["key"], dest)
            group = per[f"{clip.get('domain', 'sound')}/{clip['kind']}"]
            group["clips"] += 1
            group["hours"] += clip["duration"] / 3600
        stats[corpus] = {k: {"clips": v["clips"], "hours": round(v["hours"], 4)} for k, v in sorted(per.items())}
    probe_stats = write_probes(out, staging, probes, jobs)
    shutil.rmtree(staging)

    summary = {
        "corpus": "captionstew_mini", "out_dir": str(out.resolve()), "seed": seed, "scale": scale,
        "corpora": stats, "probes": probe_stats, "planted": planted,
        "hours": round(sum(g["hours"] for s in stats.values() for g in s.values()), 4),
        "sample_rate": SAMPLE_RATE, "jobs": jobs, "build_time_s": round(time.time() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
