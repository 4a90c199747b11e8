from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from audiotext.registry import Registry


class AudioEncoder(nn.Module):
    """Base of every audio encoder.

    forward(features (B, T, F), lengths (B,)) -> (frames (B, T', output_dim), lengths' (B,)).
    ``input_dim`` is given by the data pipeline (number of mel bins).
    """

    output_dim: int
    frame_shift_ms: float  # time between two output frames, for timestamp embeddings

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


ENCODERS: Registry[AudioEncoder] = Registry("encoder", AudioEncoder)
register_encoder = ENCODERS.register
