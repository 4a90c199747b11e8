"""Embedding a CutSet with a trained (or randomly initialised) model, through its embedding
interface (:class:`audiotext.embedding.AudioEmbedding`)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch

from audiotext.data.audio_checks import load_checked_audio
from audiotext.data.dataset import SkipCounter, clip_captions, tokenize
from audiotext.models.pooling import MeanPooling

log = logging.getLogger(__name__)


@dataclass
class EmbeddedSet:
    cut_ids: List[str]
    labels: List[Dict[str, Any]]  # custom fields of each clip's first supervision
    pooled: np.ndarray  # (N, D) mean-pooled encoder frames: what probes see
    audio: Optional[np.ndarray] = None  # (N, E) retrieval embeddings, when the objective has them
    captions: List[List[str]] = field(default_factory=list)
    skipped: Dict[str, Any] = field(default_factory=dict)
    extra: List[Any] = field(default_factory=list)  # per clip, what ``frame_hook`` returned
    # per clip (T_i, D) float16 encoder frames, averaged over ``frame_stride`` frames (attention probes)
    frames: List[np.ndarray] = field(default_factory=list)


@torch.no_grad()
def embed_cuts(model, cuts, batch_seconds: float = 120.0, with_captions: bool = True,
               device: torch.device = torch.device("cpu"),
               frame_hook: Optional[Callable[[torch.Tensor, torch.Tensor], List[Any]]] = None,
               frame_stride: int = 0) -> EmbeddedSet:
    """Encode every usable clip of ``cuts`` with ``model`` (an :class:`~audiotext.embedding.AudioEmbedding`:
    a task, or the audio side alone from :func:`~audiotext.embedding.load_audio_model`); unusable ones (audio_checks' reasons, ``too_short`` below
    the encoder's minimum input, ``out_of_range`` features) are skipped and counted in ``skipped``.

    ``frame_hook(frames, frame_lens)``, when given, runs on each batch of encoder
    frames and returns one item per clip (e.g. a generated caption); the items land
    in ``EmbeddedSet.extra`` in clip order. ``frame_stride`` > 0 keeps each clip's
    frames, averaged in groups of that many (less memory for attention probes).
    ``EmbeddedSet.audio`` holds retrieval embeddings when the model has an objective with the
    ``retrieval`` capability.
    """
    model.eval().to(device)
    pool = MeanPooling()
    objective = getattr(model, "objective", None)  # the audio side alone has none
    has_audio_space = objective is not None and objective.has("retrieval")
    items = sorted(cuts, key=lambda c: c.duration)  # similar lengths together: little padding
    ids, labels, pooled, audio_emb, captions, extra, kept = [], [], [], [], [], [], []
    skips = SkipCounter()
    batch: list = []

    def flush():
        if not batch:
            return
        x, lens = model.collate_features([f for _, f in batch])
        frames, frame_lens = model.encode(x.to(device), lens.to(device))
        pooled.append(pool(frames, frame_lens).float().cpu().numpy())
        if has_audio_space:
            audio_emb.append(objective.embed_audio(frames, frame_lens).float().cpu().numpy())
        if frame_hook is not None:
            extra.extend(frame_hook(frames, frame_lens))
        if frame_stride > 0:
            for row, n in zip(frames.float().cpu(), frame_lens.tolist()):
                kept.append(strided_mean(row[:n], frame_stride).numpy().astype(np.float16))
        for cut, _ in batch:
            ids.append(cut.id)
            sup = cut.supervisions[0] if cut.supervisions else None
            labels.append(dict(sup.custom or {}) if sup is not None else {})
            captions.append([c["caption"] for c in clip_captions(cut)])
        batch.clear()

    seconds = 0.0
    for cut in items:
        samples, reason = load_checked_audio(cut, model.sample_rate)
        feat = None
        if samples is not None:
            feat, reason = model.featurize_checked(samples)
        if feat is None:
            skips.update([(cut.id, reason)])
            log.warning("skipping %s: %s", cut.id, reason)
            continue
        batch.append((cut, feat))
        seconds += cut.duration
        if seconds >= batch_seconds:
            flush()
            seconds = 0.0
    flush()
    if not ids:
        raise RuntimeError("no usable clip to embed")
    return EmbeddedSet(
        cut_ids=ids, labels=labels, pooled=np.concatenate(pooled),
        audio=np.concatenate(audio_emb) if has_audio_space else None,
        captions=captions if with_captions else [], skipped=skips.summary(), extra=extra, frames=kept,
    )


def strided_mean(frames: torch.Tensor, stride: int) -> torch.Tensor:
    """(T, D) -> (ceil(T / stride), D): means of consecutive groups (the last may be shorter)."""
    if stride <= 1:
        return frames
    length, dim = frames.shape
    groups = -(-length // stride)
    padded = torch.nn.functional.pad(frames, (0, 0, 0, groups * stride - length))
    counts = torch.full((groups, 1), float(stride))
    counts[-1] = length - (groups - 1) * stride
    return padded.view(groups, stride, dim).sum(1) / counts


@torch.no_grad()
def embed_texts(task, texts: List[str], batch_size: int = 256,
                device: torch.device = torch.device("cpu")) -> np.ndarray:
    """(N, E) float32 retrieval embeddings of ``texts``; ValueError unless the task's objective has
    the ``retrieval`` capability."""
    task.objective.require("retrieval", "embedding texts")
    task.eval().to(device)
    out = []
    max_tokens = task.objective.text_encoder.conf.max_length
    for start in range(0, len(texts), batch_size):
        # the text side sees texts as training saw captions (the task's caption normalisation)
        piece = [task.normalize_caption(t) for t in texts[start:start + batch_size]]
        tokens, token_lens = tokenize(task.tokenizer, piece, max_tokens)
        emb = task.objective.embed_text(tokens.to(device), token_lens.to(device), piece)
        out.append(emb.float().cpu().numpy())
    return np.concatenate(out)
