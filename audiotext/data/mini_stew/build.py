"""Build the mini_stew corpus: plan every clip in the parent, render in a pool, write Lhotse manifests.

All randomness is decided from (seed, domain, clip index) during planning, so captions, labels and
durations do not depend on the number of workers or on the order in which they finish.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from . import music, sound, speech
from .common import SAMPLE_RATE, SPLITS, check_tools, clip_rng, normalize_and_write, split_counts

log = logging.getLogger(__name__)

DOMAIN_SHARES = {"speech": 0.4, "music": 0.3, "sound": 0.3}
CLIPS_PER_TASK = 25  # speech/sound clips per pool task: amortizes inter-process overhead


def domain_sizes(num_clips: int) -> Dict[str, int]:
    speech_n = int(round(num_clips * DOMAIN_SHARES["speech"]))
    music_n = int(round(num_clips * DOMAIN_SHARES["music"]))
    return {"speech": speech_n, "music": music_n, "sound": num_clips - speech_n - music_n}


def plan_corpus(num_clips: int, seed: int, splits: Sequence[float], tools: Dict[str, str]) -> List[dict]:
    sizes = domain_sizes(num_clips)
    nonzero = sum(1 for f in splits if f > 0)
    if min(sizes.values()) < nonzero:
        raise ValueError(f"num_clips={num_clips} is too small: every domain needs a clip in each split")
    counts = {d: split_counts(n, splits) for d, n in sizes.items()}
    clips = speech.plan(sizes["speech"], counts["speech"], seed)
    clips += music.plan(sizes["music"], counts["music"], seed)
    clips += sound.plan(sizes["sound"], counts["sound"], seed, tools["sonic_pi_samples"], splits)
    return clips


def check_disjoint(clips: List[dict]) -> None:
    """No sentence, melody or source recording may appear in more than one split."""
    owner: Dict[Tuple[str, str], str] = {}
    for clip in clips:
        items = clip["source_item"] if isinstance(clip["source_item"], list) else [clip["source_item"]]
        for item in items:
            key = (clip["domain"], item)
            if owner.setdefault(key, clip["split"]) != clip["split"]:
                raise AssertionError(f"{clip['domain']} item {item!r} is in both {owner[key]} and {clip['split']}")


# --- workers -------------------------------------------------------------------------------


def _write(clip: dict, audio, out_dir: str) -> Tuple[str, int]:
    path = Path(out_dir) / "wav" / clip["split"] / f"{clip['id']}.wav"
    gain_rng = clip_rng(clip["seed"], clip["domain"], clip["index"], 4)
    return clip["id"], normalize_and_write(path, audio, gain_rng)


def _render_task(task: Tuple[str, List[dict], Dict[str, str], str]) -> List[Tuple[str, int]]:
    kind, clips, tools, out_dir = task
    if kind == "music":
        return [_write(clip, audio, out_dir) for clip, audio in music.render_chunk(clips, tools["soundfont"])]
    if kind == "speech":
        return [_write(clip, speech.render(clip), out_dir) for clip in clips]
    return [_write(clip, sound.render(clip, tools["sonic_pi_samples"]), out_dir) for clip in clips]


def _tasks(clips: List[dict], tools: Dict[str, str], out_dir: str) -> list:
    by_domain = defaultdict(list)
    for clip in clips:
        by_domain[clip["domain"]].append(clip)
    # music chunks are the longest tasks: schedule them first so the pool stays busy to the end
    tasks = [("music", chunk, tools, out_dir) for chunk in music.chunks(by_domain["music"])]
    for domain in ("speech", "sound"):
        items = by_domain[domain]
        tasks += [(domain, items[k: k + CLIPS_PER_TASK], tools, out_dir) for k in range(0, len(items), CLIPS_PER_TASK)]
    return tasks


def render_all(clips: List[dict], tools: Dict[str, str], out_dir: str, jobs: int) -> Dict[str, int]:
    tasks = _tasks(clips, tools, out_dir)
    num_samples: Dict[str, int] = {}
    if jobs <= 1:
        results = map(_render_task, tasks)
        for batch in results:
            num_samples.update(batch)
        return num_samples
    # fork: works from any caller (spawn would demand a __main__ guard in every script);
    # workers only run numpy and subprocesses, so inherited thread state is harmless.
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(jobs) as pool:
        for batch in pool.imap_unordered(_render_task, tasks):
            num_samples.update(batch)
    return num_samples


# --- manifests -----------------------------------------------------------------------------


def _supervisions(clip: dict, duration: float):
    from lhotse import SupervisionSegment

    out = []
    for style, text in clip["captions"].items():
        custom = {"caption": text, "style": style, "domain": clip["domain"], "source": clip["source"], **clip["labels"]}
        extra = {}
        if clip["domain"] == "speech":
            extra = {"language": "en", "speaker": clip["labels"]["voice"]}
            if style == "transcript":
                extra["text"] = clip["text"]
        out.append(SupervisionSegment(id=f"{clip['id']}-{style}", recording_id=clip["id"], start=0.0,
                                      duration=duration, channel=0, custom=custom, **extra))
    return out


def write_manifests(clips: List[dict], num_samples: Dict[str, int], out_dir: Path) -> Dict[str, dict]:
    from lhotse import AudioSource, CutSet, Recording, RecordingSet, SupervisionSet

    manifest_dir = out_dir / "manifests"
    manifest_dir.mkdir(parents=True, exist_ok=True)
    stats = {}
    for split in SPLITS:
        recordings, supervisions = [], []
        split_clips = sorted((c for c in clips if c["split"] == split), key=lambda c: c["id"])
        stats[split] = {"speech": 0, "music": 0, "sound": 0, "total": 0, "hours": 0.0}
        for clip in split_clips:
            n = num_samples[clip["id"]]
            duration = n / SAMPLE_RATE
            path = (out_dir / "wav" / split / f"{clip['id']}.wav").resolve()
            # Known sample counts: no need to reopen 3000 files to read their headers.
            recordings.append(Recording(id=clip["id"], sources=[AudioSource(type="file", channels=[0], source=str(path))],
                                        sampling_rate=SAMPLE_RATE, num_samples=n, duration=duration))
            supervisions += _supervisions(clip, duration)
            stats[split][clip["domain"]] += 1
            stats[split]["total"] += 1
            stats[split]["hours"] += duration / 3600
        stats[split]["hours"] = round(stats[split]["hours"], 4)
        recs, sups = RecordingSet.from_recordings(recordings), SupervisionSet.from_segments(supervisions)
        recs.to_file(manifest_dir / f"mini_stew_recordings_{split}.jsonl.gz")
        sups.to_file(manifest_dir / f"mini_stew_supervisions_{split}.jsonl.gz")
        cuts = CutSet.from_manifests(recordings=recs, supervisions=sups)
        # one cut per clip: name it after the clip rather than lhotse's "<recording>-<position>"
        cuts = CutSet.from_cuts(cut.with_id(cut.recording_id) for cut in cuts)
        cuts.to_file(manifest_dir / f"mini_stew_cuts_{split}.jsonl.gz")
    return stats


def build(out_dir, num_clips: int = 3000, seed: int = 0, jobs: int = 2,
          splits: Sequence[float] = (0.8, 0.1, 0.1)) -> dict:
    """Generate the corpus under out_dir and return the summary (also saved as manifests/summary.json).

    Raises MissingToolError when espeak-ng, fluidsynth, the soundfont or the Sonic Pi samples are absent.
    """
    started = time.time()
    tools = check_tools()
    out = Path(out_dir)
    clips = plan_corpus(num_clips, seed, tuple(splits), tools)
    check_disjoint(clips)
    for sub in ("wav", "manifests"):  # a rebuild must not leave clips of an earlier, larger build behind
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    log.info("mini_stew: planned %d clips, rendering with %d job(s)", len(clips), jobs)
    num_samples = render_all(clips, tools, str(out), jobs)
    stats = write_manifests(clips, num_samples, out)
    summary = {
        "corpus": "mini_stew", "out_dir": str(out.resolve()), "num_clips": len(clips), "seed": seed,
        "splits": stats, "hours": round(sum(s["hours"] for s in stats.values()), 4),
        "sample_rate": SAMPLE_RATE, "jobs": jobs, "build_time_s": round(time.time() - started, 1),
    }
    (out / "manifests" / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
