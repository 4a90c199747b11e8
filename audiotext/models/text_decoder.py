"""Transformer text decoder with cross-attention to audio frames (captioning head)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audiotext.models.attention import map_values, uses_packing
from audiotext.models.transformer import TransformerBlock, from_block_layout, to_block_layout


@dataclass
class TextDecoderConfig:
    d_model: int = 256
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int = 1024
    max_length: int = 64
    dropout: float = 0.1
    tie_embeddings: bool = True  # output projection shares the token embedding (fewer parameters)
    attention_backend: str = "auto"


class TextDecoder(nn.Module):
    """Pre-norm decoder: token embedding + learned positions, self-attention (causal or
    not), cross-attention to the audio memory, FFN; logits over the tokenizer's vocabulary.

    The embedding table has one extra row, ``mask_id == vocab_size``: the input token of
    parallel (non-autoregressive) decoding. It is never predicted.

    When the attention runs on flash-attn (``uses_packing``) the token states are packed
    once after embedding + positions and the audio memory once (its lengths give the
    cross-attention's cu_seqlens_k); blocks, final norm and the output projection then
    run on valid tokens only and the logits are padded once at the end.
    """

    def __init__(self, conf: TextDecoderConfig, vocab_size: int, memory_dim: int, pad_id: int = 0):
        super().__init__()
        self.conf = conf
        self.vocab_size = vocab_size
        self.mask_id = vocab_size
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size + 1, conf.d_model, padding_idx=pad_id)
        # small init: with tied embeddings the logits start near uniform
        nn.init.normal_(self.embed.weight, std=conf.d_model ** -0.5)
        with torch.no_grad():
            self.embed.weight[pad_id].zero_()
        self.positions = nn.Parameter(torch.zeros(conf.max_length, conf.d_model))
        nn.init.normal_(self.positions, std=0.02)
        self.memory_proj = nn.Linear(memory_dim, conf.d_model) if memory_dim != conf.d_model else nn.Identity()
        self.drop = nn.Dropout(conf.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(conf.d_model, conf.num_heads, conf.d_ff, conf.dropout, 0.0, conf.attention_backend,
                             cross_attention=True)
            for _ in range(conf.num_layers)
        )
        self.final_norm = nn.LayerNorm(conf.d_model)
        self.out_proj = None if conf.tie_embeddings else nn.Linear(conf.d_model, vocab_size, bias=False)

    def prepare_memory(self, frames: torch.Tensor) -> torch.Tensor:
        """Project audio frames once; decoding steps then reuse the result."""
        return self.memory_proj(frames)

    def forward(self, tokens: torch.Tensor, token_lens: torch.Tensor, memory: torch.Tensor,
                memory_lens: torch.Tensor, causal: bool = True) -> torch.Tensor:
        """tokens (B, L) -> logits (B, L, vocab_size), zero at padded positions.
        ``memory`` (B, T, d_model) comes from prepare_memory."""
        length = tokens.shape[1]
        if length > self.conf.max_length:
            raise ValueError(f"decoder input of {length} tokens exceeds max_length={self.conf.max_length}")
        x = self.embed(tokens) + self.positions[:length]
        pack = uses_packing(self.conf.attention_backend, x)  # tokens and memory alike
        x, mask = to_block_layout(pack, x, token_lens)
        memory, memory_mask = to_block_layout(pack, memory, memory_lens)
        x = map_values(self.drop, x)
        for block in self.blocks:
            x = block(x, mask, causal=causal, memory=memory, memory_mask=memory_mask)
        return from_block_layout(map_values(self._logits, map_values(self.final_norm, x)), mask, length)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.out_proj is not None:
            return self.out_proj(x)
        return x @ self.embed.weight[: self.vocab_size].t()
