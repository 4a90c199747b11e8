"""The one batch type every task's dataset returns and every objective reads."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, List, Optional, Tuple

import torch


@dataclass
class Batch:
    """A batch of clips, padded.

    Audio (every task):

    * ``cut_ids``: the ids of the clips in the batch, row order.
    * ``features``: (B, T, F) float32 log-mel filterbank, 10 ms frames (``data.fbank``), zero padding;
      SpecAugment already applied in training. ``None`` when no clip of the batch was usable.
    * ``feature_lens``: (B,) int64, valid frames per row.
    * ``skipped``: ``(cut id, reason)`` of clips left out (unreadable audio, too short, no target, ...).
    * ``epoch``, ``index``: where the batch sits in the data order (its randomness derives from them).
    * ``frame_shift_ms``: the fbank frame shift, so the batch knows its own seconds of audio.

    Targets (whichever the task fills):

    * captions: ``tokens`` (B, L) int64 ``[bos] w.. [eos] pad..``, ``token_lens`` (B,) int64, and the
      drawn ``captions`` text with their ``styles`` / ``domains``;
    * labels: ``labels`` (B, C) float32 multi-hot over the task's label vocabulary;
    * ``extra``: anything a plugin task adds (tensors there move to the device too).
    """

    cut_ids: List[str]
    features: Optional[torch.Tensor] = None
    feature_lens: Optional[torch.Tensor] = None
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    epoch: int = 0
    index: int = 0
    frame_shift_ms: float = 10.0
    tokens: Optional[torch.Tensor] = None
    token_lens: Optional[torch.Tensor] = None
    captions: List[str] = field(default_factory=list)
    styles: List[str] = field(default_factory=list)
    domains: List[str] = field(default_factory=list)
    labels: Optional[torch.Tensor] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_cuts(self) -> int:
        return len(self.cut_ids)

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio in the batch (valid fbank frames × the frame shift)."""
        if self.feature_lens is None:
            return 0.0
        return float(self.feature_lens.sum()) * self.frame_shift_ms / 1000.0

    def to(self, device, non_blocking: bool = True) -> "Batch":
        def move(v):
            return v.to(device, non_blocking=non_blocking) if torch.is_tensor(v) else v

        changes = {f.name: move(getattr(self, f.name)) for f in fields(self) if torch.is_tensor(getattr(self, f.name))}
        changes["extra"] = {k: move(v) for k, v in self.extra.items()}
        return replace(self, **changes)
