"""80-d log-mel filterbank features, computed on the fly with torchaudio's Kaldi-compatible fbank."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi


@dataclass
class FbankConfig:
    sample_rate: int = 16000
    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0


class Fbank:
    def __init__(self, conf: FbankConfig):
        self.conf = conf

    def num_frames(self, num_samples: int) -> int:
        window = int(self.conf.sample_rate * self.conf.frame_length_ms / 1000)
        shift = int(self.conf.sample_rate * self.conf.frame_shift_ms / 1000)
        return 0 if num_samples < window else 1 + (num_samples - window) // shift

    def __call__(self, audio) -> torch.Tensor:
        """(num_samples,) float audio in [-1, 1] -> (frames, num_mel_bins) log-mel."""
        wave = torch.as_tensor(np.asarray(audio, dtype=np.float32))[None] * 32768.0  # Kaldi's int16 scale
        return kaldi.fbank(
            wave,
            num_mel_bins=self.conf.num_mel_bins,
            frame_length=self.conf.frame_length_ms,
            frame_shift=self.conf.frame_shift_ms,
            sample_frequency=self.conf.sample_rate,
            dither=0.0,
            energy_floor=1.0,
        )
