from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from audiotext.registry import Registry


class TextEncoder(nn.Module):
    """Base of every text encoder.

    Built as ``cls(conf, vocab_size=..., pad_id=...)``;
    forward(tokens (B, L), lengths (B,)) -> (hidden (B, L, output_dim), lengths (B,)).
    """

    output_dim: int

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


TEXT_ENCODERS: Registry[TextEncoder] = Registry("text_encoder", TextEncoder)
register_text_encoder = TEXT_ENCODERS.register
