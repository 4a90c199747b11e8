"""Explicit FLOP counts for model-FLOPs utilisation (MFU).

Model FLOPs count the matrix products a model needs for its *valid* frames only (padding is not
useful work), 2 FLOPs per multiply-add, the convention of the PaLM paper's MFU (Chowdhery et al.
2022, appendix B) and of torch's ``FlopCounterMode`` (whose per-op counts the tests compare with
these formulas). Element-wise work (norms, activations, softmax) is not counted. A training step
costs 3 x the forward FLOPs (the backward pass computes two products per forward product).
"""
from __future__ import annotations

from typing import Iterable

import torch

TRAINING_FLOPS_PER_FORWARD_FLOP = 3


def conv_subsampling_output(frames: int, mel_bins: int):
    """(time, frequency) after the Transformer encoder's two 3x3 stride-2 unpadded convolutions:
    each gives ``(n - 3) // 2 + 1 == (n - 1) // 2``."""
    t1, f1 = (frames - 1) // 2, (mel_bins - 1) // 2
    return (t1, f1), ((t1 - 1) // 2, (f1 - 1) // 2)


def transformer_encoder_forward_flops(conf, frame_lengths: Iterable[int]) -> int:
    """Forward FLOPs of ``TransformerAudioEncoder`` (its ``Config`` ``conf``) on clips of
    ``frame_lengths`` fbank frames each (10 ms frames), run without padding.

    Per clip: the front end (conv 1 -> C channels, conv C -> C, a linear C*F'' -> d), then per
    block and output frame 2 * (4 d^2 + 2 d d_ff) for the q, k, v, output and feed-forward
    products, and 2 * 2 * n^2 * d for the attention scores and their weighted sum over the clip's
    n frames.
    """
    d, d_ff, channels = conf.d_model, conf.d_ff, conf.subsampling_channels
    total = 0
    for frames in frame_lengths:
        (t1, f1), (t2, f2) = conv_subsampling_output(int(frames), conf.input_dim)
        front = t1 * f1 * channels * 9 + t2 * f2 * channels * channels * 9 + t2 * channels * f2 * d
        per_block = t2 * (4 * d * d + 2 * d * d_ff) + 2 * t2 * t2 * d
        total += 2 * (front + conf.num_layers * per_block)
    return total


def counted_forward_flops(module: torch.nn.Module, *inputs) -> int:
    """Forward FLOPs of ``module(*inputs)`` as torch's ``FlopCounterMode`` counts them (matrix
    products and convolutions), without building a graph. The counter does not see flash-attn's
    own kernels: count a model whose attention runs through torch (``math`` backend)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(*inputs)
    return counter.get_total_flops()
