"""Zipformer audio encoder, in plain PyTorch.

Source: Z. Yao et al., "Zipformer: A faster and better encoder for automatic speech recognition",
ICLR 2024 (arXiv:2310.11230); the published code is the ``zipformer`` recipe of k2-fsa/icefall. This
is a re-implementation from that description (batch-first, (B, T, C) throughout), not a copy.

Shape of the model, for 100 Hz fbank input (B, T, input_dim):

* **Front end** (:class:`Conv2dFrontEnd`): three 3x3 convolutions 1 -> 8 -> 32 -> 128 channels (the
  second with stride 2 in time and frequency, the third with stride 2 in frequency), SwooshR
  between them, a ConvNeXt block, a linear layer to ``encoder_dim[0]`` and a BiasNorm:
  ``(T - 7) // 2`` frames at 50 Hz.
* **Stacks** (:class:`ZipformerStack`), one per entry of ``downsampling_factor`` (relative to
  50 Hz; the published (1, 2, 4, 8, 4, 2) runs at 50, 25, 12.5, 6.25, 12.5, 25 Hz). A stack with
  factor f > 1 takes a learned softmax-weighted average of every f adjacent frames, runs its
  layers, repeats each frame f times and mixes the result with its input through a learned
  per-channel bypass. Between stacks of different widths the channels are truncated or
  zero-padded.
* **Output**: every channel range of the widest stack is taken from the last stack that had it,
  then a learned weighted average of ``output_downsampling`` (2) adjacent frames: one frame every
  40 ms, ``(T - 5) // 4`` frames for ``T >= 9`` fbank frames.

One Zipformer layer (:class:`ZipformerLayer`) computes its relative-position attention weights
once and shares them between the non-linear attention module and both self-attention modules::

    x += FF1(x)                  # feed-forward, 3/4 of feedforward_dim
    x += NonlinearAttention(x)   # uses the first head of the shared weights
    x += SelfAttention1(x)
    x += Conv1(x)
    x += FF2(x)                  # feedforward_dim
    x  = MidBypass(layer input, x)
    x += SelfAttention2(x)
    x += Conv2(x)
    x += FF3(x)                  # 5/4 of feedforward_dim
    x  = Bypass(layer input, BiasNorm(x))

Padding is exact: a padded batch gives each clip the frames it gets alone (eval mode), because
attention masks padded keys, every depthwise convolution sees zeros beyond a clip's end (as the
zero padding of a clip run alone), and every downsampling completes a clip's last group with
copies of that clip's own last frame (as a clip run alone is completed).

Differences from the published code, all training-time devices that leave the model unchanged:

* Left out: Balancer and Whiten (gradient-only constraints on activation statistics),
  ScaleGrad, the attention-score penalty, scheduled layer / module skipping (layer drop, skip
  rates, ``const_attention_rate``, ``pos_emb_skip_rate``), feature masking
  (``encoder_unmasked_dim``) and the scheduled dropout rate (here a constant ``dropout``).
* Kept: dropout after the feed-forward activation and after the front end (plain, not shared
  across time), 0.15 dropout of the positional encodings, and the published code's ranges of
  two learned parameters, held through their gradients (:func:`limit_in_training`: the forward
  pass uses the parameter as it is; in training, a gradient that would push it further out of
  its range is reversed): every bypass scale in [m, 1], m going linearly from 0.9 to 0.2 over
  the first ``bypass_warmup_batches`` training forward passes (micro-batches, counted in the
  ``trained_batches`` buffer, saved with the weights so a resumed run continues the schedule),
  and BiasNorm's log scale in [-1.5, 1.5]. The published code does this at random on 60% of the
  batches; here on every training batch. Eval uses the parameters as they are, as published.
* The query is scaled by ``query_head_dim ** -0.5`` in the forward pass; the published code
  folds that factor into the initial weights and relies on its ScaledAdam optimizer, which keeps
  parameter scales learnable, whereas this encoder also has to train with AdamW.

Sizes measured on this code (``sum(p.numel() for p in encoder.parameters())``, input_dim 80):

* the defaults, the published "M" size: 63,988,343 parameters. The published 65,549,011 ("65.55M",
  icefall's librispeech zipformer RESULTS.md) is the whole transducer: less its decoder, joiner
  and simple projections at vocabulary 500 (1,554,908) it is 63,994,103, this encoder plus 5,760
  per-layer ``bypass_scale`` weights the published layer creates but never uses.
* the small CPU configuration below (CaptionStew-mini): 1,790,336 parameters, about the size of
  the transformer encoder ``{d_model: 192, num_layers: 4, num_heads: 4, d_ff: 768,
  subsampling_channels: 32}`` (1,906,336). A training step (forward, backward, AdamW) on 8 clips
  of 10 s with 2 CPU threads takes about 2.4x as long (median 1.58 s vs 0.67 s; min 1.50 vs 0.57):
  it runs a layer at 50 Hz, its front end works at 50 Hz, and attention weights it shares between
  modules have to be materialised (no fused attention kernel). ``frontend_channels`` is smaller
  than the published [8, 32, 128], which alone would make the step about 1.5x slower again::

    encoder: zipformer
    encoder_conf:
      downsampling_factor: [1, 2, 4, 2]
      num_encoder_layers: [1, 1, 2, 1]
      encoder_dim: [64, 96, 128, 96]
      feedforward_dim: [192, 256, 384, 256]
      num_heads: [4, 4, 4, 4]
      cnn_module_kernel: [31, 31, 15, 31]
      frontend_channels: [8, 16, 32]
      bypass_warmup_batches: 2000   # a short run: reach the final bypass range within it
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from audiotext.models.encoders.base import AudioEncoder, register_encoder
from audiotext.models.transformer import lengths_to_mask

# ------------------------------------------------------------------ activations and norm


def swoosh_l(x: torch.Tensor) -> torch.Tensor:
    """SwooshL(x) = log(1 + exp(x - 4)) - 0.08 x - 0.035 (the paper, section 3.6): near 0 and flat for x << 4."""
    return F.softplus(x - 4.0) - 0.08 * x - 0.035


def swoosh_r(x: torch.Tensor) -> torch.Tensor:
    """SwooshR(x) = log(1 + exp(x - 1)) - 0.08 x - 0.313261687 (the paper, section 3.6); SwooshR(0) = 0."""
    return F.softplus(x - 1.0) - 0.08 * x - 0.313261687


class LimitInTraining(torch.autograd.Function):
    """Identity forward; backward reverses the gradient entries that would move ``x`` further
    below ``low`` or above ``high`` (a descent step moves ``x`` against its gradient)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, low: torch.Tensor, high: float) -> torch.Tensor:
        ctx.save_for_backward(x, low)
        ctx.high = high
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, low = ctx.saved_tensors
        outward = ((x < low) & (grad > 0)) | ((x > ctx.high) & (grad < 0))
        return torch.where(outward, -grad, grad), None, None


def limit_in_training(x: torch.Tensor, low, high: float, training: bool) -> torch.Tensor:
    """Keep a learned parameter ``x`` in ``[low, high]`` through its gradient, as the published
    code's ``limit_param_value`` does, so that it still learns (a clamp would give it no gradient
    outside the range). ``low``: a float or a 0-d tensor. Outside training: ``x`` itself."""
    if not training:
        return x
    return LimitInTraining.apply(x, torch.as_tensor(low, dtype=x.dtype, device=x.device), float(high))


class BiasNorm(nn.Module):
    """BiasNorm (the paper, section 3.5): ``x / RMS(x - bias) * exp(log_scale)`` over the last dim.

    Unlike LayerNorm it keeps the length of x as information (no mean subtraction from the
    output) and has one learned scalar scale. In training ``log_scale`` is held to [-1.5, 1.5]
    through its gradient (:func:`limit_in_training`), as in the published code.
    """

    LOG_SCALE_RANGE = (-1.5, 1.5)

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(channels) * 1e-4)
        self.log_scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = limit_in_training(self.log_scale, *self.LOG_SCALE_RANGE, self.training).exp()
        return x * (torch.rsqrt((x - self.bias).pow(2).mean(-1, keepdim=True)) * scale)


def scaled_linear(in_features: int, out_features: int, initial_scale: float, bias: bool = True) -> nn.Linear:
    """nn.Linear with its initial weights scaled by ``initial_scale`` (and a bias of that order):
    the residual branches of the published model start small."""
    layer = nn.Linear(in_features, out_features, bias=bias)
    with torch.no_grad():
        layer.weight.mul_(initial_scale)
        if bias:
            layer.bias.uniform_(-0.1 * initial_scale, 0.1 * initial_scale)
    return layer


class Bypass(nn.Module):
    """``before + scale * (after - before)`` with a learned per-channel ``scale`` (init 0.5).

    In training ``scale`` is held to [scale_min, 1] through its gradient (``scale_min`` a 0-d
    tensor scheduled by the encoder: early in training each layer must mostly be used rather
    than skipped); the forward pass always uses ``scale`` as it is.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), 0.5))

    def forward(self, before: torch.Tensor, after: torch.Tensor, scale_min: torch.Tensor) -> torch.Tensor:
        scale = limit_in_training(self.scale, scale_min, 1.0, self.training)
        return before + (after - before) * scale


# ------------------------------------------------------------------ front end


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block on (B, C, T, F): depthwise 7x7, pointwise x3 expansion, SwooshL, pointwise
    back, residual. Frames at and beyond each clip's length are zeroed before the depthwise
    convolution, so a clip sees the zero padding it sees alone."""

    def __init__(self, channels: int, expansion: int = 3, kernel_size: int = 7):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.expand = nn.Conv2d(channels, channels * expansion, 1)
        self.project = nn.Conv2d(channels * expansion, channels, 1)
        with torch.no_grad():  # the block starts close to the identity
            self.project.weight.mul_(0.01)
            self.project.bias.uniform_(-0.001, 0.001)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        hidden = x.masked_fill(~valid[:, None, :, None], 0.0)
        if not hidden.is_cuda:  # masked_fill drops the channels-last layout (see Conv2dFrontEnd)
            hidden = hidden.contiguous(memory_format=torch.channels_last)
        hidden = self.depthwise(hidden)
        return x + self.project(swoosh_l(self.expand(hidden)))


class Conv2dFrontEnd(nn.Module):
    """(B, T, input_dim) fbank at 100 Hz -> ((B, (T - 7) // 2, out_dim) at 50 Hz, lengths).

    Before the ConvNeXt block, frame i is computed from input frames [2 i, 2 i + 9) only (no time
    padding), so it never sees another clip's padding; the ConvNeXt block sees zeros beyond each
    clip's length.
    """

    def __init__(self, input_dim: int, out_dim: int, channels: Sequence[int], dropout: float):
        super().__init__()
        c1, c2, c3 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=(0, 1))  # (time, freq): pad frequency only
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=2)
        self.conv3 = nn.Conv2d(c2, c3, 3, stride=(1, 2))
        self.convnext = ConvNeXtBlock(c3)
        freq_out = ((input_dim - 1) // 2 - 1) // 2
        self.proj = nn.Linear(c3 * freq_out, out_dim)
        self.norm = BiasNorm(out_dim)
        self.dropout = nn.Dropout(dropout)

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        return (lengths - 7) // 2

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = swoosh_r(self.conv1(features.unsqueeze(1)))  # (B, C, T, F)
        if not x.is_cuda:
            # PyTorch's CPU depthwise-conv backward is ~10x faster on channels-last tensors;
            # the convolutions after this one keep the layout
            x = x.contiguous(memory_format=torch.channels_last)
        x = swoosh_r(self.conv2(x))
        x = swoosh_r(self.conv3(x))
        lengths = self.output_lengths(lengths)
        x = self.convnext(x, lengths_to_mask(lengths, x.shape[2]))
        b, c, t, f = x.shape
        x = self.proj(x.transpose(1, 2).reshape(b, t, c * f))
        return self.dropout(self.norm(x)), lengths


# ------------------------------------------------------------------ attention


def compact_relative_positions(length: int, dim: int, device=None) -> torch.Tensor:
    """Compact relative positional encoding (the paper, appendix A.3): (2 length - 1, dim) float32,
    row k for the offset k - (length - 1) (key position minus query position).

    The offset is compressed logarithmically beyond ~sqrt(dim) and mapped to (-pi/2, pi/2) by
    atan before the Fourier features, so near offsets are told apart and far ones blur together.
    The last channel is a constant 1 (a learnable bias after projection).
    """
    offsets = torch.arange(-(length - 1), length, device=device, dtype=torch.float32)[:, None]
    compression = dim ** 0.5
    compressed = compression * offsets.sign() * (torch.log(offsets.abs() + compression) - math.log(compression))
    angle = torch.atan(compressed / (dim / (2 * math.pi)))
    freqs = torch.arange(1, dim // 2 + 1, device=device, dtype=torch.float32)
    encoding = torch.empty(2 * length - 1, dim, device=device)
    encoding[:, 0::2] = torch.cos(angle * freqs)
    encoding[:, 1::2] = torch.sin(angle * freqs)
    encoding[:, -1] = 1.0
    return encoding


def relative_to_absolute(scores: torch.Tensor) -> torch.Tensor:
    """(..., T, 2T - 1) scores by relative offset -> (..., T, T): out[..., i, j] = in[..., i, T - 1 - i + j]
    (offset j - i), as a strided view: row i starts one element earlier than row i - 1 would."""
    scores = scores.contiguous()
    t = scores.shape[-2]
    *outer, _, _ = scores.shape
    strides = scores.stride()
    return scores.as_strided(
        (*outer, t, t),
        (*strides[:-2], strides[-2] - strides[-1], strides[-1]),
        storage_offset=scores.storage_offset() + (t - 1) * strides[-1],
    )


class RelPositionAttentionWeights(nn.Module):
    """Multi-head attention weights with relative positions, computed once per layer.

    forward(x (B, T, dim), positions (2T - 1, pos_dim), valid (B, T) bool) -> weights (B, heads, T, T),
    rows summing to 1 over the valid keys. Score = q.k / sqrt(query_head_dim) + p.pos(j - i), with a
    per-head positional query p of ``pos_head_dim`` channels.
    """

    MASKED_SCORE = -1000.0  # exp() underflows to exactly 0; a row with no valid key stays finite

    def __init__(self, dim: int, pos_dim: int, num_heads: int, query_head_dim: int, pos_head_dim: int):
        super().__init__()
        self.num_heads = num_heads
        self.query_head_dim = query_head_dim
        self.pos_head_dim = pos_head_dim
        self.in_proj = nn.Linear(dim, num_heads * (2 * query_head_dim + pos_head_dim))
        self.pos_proj = scaled_linear(pos_dim, num_heads * pos_head_dim, 0.05, bias=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        h, dq, dp = self.num_heads, self.query_head_dim, self.pos_head_dim
        q, k, p = self.in_proj(x).split([h * dq, h * dq, h * dp], dim=-1)
        q = q.view(b, t, h, dq).transpose(1, 2) * dq ** -0.5
        k = k.view(b, t, h, dq).transpose(1, 2)
        p = p.view(b, t, h, dp).transpose(1, 2)
        pos = self.pos_proj(positions.to(x.dtype)).view(2 * t - 1, h, dp).permute(1, 2, 0)  # (h, dp, 2T-1)
        scores = q @ k.transpose(-1, -2) + relative_to_absolute(p @ pos)
        scores = scores.masked_fill(~valid[:, None, None, :], self.MASKED_SCORE)
        # softmax in float32 at least (half-precision scores lose the small weights), never below
        return scores.softmax(dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32)).to(x.dtype)


class SelfAttention(nn.Module):
    """Attention with given weights: values of ``value_head_dim`` per head, weighted, projected back."""

    def __init__(self, dim: int, num_heads: int, value_head_dim: int):
        super().__init__()
        self.num_heads = num_heads
        self.in_proj = nn.Linear(dim, num_heads * value_head_dim)
        self.out_proj = scaled_linear(num_heads * value_head_dim, dim, 0.05)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        values = self.in_proj(x).view(b, t, self.num_heads, -1).transpose(1, 2)
        return self.out_proj((weights @ values).transpose(1, 2).reshape(b, t, -1))


class NonlinearAttention(nn.Module):
    """Non-linear attention (the paper, section 3.3): ``out(y * A (x * tanh(s)))`` with A the first
    head of the shared attention weights and s, x, y three projections of the input."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.in_proj = nn.Linear(dim, 3 * hidden)
        self.out_proj = scaled_linear(hidden, dim, 0.05)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """weights: (B, 1, T, T)."""
        gate, content, multiplier = self.in_proj(x).chunk(3, dim=-1)
        mixed = (weights @ (content * torch.tanh(gate)).unsqueeze(1)).squeeze(1)
        return self.out_proj(mixed * multiplier)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.in_proj = nn.Linear(dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = scaled_linear(hidden, dim, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(swoosh_l(self.in_proj(x))))


class ConvolutionModule(nn.Module):
    """Pointwise -> gated (x * sigmoid(g)) -> depthwise conv over time -> SwooshR -> pointwise.

    Frames at and beyond each clip's length are zeroed before the depthwise convolution: the
    zero padding the clip sees when it is alone.
    """

    def __init__(self, dim: int, kernel_size: int):
        super().__init__()
        self.in_proj = nn.Linear(dim, 2 * dim)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.out_proj = scaled_linear(dim, dim, 0.05)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        content, gate = self.in_proj(x).chunk(2, dim=-1)
        x = (content * torch.sigmoid(gate)).masked_fill(~valid[..., None], 0.0)
        x = self.depthwise(x.transpose(1, 2)).transpose(1, 2)
        return self.out_proj(swoosh_r(x))


# ------------------------------------------------------------------ layers and stacks


class ZipformerLayer(nn.Module):
    """One Zipformer block (the paper, figure 2 and section 3.2); (B, T, dim) -> (B, T, dim)."""

    def __init__(self, dim: int, feedforward_dim: int, num_heads: int, query_head_dim: int,
                 value_head_dim: int, pos_head_dim: int, pos_dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.attention_weights = RelPositionAttentionWeights(dim, pos_dim, num_heads, query_head_dim, pos_head_dim)
        self.feed_forward1 = FeedForward(dim, feedforward_dim * 3 // 4, dropout)
        self.nonlinear_attention = NonlinearAttention(dim, dim * 3 // 4)
        self.self_attention1 = SelfAttention(dim, num_heads, value_head_dim)
        self.conv1 = ConvolutionModule(dim, kernel_size)
        self.feed_forward2 = FeedForward(dim, feedforward_dim, dropout)
        self.mid_bypass = Bypass(dim)
        self.self_attention2 = SelfAttention(dim, num_heads, value_head_dim)
        self.conv2 = ConvolutionModule(dim, kernel_size)
        self.feed_forward3 = FeedForward(dim, feedforward_dim * 5 // 4, dropout)
        self.norm = BiasNorm(dim)
        self.bypass = Bypass(dim)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, valid: torch.Tensor,
                bypass_min: torch.Tensor) -> torch.Tensor:
        layer_input = x
        weights = self.attention_weights(x, positions, valid)  # shared by the three modules below
        x = x + self.feed_forward1(x)
        x = x + self.nonlinear_attention(x, weights[:, :1])
        x = x + self.self_attention1(x, weights)
        x = x + self.conv1(x, valid)
        x = x + self.feed_forward2(x)
        x = self.mid_bypass(layer_input, x, bypass_min)
        x = x + self.self_attention2(x, weights)
        x = x + self.conv2(x, valid)
        x = x + self.feed_forward3(x)
        return self.bypass(layer_input, self.norm(x), bypass_min)


def weighted_downsample(x: torch.Tensor, lengths: torch.Tensor, factor: int,
                        logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, T, C) -> (B, ceil(T / factor), C): each output frame is the softmax(logits)-weighted sum
    of ``factor`` adjacent frames; lengths -> ceil(lengths / factor).

    Each clip's last group is completed with copies of the clip's own last valid frame, which is
    what a clip run alone is completed with, so the result does not depend on the batch.
    """
    b, t, c = x.shape
    t_out = -(-t // factor)
    last_valid = (lengths - 1).clamp(min=0)[:, None]
    source = torch.arange(t_out * factor, device=x.device)[None, :].minimum(last_valid)  # (B, t_out*f)
    grouped = x.gather(1, source[..., None].expand(-1, -1, c)).view(b, t_out, factor, c)
    weights = logits.softmax(dim=0).to(x.dtype)
    return torch.einsum("btfc,f->btc", grouped, weights), (lengths + factor - 1) // factor


class ZipformerStack(nn.Module):
    """Layers run at 50 / ``factor`` Hz on a (B, T, dim) sequence at 50 Hz; output (B, T, dim).

    With factor > 1: learned weighted downsample, the layers, repeat-upsample, and a learned
    bypass between the stack's input and its upsampled output.
    """

    POSITION_DROPOUT = 0.15  # as the published code

    def __init__(self, factor: int, num_layers: int, dim: int, pos_dim: int, **layer_args):
        super().__init__()
        self.factor = factor
        self.pos_dim = pos_dim
        self.position_dropout = nn.Dropout(self.POSITION_DROPOUT)
        self.layers = nn.ModuleList(ZipformerLayer(dim, pos_dim=pos_dim, **layer_args) for _ in range(num_layers))
        if factor > 1:
            self.downsample_logits = nn.Parameter(torch.zeros(factor))
            self.out_bypass = Bypass(dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, bypass_min: torch.Tensor) -> torch.Tensor:
        stack_input = x
        if self.factor > 1:
            x, lengths = weighted_downsample(x, lengths, self.factor, self.downsample_logits)
        valid = lengths_to_mask(lengths, x.shape[1])
        positions = self.position_dropout(compact_relative_positions(x.shape[1], self.pos_dim, x.device))
        for layer in self.layers:
            x = layer(x, positions, valid, bypass_min)
        if self.factor > 1:
            x = x.repeat_interleave(self.factor, dim=1)[:, : stack_input.shape[1]]
            x = self.out_bypass(stack_input, x, bypass_min)
        return x


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Truncate or zero-pad the last dim of x to ``channels``."""
    if channels <= x.shape[-1]:
        return x[..., :channels]
    return F.pad(x, (0, channels - x.shape[-1]))


# ------------------------------------------------------------------ the encoder


@register_encoder("zipformer")
class ZipformerAudioEncoder(AudioEncoder):
    """Zipformer (Yao et al., ICLR 2024): fbank (B, T, input_dim) float, lengths (B,) int64 ->
    (frames (B, T', max(encoder_dim)), lengths' (B,)), T' = lengths' max = (T - 5) // 4 at the
    default ``output_downsampling`` 2 (one frame per 40 ms); frames beyond each length are 0.

    The Config defaults are the published "M" size (63,988,343 parameters with input_dim 80).
    See the module docstring for the architecture and what is left out.
    """

    @dataclass
    class Config:
        input_dim: int = 80
        downsampling_factor: List[int] = field(default_factory=lambda: [1, 2, 4, 8, 4, 2])
        num_encoder_layers: List[int] = field(default_factory=lambda: [2, 2, 3, 4, 3, 2])
        feedforward_dim: List[int] = field(default_factory=lambda: [512, 768, 1024, 1536, 1024, 768])
        num_heads: List[int] = field(default_factory=lambda: [4, 4, 4, 8, 4, 4])
        encoder_dim: List[int] = field(default_factory=lambda: [192, 256, 384, 512, 384, 256])
        cnn_module_kernel: List[int] = field(default_factory=lambda: [31, 31, 15, 15, 15, 31])
        query_head_dim: int = 32
        value_head_dim: int = 12
        pos_head_dim: int = 4
        pos_dim: int = 48
        output_downsampling: int = 2
        frontend_channels: List[int] = field(default_factory=lambda: [8, 32, 128])
        dropout: float = 0.1
        bypass_warmup_batches: int = 20000  # bypass scale floor goes 0.9 -> 0.2 over these batches

    PER_STACK = ("num_encoder_layers", "feedforward_dim", "num_heads", "encoder_dim", "cnn_module_kernel")
    BYPASS_MIN_START, BYPASS_MIN_END = 0.9, 0.2

    # frame geometry at output_downsampling 2 (instances recompute it from their config): the
    # front end gives (T - 7) // 2 frames at 50 Hz (>= 1 from 9 fbank frames), 50 Hz frame j built
    # on fbank frames [2j, 2j + 9); the output downsample gives ceil(that / 2) = (T - 5) // 4 =
    # (T - 9) // 4 + 1. min_input_frames is the fewest frames that give one output frame (its
    # 50 Hz pair completed by a copy, as any clip's tail); a full output frame i averages 50 Hz
    # frames 2i and 2i + 1, i.e. fbank frames [4i, 4i + 11): its receptive field, whose centre is
    # the frame's timestamp (attention lets every frame see the whole clip anyway)
    frame_shift_ms = 40.0
    input_stride = 4
    min_input_frames = 9
    receptive_field_frames = 11

    def __init__(self, conf: "ZipformerAudioEncoder.Config"):
        super().__init__()
        validate_config(conf)
        self.conf = conf
        self.output_dim = max(conf.encoder_dim)
        self.frame_shift_ms = 20.0 * conf.output_downsampling
        self.input_stride = 2 * conf.output_downsampling
        self.receptive_field_frames = self.input_stride + 7  # 50 Hz frames [f i, f i + f), 9 fbank frames each
        self.front_end = Conv2dFrontEnd(conf.input_dim, conf.encoder_dim[0], conf.frontend_channels, conf.dropout)
        self.stacks = nn.ModuleList(
            ZipformerStack(
                factor, layers, dim, conf.pos_dim, feedforward_dim=ff, num_heads=heads,
                query_head_dim=conf.query_head_dim, value_head_dim=conf.value_head_dim,
                pos_head_dim=conf.pos_head_dim, kernel_size=kernel, dropout=conf.dropout,
            )
            for factor, layers, dim, ff, heads, kernel in zip(
                conf.downsampling_factor, conf.num_encoder_layers, conf.encoder_dim, conf.feedforward_dim,
                conf.num_heads, conf.cnn_module_kernel)
        )
        if conf.output_downsampling > 1:
            self.output_downsample_logits = nn.Parameter(torch.zeros(conf.output_downsampling))
        self.register_buffer("trained_batches", torch.zeros((), dtype=torch.long))

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Input lengths (fbank frames, each >= min_input_frames) -> output frame counts."""
        factor = self.conf.output_downsampling
        return (Conv2dFrontEnd.output_lengths(lengths) + factor - 1) // factor

    def bypass_min(self) -> torch.Tensor:
        """The floor of every bypass scale now (0-d float tensor): linear from 0.9 to 0.2 over the
        first ``bypass_warmup_batches`` training forward passes (micro-batches)."""
        progress = (self.trained_batches.float() / max(self.conf.bypass_warmup_batches, 1)).clamp(max=1.0)
        return self.BYPASS_MIN_START + (self.BYPASS_MIN_END - self.BYPASS_MIN_START) * progress

    def combine_stack_outputs(self, outputs: List[torch.Tensor]) -> torch.Tensor:
        """(B, T, encoder_dim[i]) per stack -> (B, T, max(encoder_dim)): every channel range is taken
        from the last stack that has it."""
        pieces, width = [outputs[-1]], outputs[-1].shape[-1]
        for out in reversed(outputs[:-1]):
            if out.shape[-1] > width:
                pieces.append(out[..., width:])
                width = out.shape[-1]
        return torch.cat(pieces, dim=-1)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if features.shape[1] < self.min_input_frames:
            raise ValueError(f"audio too short for the encoder: {features.shape[1]} frames "
                             f"(need >= {self.min_input_frames})")
        shortest = int(lengths.min())
        if shortest < self.min_input_frames:
            raise ValueError(f"audio too short for the encoder: a clip of {shortest} frames in the batch "
                             f"(need >= {self.min_input_frames})")
        if self.training:
            with torch.no_grad():
                self.trained_batches += 1
        bypass_min = self.bypass_min()
        x, lengths = self.front_end(features, lengths)
        outputs = []
        for dim, stack in zip(self.conf.encoder_dim, self.stacks):
            x = stack(convert_channels(x, dim), lengths, bypass_min)
            outputs.append(x)
        x = self.combine_stack_outputs(outputs)
        if self.conf.output_downsampling > 1:
            x, lengths = weighted_downsample(x, lengths, self.conf.output_downsampling, self.output_downsample_logits)
        mask = lengths_to_mask(lengths, x.shape[1])
        return x.masked_fill(~mask[..., None], 0.0), lengths


def validate_config(conf: "ZipformerAudioEncoder.Config") -> None:
    """ValueError naming the field for a config the encoder cannot be built from."""
    stacks = len(conf.downsampling_factor)
    if stacks == 0:
        raise ValueError("zipformer downsampling_factor is empty: give one factor per stack, e.g. [1, 2, 4, 8, 4, 2]")
    for name in ("downsampling_factor",) + ZipformerAudioEncoder.PER_STACK:
        values = list(getattr(conf, name))
        if len(values) != stacks:
            raise ValueError(f"zipformer {name} has {len(values)} entries but downsampling_factor has {stacks}: "
                             "give one per stack")
        if any(not isinstance(v, int) or v < 1 for v in values):
            raise ValueError(f"zipformer {name} must hold positive integers, got {values}")
    for name in ("input_dim", "query_head_dim", "value_head_dim", "pos_head_dim", "pos_dim",
                 "output_downsampling", "bypass_warmup_batches"):
        if getattr(conf, name) < 1:
            raise ValueError(f"zipformer {name} must be >= 1, got {getattr(conf, name)}")
    if conf.input_dim < 7:
        raise ValueError(f"zipformer input_dim must be >= 7 (the front end halves the frequency axis twice), "
                         f"got {conf.input_dim}")
    if conf.pos_dim % 2:
        raise ValueError(f"zipformer pos_dim must be even (cosine and sine pairs), got {conf.pos_dim}")
    even = [k for k in conf.cnn_module_kernel if k % 2 == 0]
    if even:
        raise ValueError(f"zipformer cnn_module_kernel must be odd (centred convolutions), got {list(conf.cnn_module_kernel)}")
    if len(conf.frontend_channels) != 3 or any(c < 1 for c in conf.frontend_channels):
        raise ValueError(f"zipformer frontend_channels must be 3 positive channel counts, "
                         f"got {list(conf.frontend_channels)}")
    if not 0.0 <= conf.dropout < 1.0:
        raise ValueError(f"zipformer dropout must be in [0, 1), got {conf.dropout}")
