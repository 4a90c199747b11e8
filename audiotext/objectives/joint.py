"""Joint objective (CoCa-style): contrastive + captioning on one audio encoder.

The two heads are the registered "contrastive" and "captioning" objectives, built
from their own config blocks; the loss is their weighted sum. Retrieval and
zero-shot use the contrastive head; captioning and likelihood scoring the decoder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict

from audiotext.objectives.base import OBJECTIVES, Objective, ObjectiveContext, register_objective


@register_objective("joint")
class JointObjective(Objective):
    capabilities = frozenset({"retrieval", "generation"})
    # the captioning loss has no embeddings/loss split, so micro-batches cannot be cached
    supports_embedding_cache = False

    @dataclass
    class Config:
        contrastive: Dict[str, Any] = field(default_factory=dict)  # "contrastive" objective's Config
        captioning: Dict[str, Any] = field(default_factory=dict)  # "captioning" objective's Config
        contrastive_weight: float = 1.0
        captioning_weight: float = 1.0  # CoCa weighs captioning 2x contrastive; tune per corpus

    def __init__(self, conf: "JointObjective.Config", ctx: ObjectiveContext):
        super().__init__()
        self.conf = conf
        self.contrastive = OBJECTIVES.build("contrastive", conf.contrastive, ctx, where="objective_conf.contrastive")
        self.captioning = OBJECTIVES.build("captioning", conf.captioning, ctx, where="objective_conf.captioning")

    def after_optimizer_step(self) -> None:
        """Forwarded to the contrastive head (clamps a learned temperature); captioning has none."""
        self.contrastive.after_optimizer_step()

    @property
    def max_length(self) -> int:
        return self.captioning.max_length

    @property
    def text_encoder(self):
        return self.contrastive.text_encoder

    def embed_audio(self, frames, frame_lens):
        return self.contrastive.embed_audio(frames, frame_lens)

    def embed_text(self, tokens, token_lens, texts=None):
        return self.contrastive.embed_text(tokens, token_lens, texts)

    def generate(self, frames, frame_lens, decode_conf=None):
        return self.captioning.generate(frames, frame_lens, decode_conf)

    def sequence_log_likelihood(self, frames, frame_lens, tokens, token_lens, length_normalize: bool = True):
        return self.captioning.sequence_log_likelihood(frames, frame_lens, tokens, token_lens, length_normalize)

    def forward(self, frames, frame_lens, batch):
        loss_c, rep_c = self.contrastive(frames, frame_lens, batch)
        loss_g, rep_g = self.captioning(frames, frame_lens, batch)
        loss = self.conf.contrastive_weight * loss_c + self.conf.captioning_weight * loss_g
        report = {f"contrastive/{k}": v for k, v in rep_c.items()}
        report.update({f"captioning/{k}": v for k, v in rep_g.items()})
        report["loss"] = loss.detach()
        return loss, report
