"""Curation: merge per-corpus CutSets into one training stew, with a count for every drop reason.

Real corpora come with empty captions, duplicate clips, clips that are too short
or too long, and captions whose supervision lacks the fields the pipeline needs.
Each such case is dropped here, once, and counted by reason; nothing is dropped
silently further down.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List

from lhotse import CutSet

log = logging.getLogger(__name__)

REQUIRED_FIELDS = ("caption", "style", "domain", "source")


@dataclass
class CurationConfig:
    min_clip_duration: float = 0.5
    max_clip_duration: float = 30.0
    min_caption_chars: int = 3
    max_caption_chars: int = 600


def curate(cut_sets: Iterable[CutSet], conf: CurationConfig, where: str = "") -> tuple:
    """Return (curated CutSet, report dict). Supervisions with bad captions are removed;
    a clip left with no caption is dropped."""
    dropped_clips: Counter = Counter()
    dropped_captions: Counter = Counter()
    kept_by: Dict[str, Counter] = defaultdict(Counter)
    seen = set()
    kept: List = []
    hours = 0.0
    for cuts in cut_sets:
        for cut in cuts:
            if cut.id in seen:
                dropped_clips["duplicate_id"] += 1
                continue
            seen.add(cut.id)
            if cut.duration < conf.min_clip_duration:
                dropped_clips["too_short"] += 1
                continue
            if cut.duration > conf.max_clip_duration:
                dropped_clips["too_long"] += 1
                continue
            good = []
            for sup in cut.supervisions:
                custom = sup.custom or {}
                missing = [f for f in REQUIRED_FIELDS if not custom.get(f)]
                if missing:
                    dropped_captions[f"missing_{missing[0]}"] += 1
                    continue
                n = len(custom["caption"].strip())
                if n < conf.min_caption_chars:
                    dropped_captions["caption_too_short"] += 1
                    continue
                if n > conf.max_caption_chars:
                    dropped_captions["caption_too_long"] += 1
                    continue
                good.append(sup)
            if not good:
                dropped_clips["no_usable_caption"] += 1
                continue
            if len(good) != len(cut.supervisions):
                cut.supervisions = good
            for sup in good:
                kept_by["style"][sup.custom["style"]] += 1
                kept_by["source"][sup.custom["source"]] += 1
            kept_by["domain"][good[0].custom["domain"]] += 1
            hours += cut.duration / 3600.0
            kept.append(cut)
    report = {
        "where": where, "clips": len(kept), "captions": sum(kept_by["style"].values()), "hours": round(hours, 3),
        "dropped_clips": dict(dropped_clips), "dropped_captions": dict(dropped_captions),
        "clips_by_domain": dict(kept_by["domain"]), "captions_by_style": dict(kept_by["style"]),
        "captions_by_source": dict(kept_by["source"]),
    }
    for reason, n in sorted({**dropped_clips, **dropped_captions}.items()):
        log.warning("%s: dropped %d (%s)", where or "curation", n, reason)
    return CutSet.from_cuts(kept), report
