from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from audiotext.registry import Registry


class TextEncoder(nn.Module):
    """Base of every text encoder.

    Built as ``cls(conf, vocab_size=..., pad_id=...)``;
    forward(tokens (B, L), lengths (B,), texts) -> (hidden (B, L', output_dim), lengths (B,)).
    ``texts`` are the raw captions of the batch: an encoder with its own tokenizer
    (a pretrained one, ``needs_texts = True``) reads them and ignores the ids of
    the framework's tokenizer.
    """

    output_dim: int
    needs_texts: bool = False

    def exported_files(self) -> Dict[str, Path]:
        """Files besides the weights that rebuilding this encoder reads (file name -> source path).

        An export copies them into its ``text_encoder/`` folder and points
        ``text_encoder_conf.path`` there, so the exported model loads from its own folder; an
        encoder that returns any must therefore take its directory as ``path``. The default,
        none, suits an encoder built from its config alone.
        """
        return {}

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor,
                texts: Optional[List[str]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


TEXT_ENCODERS: Registry[TextEncoder] = Registry("text_encoder", TextEncoder)
register_text_encoder = TEXT_ENCODERS.register
