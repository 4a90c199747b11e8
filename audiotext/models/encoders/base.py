from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from audiotext.registry import Registry


class AudioEncoder(nn.Module):
    """Base of every audio encoder.

    forward(features (B, T, F), lengths (B,)) -> (frames (B, T', output_dim), lengths' (B,)).
    ``input_dim`` is given by the data pipeline (number of mel bins).

    Frame geometry, declared by every encoder (HEAR timestamps and windowing, and the
    minimum input every entry point checks, are derived from it): output frame ``i``
    is computed from input frames ``[i * input_stride, i * input_stride + min_input_frames)``
    (plus, through attention, whatever else the input holds). ``min_input_frames`` is so
    the fewest input frames ``forward`` accepts: one output frame. An encoder whose full
    output frame is built on more input frames than that (it completes a clip's last frame from
    fewer, as Zipformer's downsampling does) declares them as ``receptive_field_frames``; the
    centre of ``[i * input_stride, i * input_stride + receptive_field_frames)`` is frame ``i``'s
    timestamp.
    """

    output_dim: int
    frame_shift_ms: float  # time between two output frames, for timestamp embeddings
    input_stride: int = 1  # input frames per output frame
    min_input_frames: int = 1  # input frames one output frame is computed from
    receptive_field_frames: int = 0  # input frames a full output frame is built on; 0: min_input_frames

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


ENCODERS: Registry[AudioEncoder] = Registry("encoder", AudioEncoder)
register_encoder = ENCODERS.register
