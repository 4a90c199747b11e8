"""Text-to-audio and audio-to-text retrieval metrics (CLAP convention)."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np


def ranks_text_to_audio(similarity: np.ndarray, caption_clip: Sequence[int]) -> np.ndarray:
    """similarity: (num_captions, num_clips). 1-based rank of each caption's own clip."""
    caption_clip = np.asarray(caption_clip)
    own = similarity[np.arange(len(caption_clip)), caption_clip]
    # ties count against the query: a clip scored equal to the right one ranks before it
    # (so a constant model cannot score R@1 = 1); the right clip itself is among the >=
    return (similarity >= own[:, None]).sum(1)


def ranks_audio_to_text(similarity: np.ndarray, caption_clip: Sequence[int]) -> np.ndarray:
    """1-based rank of the best-ranked caption of each clip among all captions."""
    caption_clip = np.asarray(caption_clip)
    sim = similarity.T  # (num_clips, num_captions)
    ranks = np.empty(sim.shape[0], dtype=np.int64)
    for clip in range(sim.shape[0]):
        own = sim[clip, caption_clip == clip]
        if own.size == 0:
            raise ValueError(f"clip {clip} has no caption")
        best = own.max()
        # ties against the query, as above; the clip's other captions do not push it down
        ranks[clip] = (sim[clip][caption_clip != clip] >= best).sum() + 1
    return ranks


def rank_metrics(ranks: np.ndarray, prefix: str, ks=(1, 5, 10)) -> Dict[str, float]:
    out = {f"{prefix}.R@{k}": float((ranks <= k).mean()) for k in ks}
    out[f"{prefix}.mAP@10"] = float(np.where(ranks <= 10, 1.0 / ranks, 0.0).mean())
    out[f"{prefix}.median_rank"] = float(np.median(ranks))
    return out


def retrieval_metrics(audio_emb: np.ndarray, text_emb: np.ndarray, caption_clip: List[int]) -> Dict[str, float]:
    """audio_emb (N, E) and text_emb (C, E), both L2-normalised; caption_clip[c] = clip of caption c."""
    similarity = text_emb @ audio_emb.T
    metrics = {}
    metrics.update(rank_metrics(ranks_text_to_audio(similarity, caption_clip), "retrieval.t2a"))
    metrics.update(rank_metrics(ranks_audio_to_text(similarity, caption_clip), "retrieval.a2t"))
    metrics["retrieval.chance.R@1"] = 1.0 / audio_emb.shape[0]
    metrics["retrieval.num_clips"] = float(audio_emb.shape[0])
    metrics["retrieval.num_captions"] = float(len(caption_clip))
    return metrics
