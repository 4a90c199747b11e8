from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

import torch
from torch import nn

from audiotext.registry import Registry


@dataclass
class ObjectiveContext:
    """What an objective needs to know about the rest of the model to build itself."""

    audio_dim: int
    vocab_size: int
    pad_id: int
    bos_id: int
    eos_id: int
    text_encoder: str = "transformer"
    text_encoder_conf: Dict[str, Any] = field(default_factory=dict)


class Objective(nn.Module):
    """Base of every objective. Built as ``cls(conf, ctx: ObjectiveContext)``.

    forward(frames (B, T, D), frame_lens (B,), batch) -> (loss, report) where
    report maps names to floats/0-d tensors for logging. An objective owns the
    modules it needs beyond the audio encoder (text encoder, heads, decoder).
    Objectives that embed audio and text in one space (for retrieval) also
    implement ``embed_audio(frames, lens)`` and ``embed_text(tokens, lens, texts)``;
    captioning ones ``generate(frames, lens, decode_conf)`` and
    ``sequence_log_likelihood(frames, lens, tokens, token_lens)``.

    ``supports_embedding_cache``: True when forward is
    ``loss_from_embeddings(embeddings(frames, frame_lens, batch))`` with ``embeddings``
    returning row-aligned (B, ...) tensors, so a trainer can accumulate gradients exactly
    over micro-batches by caching them (open_clip's ``accum_freq``).
    """

    supports_embedding_cache = False

    def after_optimizer_step(self) -> None:
        """Called by the trainer after every optimizer step, outside autograd.

        For in-place fixes of parameters (e.g. clamping a learned temperature); a no-op here.
        """

    def forward(self, frames: torch.Tensor, frame_lens: torch.Tensor, batch: Dict[str, Any]) -> Tuple[torch.Tensor, Dict[str, Any]]:
        raise NotImplementedError

    def loss_weight(self, batch) -> float:
        """How many units the loss is a mean over (default: clips), so micro-batches of an
        accumulated step weigh as they would in one large batch."""
        return float(batch.num_cuts)


OBJECTIVES: Registry[Objective] = Registry("objective", Objective)
register_objective = OBJECTIVES.register
