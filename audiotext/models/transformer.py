"""Pre-norm Transformer building blocks shared by the audio and text encoders."""
from __future__ import annotations

import math
from typing import Optional

import torch
from einops import rearrange
from torch import nn

from audiotext.models.attention import attention


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, backend: str = "auto"):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.dropout = dropout
        self.backend = backend
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x, key_mask=None, memory=None, memory_mask=None, causal=False):
        """Self-attention over x, or cross-attention to ``memory`` when given."""
        source = x if memory is None else memory
        q = rearrange(self.q_proj(x), "b t (h d) -> b h t d", h=self.num_heads)
        k, v = rearrange(self.kv_proj(source), "b t (two h d) -> two b h t d", two=2, h=self.num_heads)
        if memory is None:
            out = attention(q, k, v, key_mask=key_mask, causal=causal,
                            dropout_p=self.dropout if self.training else 0.0, backend=self.backend)
        else:
            out = attention(q, k, v, key_mask=memory_mask, query_mask=key_mask, causal=False,
                            dropout_p=self.dropout if self.training else 0.0, backend=self.backend)
        return self.out_proj(rearrange(out, "b h t d -> b t (h d)"))


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__(nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + Attn(LN(x)) [+ CrossAttn(LN(x), memory)] + FFN(LN(x))."""

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, attn_dropout=0.0, backend="auto", cross_attention=False):
        super().__init__()
        self.norm_attn = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads, attn_dropout, backend)
        self.cross = None
        if cross_attention:
            self.norm_cross = nn.LayerNorm(d_model)
            self.cross = MultiHeadAttention(d_model, num_heads, attn_dropout, backend)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask=None, causal=False, memory=None, memory_mask=None):
        x = x + self.drop(self.attn(self.norm_attn(x), key_mask=mask, causal=causal))
        if self.cross is not None:
            x = x + self.drop(self.cross(self.norm_cross(x), key_mask=mask, memory=memory, memory_mask=memory_mask))
        return x + self.drop(self.ff(self.norm_ff(x)))


def sinusoidal_positions(length: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return pe.to(dtype)


def lengths_to_mask(lengths: torch.Tensor, max_len: Optional[int] = None) -> torch.Tensor:
    """(batch,) lengths -> (batch, max_len) bool mask, True at valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]
