"""A Transformer text encoder trained from scratch on sentencepiece tokens.

Packed (``PackedBatch``) through all blocks when the attention runs on flash-attn: packed
once after embedding + positions, padded once at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audiotext.models.attention import map_values, uses_packing
from audiotext.models.text_encoders.base import TextEncoder, register_text_encoder
from audiotext.models.transformer import TransformerBlock, from_block_layout, to_block_layout


@register_text_encoder("transformer")
class TransformerTextEncoder(TextEncoder):
    @dataclass
    class Config:
        d_model: int = 256
        num_layers: int = 2
        num_heads: int = 4
        d_ff: int = 1024
        max_length: int = 128
        dropout: float = 0.1
        attention_backend: str = "auto"

    def __init__(self, conf: "TransformerTextEncoder.Config", vocab_size: int, pad_id: int = 0):
        super().__init__()
        self.conf = conf
        self.output_dim = conf.d_model
        self.embed = nn.Embedding(vocab_size, conf.d_model, padding_idx=pad_id)
        self.positions = nn.Parameter(torch.zeros(conf.max_length, conf.d_model))
        nn.init.normal_(self.positions, std=0.02)
        self.drop = nn.Dropout(conf.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(conf.d_model, conf.num_heads, conf.d_ff, conf.dropout, 0.0, conf.attention_backend)
            for _ in range(conf.num_layers)
        )
        self.final_norm = nn.LayerNorm(conf.d_model)

    def forward(self, tokens, lengths, texts=None):
        if tokens.shape[1] > self.conf.max_length:
            raise ValueError(f"text of {tokens.shape[1]} tokens exceeds max_length={self.conf.max_length}")
        x = self.embed(tokens) + self.positions[: tokens.shape[1]]
        x, mask = to_block_layout(uses_packing(self.conf.attention_backend, x), x, lengths)
        x = map_values(self.drop, x)
        for block in self.blocks:
            x = block(x, mask)
        return from_block_layout(map_values(self.final_norm, x), mask, tokens.shape[1]), lengths
