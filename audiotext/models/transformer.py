"""Pre-norm Transformer building blocks shared by the audio and text encoders and the decoder.

Every block takes either a padded tensor (batch, time, d_model) with a (batch, time) mask,
or a ``PackedBatch`` of (total_tokens, d_model) values (no mask: the lengths travel with
it); it returns the same layout. Packed, every layer runs on the valid tokens only.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from einops import rearrange
from torch import nn

from audiotext.models.attention import PackedBatch, attention, like, values_of, varlen_attention


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
        """Self-attention over x, or cross-attention to ``memory`` when given.

        Padded: x (B, Tq, D), memory (B, Tk, D), masks (B, T) bool. Packed: x and memory
        are PackedBatch (total_q, D) / (total_k, D) with the same batch size, no masks;
        the result is a PackedBatch like x. ``causal`` applies to self-attention only.
        """
        if isinstance(x, PackedBatch):
            return self._forward_packed(x, key_mask, memory, memory_mask, causal)
        if isinstance(memory, PackedBatch):
            raise TypeError("memory is a PackedBatch but x is padded: pack both or neither")
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

    def _forward_packed(self, x: PackedBatch, key_mask, memory, memory_mask, causal) -> PackedBatch:
        if key_mask is not None or memory_mask is not None:
            raise ValueError("a PackedBatch carries its lengths: pass no masks with it")
        if memory is not None and not isinstance(memory, PackedBatch):
            raise TypeError("x is a PackedBatch but memory is padded: pack both or neither")
        source = x if memory is None else memory
        if source.batch_size != x.batch_size:
            raise ValueError(f"memory holds {source.batch_size} sequences, x {x.batch_size}")
        q = self.q_proj(x.values).unflatten(-1, (self.num_heads, -1))  # (total_q, h, d)
        k, v = self.kv_proj(source.values).unflatten(-1, (2, self.num_heads, -1)).unbind(-3)  # (total_k, h, d)
        out = varlen_attention(q, k, v, x.cu_seqlens, source.cu_seqlens, x.max_len, source.max_len,
                               causal=causal and memory is None,
                               dropout_p=self.dropout if self.training else 0.0, backend=self.backend)
        return x.with_values(self.out_proj(out.flatten(-2)))


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
        """x padded (B, T, D) with mask (B, T), or a PackedBatch (then memory is one too, no
        masks); returns the same layout. One code path: the residual stream is x's tensor."""
        h = values_of(x)
        h = h + self.drop(values_of(self.attn(like(x, self.norm_attn(h)), key_mask=mask, causal=causal)))
        if self.cross is not None:
            attended = self.cross(like(x, self.norm_cross(h)), key_mask=mask, memory=memory, memory_mask=memory_mask)
            h = h + self.drop(values_of(attended))
        return like(x, h + self.drop(self.ff(self.norm_ff(h))))


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


def to_block_layout(pack: bool, x: torch.Tensor, lengths: torch.Tensor):
    """The layout blocks run on, once at a model's front: ``(PackedBatch, None)`` when ``pack``
    (``uses_packing``: the attention runs on flash-attn), else ``(x, mask)`` with the (B, T)
    mask of the padded x (B, T, ...)."""
    if pack:
        return PackedBatch.from_padded(x, lengths), None
    return x, lengths_to_mask(lengths, x.shape[1])


def from_block_layout(x, mask: Optional[torch.Tensor], total_time: int) -> torch.Tensor:
    """Back to padded (B, total_time, ...) with zeros at padding, once at a model's end."""
    if isinstance(x, PackedBatch):
        return x.to_padded(total_time)
    return x.masked_fill(~mask[..., None], 0.0)
