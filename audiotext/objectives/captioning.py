"""Captioning objective: a text decoder on the audio encoder, CapPa-style mix of
parallel and autoregressive decoding (Tschannen et al. 2023, "Image Captioners Are
Scalable Vision Learners Too").

Autoregressive samples: decoder input ``[bos] w1 .. wn``, causal self-attention,
targets ``w1 .. wn [eos]`` (teacher forcing). Parallel samples: every decoder input
is the mask token, self-attention is not causal, and all targets are predicted at
once, so the decoder cannot lean on the text prefix and must read the audio.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

import torch
import torch.nn.functional as F

from audiotext.config import dataclass_from_dict
from audiotext.decoding import DecodeConfig, decode
from audiotext.models.text_decoder import TextDecoder, TextDecoderConfig
from audiotext.objectives.base import Objective, ObjectiveContext, register_objective

IGNORE = -100


def decoder_io(tokens: torch.Tensor, token_lens: torch.Tensor, pad_id: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[bos] w.. [eos] pad..`` -> (inputs, input lengths, targets with IGNORE at padding)."""
    inputs = tokens[:, :-1].clone()
    lens = token_lens - 1
    targets = tokens[:, 1:].clone()
    valid = torch.arange(targets.shape[1], device=tokens.device)[None, :] < lens[:, None]
    targets[~valid] = IGNORE
    inputs[~valid] = pad_id
    return inputs, lens, targets


def parallel_inputs(inputs: torch.Tensor, lens: torch.Tensor, mask_id: int, pad_id: int) -> torch.Tensor:
    """Parallel decoding input: the mask token at every real position, padding kept."""
    valid = torch.arange(inputs.shape[1], device=inputs.device)[None, :] < lens[:, None]
    return torch.where(valid, torch.full_like(inputs, mask_id), torch.full_like(inputs, pad_id))


@register_objective("captioning")
class CaptioningObjective(Objective):
    capabilities = frozenset({"generation"})

    @dataclass
    class Config:
        decoder: Dict = field(default_factory=dict)  # TextDecoderConfig fields
        label_smoothing: float = 0.1
        # share of each batch trained with parallel decoding (CapPa: 0.75); 0 is plain autoregressive
        parallel_fraction: float = 0.75

    def __init__(self, conf: "CaptioningObjective.Config", ctx: ObjectiveContext):
        super().__init__()
        if not 0.0 <= conf.parallel_fraction <= 1.0:
            raise ValueError(f"objective_conf.parallel_fraction must be in [0, 1], got {conf.parallel_fraction}")
        self.conf = conf
        self.pad_id, self.bos_id, self.eos_id = ctx.pad_id, ctx.bos_id, ctx.eos_id
        dec_conf = dataclass_from_dict(TextDecoderConfig, conf.decoder, "objective_conf.decoder")
        self.decoder = TextDecoder(dec_conf, ctx.vocab_size, ctx.audio_dim, ctx.pad_id)

    @property
    def max_length(self) -> int:
        return self.decoder.conf.max_length

    def loss_weight(self, batch) -> float:
        """The loss is a mean over target tokens (each caption's tokens and its eos)."""
        return float((batch.token_lens - 1).sum())

    def split_batch(self, batch_size: int, device) -> torch.Tensor:
        """Bool (B,): True for samples decoded in parallel this step.

        Random rows in training; in eval mode the first rows, so validation losses
        compare across checkpoints and do not draw from the training RNG.
        """
        num_parallel = int(round(self.conf.parallel_fraction * batch_size))
        chosen = torch.zeros(batch_size, dtype=torch.bool, device=device)
        rows = torch.randperm(batch_size, device=device) if self.training else torch.arange(batch_size, device=device)
        chosen[rows[:num_parallel]] = True
        return chosen

    def forward(self, frames, frame_lens, batch):
        inputs, lens, targets = decoder_io(batch.tokens, batch.token_lens, self.pad_id)
        memory = self.decoder.prepare_memory(frames)
        parallel = self.split_batch(len(inputs), inputs.device)
        total = frames.new_zeros((), dtype=torch.float32)
        correct = frames.new_zeros((), dtype=torch.float32)
        num_tokens = (targets != IGNORE).sum().clamp(min=1)
        for rows, causal in ((~parallel, True), (parallel, False)):
            if not rows.any():
                continue
            x = inputs[rows] if causal else parallel_inputs(inputs[rows], lens[rows], self.decoder.mask_id, self.pad_id)
            logits = self.decoder(x, lens[rows], memory[rows], frame_lens[rows], causal=causal)
            # summed here and divided by the batch's token count below: every token weighs the same
            total = total + F.cross_entropy(logits.float().flatten(0, 1), targets[rows].flatten(),
                                            ignore_index=IGNORE, label_smoothing=self.conf.label_smoothing,
                                            reduction="sum")
            with torch.no_grad():
                correct += (logits.argmax(-1) == targets[rows]).sum()
        loss = total / num_tokens
        return loss, {"loss": loss.detach(), "token_acc": correct / num_tokens}

    @torch.no_grad()
    def sequence_log_likelihood(self, frames, frame_lens, tokens, token_lens, length_normalize: bool = True):
        """log p(caption | audio) under autoregressive decoding, per row: (B,).

        Summed over the caption's tokens and its eos; divided by their number when
        ``length_normalize`` (so class names of different lengths compare fairly).
        """
        inputs, lens, targets = decoder_io(tokens, token_lens, self.pad_id)
        memory = self.decoder.prepare_memory(frames)
        logits = self.decoder(inputs, lens, memory, frame_lens, causal=True).float()
        logp = torch.log_softmax(logits, -1)
        keep = targets != IGNORE
        picked = logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0] * keep
        total = picked.sum(-1)
        return total / keep.sum(-1).clamp(min=1) if length_normalize else total

    @torch.no_grad()
    def generate(self, frames, frame_lens, decode_conf=None):
        """Caption token ids per clip (greedy, or beam search when decode_conf.beam_size > 1)."""
        return decode(self.decoder, frames, frame_lens, self.bos_id, self.eos_id, decode_conf or DecodeConfig())
