"""One attention dispatch for every model: flash-attn (varlen) -> torch SDPA -> math.

All paths take q, k, v shaped (batch, heads, time, head_dim) and an optional key
padding mask (batch, time_k) with True at *valid* positions. Outputs at padded
query positions are zeroed on every path, so the result does not depend on which
path ran (flash-attn's varlen kernel never computes them at all).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

try:  # optional CUDA-only extra: pip install audiotext[flash]
    from flash_attn import flash_attn_varlen_func  # type: ignore

    HAVE_FLASH_ATTN = True
except Exception:  # ImportError, or a broken CUDA build
    flash_attn_varlen_func = None
    HAVE_FLASH_ATTN = False

BACKENDS = ("auto", "flash", "sdpa", "math")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown attention backend {backend!r}; valid: {', '.join(BACKENDS)}")


def flash_usable(q: torch.Tensor) -> bool:
    return HAVE_FLASH_ATTN and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)


def resolve_backend(backend: str, q: torch.Tensor) -> str:
    _check_backend(backend)
    if backend == "auto":
        return "flash" if flash_usable(q) else "sdpa"
    if backend == "flash" and not flash_usable(q):
        raise RuntimeError(
            "attention backend 'flash' needs flash-attn installed, CUDA tensors and fp16/bf16 "
            f"(flash-attn importable: {HAVE_FLASH_ATTN}, device: {q.device}, dtype: {q.dtype})"
        )
    return backend


def math_attention(q, k, v, key_mask=None, causal=False, dropout_p=0.0):
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    allowed = _allowed(key_mask, causal, q.shape[-2], k.shape[-2], q.device)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    # a query that may see no key at all (only possible for padded rows) gives NaN: zero it
    probs = torch.nan_to_num(probs, nan=0.0)
    if dropout_p > 0.0:
        probs = F.dropout(probs, p=dropout_p)
    return torch.matmul(probs, v)


def _allowed(key_mask, causal, tq, tk, device):
    allowed = None
    if key_mask is not None:
        allowed = key_mask[:, None, None, :]
    if causal:
        tri = torch.ones(tq, tk, dtype=torch.bool, device=device).tril(diagonal=tk - tq)
        allowed = tri[None, None] if allowed is None else allowed & tri
    return allowed


def sdpa_attention(q, k, v, key_mask=None, causal=False, dropout_p=0.0):
    if key_mask is None and (not causal or q.shape[-2] == k.shape[-2]):
        # SDPA's is_causal aligns top-left; for unequal lengths use the explicit bottom-right mask
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal)
    allowed = _allowed(key_mask, causal, q.shape[-2], k.shape[-2], q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout_p)


def flash_attention(q, k, v, key_mask=None, query_mask=None, causal=False, dropout_p=0.0):
    """Varlen flash-attn: pack the valid tokens of every sequence, no padding computed."""
    b, h, tq, d = q.shape
    tk = k.shape[-2]
    if key_mask is None:
        key_mask = torch.ones(b, tk, dtype=torch.bool, device=q.device)
    if query_mask is None:
        query_mask = key_mask if tq == tk else torch.ones(b, tq, dtype=torch.bool, device=q.device)
    q_lens = query_mask.sum(-1, dtype=torch.int32)
    k_lens = key_mask.sum(-1, dtype=torch.int32)
    cu_q = F.pad(q_lens.cumsum(0, dtype=torch.int32), (1, 0))
    cu_k = F.pad(k_lens.cumsum(0, dtype=torch.int32), (1, 0))
    # (b, h, t, d) -> (t_valid_total, h, d)
    q_packed = q.transpose(1, 2)[query_mask]
    k_packed = k.transpose(1, 2)[key_mask]
    v_packed = v.transpose(1, 2)[key_mask]
    out = flash_attn_varlen_func(
        q_packed, k_packed, v_packed, cu_q, cu_k, int(q_lens.max()), int(k_lens.max()),
        dropout_p=dropout_p, causal=causal,
    )
    full = q.new_zeros(b, tq, h, d)
    full[query_mask] = out
    return full.transpose(1, 2)


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_mask: Optional[torch.Tensor] = None,
    query_mask: Optional[torch.Tensor] = None,
    causal: bool = False,
    dropout_p: float = 0.0,
    backend: str = "auto",
) -> torch.Tensor:
    """Scaled dot-product attention through the first usable backend.

    key_mask/query_mask: (batch, time) bool, True where the position is real.
    For self-attention pass the same mask as both (query_mask defaults to key_mask
    when the lengths agree).
    """
    path = resolve_backend(backend, q)
    if query_mask is None and key_mask is not None and q.shape[-2] == k.shape[-2]:
        query_mask = key_mask
    if path == "flash":
        return flash_attention(q, k, v, key_mask, query_mask, causal, dropout_p)
    fn = sdpa_attention if path == "sdpa" else math_attention
    out = fn(q, k, v, key_mask, causal, dropout_p)
    if query_mask is not None:
        out = out.masked_fill(~query_mask[:, None, :, None], 0.0)
    return out
