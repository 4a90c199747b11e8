"""CLAP-style contrastive objective: symmetric InfoNCE between audio and caption embeddings."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict

import torch
import torch.nn.functional as F
from torch import nn

from audiotext.models.pooling import POOLINGS
from audiotext.models.text_encoders import TEXT_ENCODERS
from audiotext.objectives.base import Objective, ObjectiveContext, register_objective
from audiotext.train import distributed


class ProjectionHead(nn.Sequential):
    """Two-layer MLP projection into the shared space (as in CLAP)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))


def contrastive_loss(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE for the local rows against the global batch.

    ``audio`` and ``text`` are this rank's L2-normalised embeddings. Under torchrun
    the other ranks' rows are gathered with gradients, each rank scores its own rows
    against all, and DDP's gradient averaging then gives the gradient of the
    global-batch loss (each rank's loss is weighted by its share of rows, as
    duration-bucketed batches differ in size). In one process this is the plain
    global loss.
    """
    all_audio = distributed.gather_with_grad(audio)
    all_text = distributed.gather_with_grad(text)
    sizes = distributed.all_gather_sizes(audio.shape[0], audio.device)
    offset = sum(sizes[: distributed.rank()])
    targets = torch.arange(audio.shape[0], device=audio.device) + offset
    logits_a2t = logit_scale * audio @ all_text.t()
    logits_t2a = logit_scale * text @ all_audio.t()
    loss = 0.5 * (F.cross_entropy(logits_a2t, targets) + F.cross_entropy(logits_t2a, targets))
    # DDP averages gradients over ranks; weighting by this rank's share of rows makes
    # that average the global-batch mean even when ranks hold different numbers of rows
    return loss * (audio.shape[0] * len(sizes) / sum(sizes))


@register_objective("contrastive")
class ContrastiveObjective(Objective):
    capabilities = frozenset({"retrieval"})

    @dataclass
    class Config:
        embed_dim: int = 256
        audio_pooling: str = "mean"
        audio_pooling_conf: Dict[str, Any] = field(default_factory=dict)
        text_pooling: str = "mean"
        temperature_init: float = 0.07
        max_logit_scale: float = 100.0  # CLIP's clamp: temperature never below 0.01
        learn_temperature: bool = True

    def __init__(self, conf: "ContrastiveObjective.Config", ctx: ObjectiveContext):
        super().__init__()
        self.conf = conf
        self.text_encoder = TEXT_ENCODERS.build(
            ctx.text_encoder, ctx.text_encoder_conf, vocab_size=ctx.vocab_size, pad_id=ctx.pad_id,
            where="text_encoder_conf",
        )
        self.audio_pool = POOLINGS.build(conf.audio_pooling, conf.audio_pooling_conf, ctx.audio_dim,
                                         where="objective_conf.audio_pooling_conf")
        self.text_pool = POOLINGS.build(conf.text_pooling, {}, self.text_encoder.output_dim)
        self.audio_proj = ProjectionHead(ctx.audio_dim, conf.embed_dim)
        self.text_proj = ProjectionHead(self.text_encoder.output_dim, conf.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / conf.temperature_init)),
                                        requires_grad=conf.learn_temperature)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp().clamp(max=self.conf.max_logit_scale)

    def embed_audio(self, frames, frame_lens):
        return F.normalize(self.audio_proj(self.audio_pool(frames, frame_lens)), dim=-1)

    def embed_text(self, tokens, token_lens, texts=None):
        hidden, lens = self.text_encoder(tokens, token_lens, texts)
        return F.normalize(self.text_proj(self.text_pool(hidden, lens)), dim=-1)

    def forward(self, frames, frame_lens, batch):
        audio = self.embed_audio(frames, frame_lens)
        text = self.embed_text(batch["tokens"], batch["token_lens"], batch.get("captions"))
        scale = self.scale()
        loss = contrastive_loss(audio.float(), text.float(), scale.float())
        with torch.no_grad():
            acc = ((audio @ text.t()).argmax(-1) == torch.arange(len(audio), device=audio.device)).float().mean()
        return loss, {"loss": loss.detach(), "logit_scale": scale.detach(), "acc_a2t_local": acc}
