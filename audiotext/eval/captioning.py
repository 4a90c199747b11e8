"""Captioning quality on a test split, beside a trivial baseline scored the same way."""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Sequence

from audiotext.data.dataset import clip_captions
from audiotext.eval.caption_metrics import caption_scores


def most_frequent_caption(cuts) -> str:
    """The single most frequent caption of a CutSet (ties: the first seen)."""
    counts = Counter(c["caption"] for cut in cuts for c in clip_captions(cut))
    if not counts:
        raise ValueError("no training caption to build the most-frequent-caption baseline from")
    return counts.most_common(1)[0][0]


def caption_results(candidates: Sequence[str], references: Sequence[List[str]], baseline_caption: str,
                    meteor_jar: Optional[str] = None) -> Dict[str, float]:
    """``caption.<metric>`` for the model and ``caption.baseline.<metric>`` for the
    baseline that answers ``baseline_caption`` for every clip."""
    out = {f"caption.{k}": v for k, v in caption_scores(candidates, references, meteor_jar=meteor_jar).items()}
    base = caption_scores([baseline_caption] * len(references), references, meteor_jar=meteor_jar)
    out.update({f"caption.baseline.{k}": v for k, v in base.items()})
    return out
