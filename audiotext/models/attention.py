"""One attention dispatch for every model: flash-attn (varlen) -> torch SDPA -> math.

Two entry points:

* ``attention(q, k, v, key_mask, query_mask, ...)`` for padded callers: q, k, v shaped
  (batch, heads, time, head_dim) and optional (batch, time) bool masks, True at *valid*
  positions. Outputs at padded query positions are zeroed on every path, so the result
  does not depend on which path ran.
* ``varlen_attention(q, k, v, cu_seqlens_q, cu_seqlens_k, max_q, max_k, ...)`` for packed
  callers: q, k, v shaped (total_tokens, heads, head_dim), the valid tokens of every
  sequence concatenated (see ``PackedBatch``). On the flash path this is one call of
  flash-attn's varlen kernel, which never sees padding; the SDPA and math paths pad, run
  with masks and pack again.

The models (Transformer audio encoder, text encoder, text decoder, attention pooling) pack
their activations once, when ``uses_packing`` says the attention would run on flash-attn,
and carry a ``PackedBatch`` through every block, so the linear layers, FFN and LayerNorm
also run on (total_tokens, d_model) rows and nothing is computed for padding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch.utils import _pytree as pytree

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


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype q/k/v will have when a linear layer makes them from ``x``: the autocast
    dtype inside an autocast region of x's device type, else x's own dtype. (Under bf16
    autocast the residual stream entering a block is fp32, the projections are bf16.)"""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


def flash_usable(x: torch.Tensor, dtype: Optional[torch.dtype] = None) -> bool:
    """flash-attn importable, x on CUDA and ``dtype`` (default x.dtype) fp16/bf16."""
    dtype = x.dtype if dtype is None else dtype
    return HAVE_FLASH_ATTN and x.is_cuda and dtype in (torch.float16, torch.bfloat16)


def resolve_backend(backend: str, q: torch.Tensor, dtype: Optional[torch.dtype] = None) -> str:
    """The path ``backend`` takes for q (``dtype`` overrides q.dtype in the decision)."""
    _check_backend(backend)
    if backend == "auto":
        return "flash" if flash_usable(q, dtype) else "sdpa"
    if backend == "flash" and not flash_usable(q, dtype):
        raise RuntimeError(
            "attention backend 'flash' needs flash-attn installed, CUDA tensors and fp16/bf16 "
            f"(flash-attn importable: {HAVE_FLASH_ATTN}, device: {q.device}, "
            f"dtype: {q.dtype if dtype is None else dtype})"
        )
    return backend


def uses_packing(backend: str, x: torch.Tensor) -> bool:
    """Whether a model whose activations entering the blocks are ``x`` packs them into a
    ``PackedBatch``: exactly when its attention will run on flash-attn, judged with the
    dtype q/k/v will have (``compute_dtype``, so bf16 autocast over fp32 weights packs).
    Raises like ``resolve_backend`` for ``backend="flash"`` where flash-attn cannot run."""
    return resolve_backend(backend, x, compute_dtype(x)) == "flash"


# ---------------------------------------------------------------- packed batches

@dataclass
class PackedBatch:
    """A batch of variable-length sequences without padding (flash-attn's varlen layout).

    values:     (total_tokens, *feature), the valid positions of every sequence in order,
                sequence b at rows ``cu_seqlens[b]:cu_seqlens[b + 1]``.
    cu_seqlens: (batch + 1,) int32 on values' device, cumulative lengths starting at 0.
    max_len:    int, the longest sequence (flash-attn's max_seqlen).

    Registered as a pytree node (children values and cu_seqlens), so tree-mapping hooks
    (FSDP2's input casts and backward hooks) reach the tensors inside.
    """

    values: torch.Tensor
    cu_seqlens: torch.Tensor
    max_len: int

    @classmethod
    def from_padded(cls, x: torch.Tensor, lengths: torch.Tensor) -> "PackedBatch":
        """x (batch, time, *feature) with lengths (batch,) <= time -> packed; padding dropped."""
        if x.dim() < 2 or lengths.shape != x.shape[:1]:
            raise ValueError(f"from_padded needs x (batch, time, ...) and lengths (batch,); "
                             f"got x {tuple(x.shape)}, lengths {tuple(lengths.shape)}")
        min_len, max_len = (int(t) for t in lengths.aminmax()) if lengths.numel() else (0, 0)
        if max_len > x.shape[1] or min_len < 0:
            raise ValueError(f"lengths {lengths.tolist()} do not fit a padded time axis of {x.shape[1]}")
        lengths = lengths.to(device=x.device)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        cu = F.pad(lengths.to(torch.int32).cumsum(0, dtype=torch.int32), (1, 0))
        return cls(x[mask], cu, max_len)

    @property
    def batch_size(self) -> int:
        return self.cu_seqlens.shape[0] - 1

    @property
    def lengths(self) -> torch.Tensor:
        """(batch,) int32 sequence lengths."""
        return self.cu_seqlens[1:] - self.cu_seqlens[:-1]

    def mask(self, total_time: Optional[int] = None) -> torch.Tensor:
        """(batch, total_time) bool, True at the valid positions of the padded layout."""
        total_time = self.max_len if total_time is None else total_time
        return torch.arange(total_time, device=self.values.device)[None, :] < self.lengths[:, None]

    def to_padded(self, total_time: Optional[int] = None) -> torch.Tensor:
        """-> (batch, total_time, *feature) with zeros at padding; total_time defaults to max_len."""
        total_time = self.max_len if total_time is None else total_time
        if total_time < self.max_len:
            raise ValueError(f"total_time={total_time} is shorter than the longest sequence ({self.max_len})")
        out = self.values.new_zeros((self.batch_size, total_time) + tuple(self.values.shape[1:]))
        return out.index_put((self.mask(total_time),), self.values)

    def with_values(self, values: torch.Tensor) -> "PackedBatch":
        """Same sequences, new per-token values (total_tokens, *new_feature)."""
        if values.shape[0] != self.values.shape[0]:
            raise ValueError(f"with_values: {values.shape[0]} rows for {self.values.shape[0]} tokens")
        return PackedBatch(values, self.cu_seqlens, self.max_len)

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "PackedBatch":
        """Apply a per-token function (Linear, LayerNorm, Dropout, ...) to the values."""
        return self.with_values(fn(self.values))


pytree.register_pytree_node(
    PackedBatch,
    lambda p: ((p.values, p.cu_seqlens), p.max_len),
    lambda children, max_len: PackedBatch(children[0], children[1], max_len),
    serialized_type_name="audiotext.models.attention.PackedBatch",
)


def values_of(x):
    """The tensor a block computes on: a padded tensor itself, or a PackedBatch's values."""
    return x.values if isinstance(x, PackedBatch) else x


def like(ref, values: torch.Tensor):
    """``values`` in the layout of ``ref`` (a PackedBatch or a padded tensor)."""
    return ref.with_values(values) if isinstance(ref, PackedBatch) else values


def map_values(fn: Callable[[torch.Tensor], torch.Tensor], x):
    """fn applied per token to a padded tensor or a PackedBatch."""
    return x.map(fn) if isinstance(x, PackedBatch) else fn(x)


# ---------------------------------------------------------------- padded kernels

def _math(q, k, v, allowed, dropout_p):
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    # a query that may see no key at all gives NaN: zero it
    probs = torch.nan_to_num(probs, nan=0.0)
    if dropout_p > 0.0:
        probs = F.dropout(probs, p=dropout_p)
    return torch.matmul(probs, v)


def math_attention(q, k, v, key_mask=None, causal=False, dropout_p=0.0):
    return _math(q, k, v, _allowed(key_mask, causal, q.shape[-2], k.shape[-2], q.device), dropout_p)


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
    """Scaled dot-product attention through the first usable backend, padded layout.

    q (batch, heads, time_q, head_dim), k/v (batch, heads, time_k, head_dim).
    key_mask/query_mask: (batch, time) bool, True where the position is real.
    For self-attention pass the same mask as both (query_mask defaults to key_mask
    when the lengths agree). Causal masks align bottom-right on the padded time axes.
    On the flash path the valid tokens are packed for this one call and unpacked after;
    models that run on flash-attn pack once instead (``PackedBatch``, ``varlen_attention``).
    """
    path = resolve_backend(backend, q)
    if query_mask is None and key_mask is not None and q.shape[-2] == k.shape[-2]:
        query_mask = key_mask
    if path == "flash":
        return _padded_flash(q, k, v, key_mask, query_mask, causal, dropout_p)
    fn = sdpa_attention if path == "sdpa" else math_attention
    out = fn(q, k, v, key_mask, causal, dropout_p)
    if query_mask is not None:
        out = out.masked_fill(~query_mask[:, None, :, None], 0.0)
    return out


def _padded_flash(q, k, v, key_mask, query_mask, causal, dropout_p):
    """flash-attn for a padded caller: pack q/k/v by their masks, one varlen call, unpack."""
    b, h, tq, d = q.shape
    tk = k.shape[-2]
    if key_mask is None:
        key_mask = torch.ones(b, tk, dtype=torch.bool, device=q.device)
    if query_mask is None:
        query_mask = torch.ones(b, tq, dtype=torch.bool, device=q.device)
    q_lens = query_mask.sum(-1, dtype=torch.int32)
    k_lens = key_mask.sum(-1, dtype=torch.int32)
    if causal and bool(((k_lens - q_lens) != tk - tq).any()):
        # flash-attn aligns a causal mask bottom-right per sequence, the padded paths on the padded axes
        raise ValueError("causal flash attention needs len_k - len_q == time_k - time_q in every row")
    cu_q = F.pad(q_lens.cumsum(0, dtype=torch.int32), (1, 0))
    cu_k = F.pad(k_lens.cumsum(0, dtype=torch.int32), (1, 0))
    out = flash_attn_varlen_func(
        q.transpose(1, 2)[query_mask], k.transpose(1, 2)[key_mask], v.transpose(1, 2)[key_mask],
        cu_q, cu_k, int(q_lens.max()), int(k_lens.max()), dropout_p=dropout_p, causal=causal,
    )
    return q.new_zeros(b, tq, h, d).index_put((query_mask,), out).transpose(1, 2)


# ---------------------------------------------------------------- packed (varlen) attention

def varlen_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_q: int,
    max_k: int,
    causal: bool = False,
    dropout_p: float = 0.0,
    backend: str = "auto",
) -> torch.Tensor:
    """Attention over packed sequences: q (total_q, heads, head_dim), k/v (total_k, heads,
    head_dim); sequence b's queries are rows cu_seqlens_q[b]:cu_seqlens_q[b+1] of q and they
    attend to rows cu_seqlens_k[b]:cu_seqlens_k[b+1] of k/v. cu_seqlens_*: (batch+1,) int32.
    Returns (total_q, heads, head_dim).

    Causal follows flash-attn: bottom-right aligned per sequence (query i of a sequence with
    lq queries and lk keys sees key j iff j <= i + lk - lq); a query that sees no key gives 0.
    flash path: one ``flash_attn_varlen_func`` call. sdpa/math: pad, attend with masks, pack.
    """
    path = resolve_backend(backend, q)
    if path == "flash":
        return flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_q, max_k,
                                      dropout_p=dropout_p, causal=causal)
    pq = PackedBatch(q, cu_seqlens_q, max_q)
    pk = PackedBatch(k, cu_seqlens_k, max_k)
    qp, kp, vp = (t.transpose(1, 2) for t in (pq.to_padded(), pk.to_padded(), pk.with_values(v).to_padded()))
    q_lens, k_lens = pq.lengths, pk.lengths
    allowed = pk.mask()[:, None, None, :]  # (B, 1, 1, Tk)
    if causal:
        i = torch.arange(max_q, device=q.device)[:, None]
        j = torch.arange(max_k, device=q.device)[None, :]
        offset = (k_lens - q_lens).to(torch.long)[:, None, None]
        allowed = allowed & (j[None] <= i[None] + offset)[:, None]
    if path == "sdpa":
        out = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=allowed, dropout_p=dropout_p)
    else:
        out = _math(qp, kp, vp, allowed, dropout_p)
    # queries that see no key: 0, as flash-attn gives (SDPA already does; explicit for every path)
    sees_any = allowed.expand(-1, -1, max_q, -1).any(-1, keepdim=True)
    out = out.masked_fill(~sees_any, 0.0)
    return out.transpose(1, 2)[pq.mask()]
