"""Pooling of a variable-length frame sequence into one vector."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audiotext.models.attention import PackedBatch, uses_packing
from audiotext.models.transformer import MultiHeadAttention, lengths_to_mask
from audiotext.registry import Registry


class Pooling(nn.Module):
    """Built as ``cls(conf, dim)``; forward(frames (B, T, D), lengths (B,)) -> (B, D)."""


POOLINGS: Registry[Pooling] = Registry("pooling", Pooling)
register_pooling = POOLINGS.register


@register_pooling("mean")
class MeanPooling(Pooling):
    @dataclass
    class Config:
        pass

    def __init__(self, conf=None, dim: int = 0):
        super().__init__()

    def forward(self, frames, lengths):
        mask = lengths_to_mask(lengths, frames.shape[1]).to(frames.dtype)
        return (frames * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)


@register_pooling("attention")
class AttentionPooling(Pooling):
    """A learned query attends over the frames (multi-head, padding-masked).

    On flash-attn (``uses_packing``) the frames are packed once (the norm and key/value
    projections then skip padding) and the query side is one token per clip
    (cu_seqlens_q = 0, 1, .., B)."""

    @dataclass
    class Config:
        num_heads: int = 4

    def __init__(self, conf: "AttentionPooling.Config", dim: int):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, conf.num_heads)

    def forward(self, frames, lengths):
        batch = frames.shape[0]
        if uses_packing(self.attn.backend, frames):
            memory = PackedBatch.from_padded(frames, lengths).map(self.norm)
            one_each = torch.arange(batch + 1, dtype=torch.int32, device=frames.device)
            query = PackedBatch(self.query[0].expand(batch, -1), one_each, 1)
            return self.attn(query, memory=memory).values
        mask = lengths_to_mask(lengths, frames.shape[1])
        query = self.query.expand(batch, -1, -1)
        return self.attn(query, memory=self.norm(frames), memory_mask=mask)[:, 0]
