"""Transformer audio encoder: conv subsampling front end + pre-norm Transformer blocks.

When the attention runs on flash-attn (``uses_packing``) the frames are packed once after
subsampling and positions, every block runs on the valid frames only, and the output is
padded again once at the end; otherwise the blocks run padded with a mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audiotext.models.attention import map_values, uses_packing
from audiotext.models.encoders.base import AudioEncoder, register_encoder
from audiotext.models.transformer import TransformerBlock, from_block_layout, sinusoidal_positions, to_block_layout


class Conv2dSubsampling(nn.Module):
    """Two stride-2 3x3 convolutions: 4x fewer frames (10 ms -> 40 ms)."""

    def __init__(self, input_dim: int, channels: int, d_model: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2), nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=2), nn.GELU(),
        )
        freq_out = ((input_dim - 1) // 2 - 1) // 2
        self.proj = nn.Linear(channels * freq_out, d_model)

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        return ((lengths - 1) // 2 - 1) // 2

    def forward(self, x, lengths):
        x = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = x.shape
        x = self.proj(x.permute(0, 2, 1, 3).reshape(b, t, c * f))
        return x, self.output_lengths(lengths).clamp(min=1, max=t)


@register_encoder("transformer")
class TransformerAudioEncoder(AudioEncoder):
    @dataclass
    class Config:
        input_dim: int = 80
        d_model: int = 256
        num_layers: int = 4
        num_heads: int = 4
        d_ff: int = 1024
        subsampling_channels: int = 64
        dropout: float = 0.1
        attn_dropout: float = 0.0
        attention_backend: str = "auto"  # auto | flash | sdpa | math

    frame_shift_ms = 40.0
    # two 3x3 stride-2 convolutions without padding: frame i sees fbank frames 4i .. 4i+6
    input_stride = 4
    min_input_frames = 7

    def __init__(self, conf: "TransformerAudioEncoder.Config"):
        super().__init__()
        self.conf = conf
        self.output_dim = conf.d_model
        self.subsampling = Conv2dSubsampling(conf.input_dim, conf.subsampling_channels, conf.d_model)
        self.drop = nn.Dropout(conf.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(conf.d_model, conf.num_heads, conf.d_ff, conf.dropout, conf.attn_dropout, conf.attention_backend)
            for _ in range(conf.num_layers)
        )
        self.final_norm = nn.LayerNorm(conf.d_model)

    def forward(self, features, lengths):
        if features.shape[1] < self.min_input_frames:
            raise ValueError(f"audio too short for the encoder: {features.shape[1]} frames "
                             f"(need >= {self.min_input_frames})")
        x, lengths = self.subsampling(features, lengths)
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        frames = x.shape[1]
        x, mask = to_block_layout(uses_packing(self.conf.attention_backend, x), x, lengths)
        x = map_values(self.drop, x)
        for block in self.blocks:
            x = block(x, mask)
        return from_block_layout(map_values(self.final_norm, x), mask, frames), lengths
