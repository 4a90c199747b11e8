from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Tuple

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


RETRIEVAL = "retrieval"
GENERATION = "generation"
CAPABILITIES = frozenset({RETRIEVAL, GENERATION})


class Objective(nn.Module):
    """Base of every objective. Built as ``cls(conf, ctx: ObjectiveContext)``.

    forward(frames (B, T, D), frame_lens (B,), batch) -> (loss, report) where
    report maps names to floats/0-d tensors for logging. An objective owns the
    modules it needs beyond the audio encoder (text encoder, heads, decoder).

    ``capabilities`` declares what else the objective does, so evaluation and the
    tools never probe for methods:

    * ``"retrieval"`` (:data:`RETRIEVAL`): audio and text in one space,
      ``embed_audio(frames, lens) -> (B, E)`` and ``embed_text(tokens, lens, texts) -> (B, E)``,
      L2-normalised (retrieval, similarity zero-shot); ``text_encoder`` is its text tower;
    * ``"generation"`` (:data:`GENERATION`): a text decoder,
      ``generate(frames, lens, decode_conf) -> list of token-id lists`` and
      ``sequence_log_likelihood(frames, lens, tokens, token_lens) -> (B,)`` (captioning,
      likelihood zero-shot); ``max_length`` is its longest caption in tokens.

    ``supports_embedding_cache``: True when forward is
    ``loss_from_embeddings(embeddings(frames, frame_lens, batch))`` with ``embeddings``
    returning row-aligned (B, ...) tensors, so a trainer can accumulate gradients exactly
    over micro-batches by caching them (open_clip's ``accum_freq``).
    """

    capabilities: FrozenSet[str] = frozenset()
    supports_embedding_cache = False

    def has(self, capability: str) -> bool:
        """Whether the objective declares ``capability`` (:data:`CAPABILITIES`); ValueError for an unknown name."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown objective capability {capability!r}; known: {sorted(CAPABILITIES)}")
        return capability in self.capabilities

    def require(self, capability: str, what: str) -> None:
        """ValueError naming the objective, the capability and ``what`` needed it, unless it has it."""
        if not self.has(capability):
            declared = ", ".join(sorted(self.capabilities)) or "none"
            raise ValueError(f"{what} needs an objective with {capability!r}; {type(self).__name__} "
                             f"declares {declared}")

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
