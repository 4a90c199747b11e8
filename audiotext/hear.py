"""HEAR API over a trained checkpoint (https://hearbenchmark.com/hear-api.html).

    model = load_model("exp/mini_stew_contrastive/checkpoints/best")
    scene = get_scene_embeddings(audio, model)             # (n, scene_embedding_size)
    frames, ts = get_timestamp_embeddings(audio, model)    # (n, T, D), (n, T) in ms

``audio`` is a float tensor (n, samples) at ``model.sample_rate``, values in [-1, 1].
Scene embeddings are the mean of the timestamp embeddings (the encoder's output
frames, before any projection head).
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from audiotext.experiment import load_task_from_dir

# long inputs are encoded in windows (attention cost grows with the square of length)
MAX_WINDOW_SECONDS = 20.0
MIN_SECONDS = 0.1


class HearModel(nn.Module):
    def __init__(self, task):
        super().__init__()
        self.task = task.eval()
        self.sample_rate = task.fbank.conf.sample_rate
        self.scene_embedding_size = task.encoder.output_dim
        self.timestamp_embedding_size = task.encoder.output_dim
        self.frame_shift_ms = task.encoder.frame_shift_ms

    def _encode_window(self, audio: torch.Tensor) -> torch.Tensor:
        """(n, samples) -> (n, T, D) for equal-length inputs."""
        feats = torch.stack([self.task.fbank(a.cpu().numpy()) for a in audio]).to(audio.device)
        lens = torch.full((audio.shape[0],), feats.shape[1], dtype=torch.long, device=audio.device)
        frames, _ = self.task.encode_audio(feats, lens)
        return frames

    @torch.no_grad()
    def timestamp_embeddings(self, audio: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if audio.ndim != 2:
            raise ValueError(f"audio must be (n_sounds, n_samples), got shape {tuple(audio.shape)}")
        audio = audio.float()
        min_samples = int(MIN_SECONDS * self.sample_rate)
        if audio.shape[1] < min_samples:  # too short for the front end: pad with silence
            audio = torch.nn.functional.pad(audio, (0, min_samples - audio.shape[1]))
        window = int(MAX_WINDOW_SECONDS * self.sample_rate)
        pieces, times = [], []
        for start in range(0, audio.shape[1], window):
            chunk = audio[:, start:start + window]
            if chunk.shape[1] < min_samples:  # a sliver at the end: fold it into the last window
                chunk = audio[:, max(0, audio.shape[1] - min_samples):]
                start = audio.shape[1] - chunk.shape[1]
            frames = self._encode_window(chunk)
            pieces.append(frames)
            # output frame i sees fbank frames 4i .. 4i+6; its centre is fbank frame 4i+3
            idx = torch.arange(frames.shape[1], device=audio.device, dtype=torch.float32)
            centre = self.task.fbank.frame_centre_ms(idx * 4 + 3)
            times.append(centre + 1000.0 * start / self.sample_rate)
        emb = torch.cat(pieces, dim=1)
        ts = torch.cat(times)[None].expand(audio.shape[0], -1).contiguous()
        return emb, ts


def load_model(model_file_path: str = "", device: str = "cpu") -> HearModel:
    """Load a checkpoint directory (config.yaml + model.safetensors + tokenizer.model)."""
    if not model_file_path:
        raise ValueError("load_model needs the path of a checkpoint directory")
    task, _ = load_task_from_dir(model_file_path)
    return HearModel(task).to(device)


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> Tuple[torch.Tensor, torch.Tensor]:
    return model.timestamp_embeddings(audio)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    emb, _ = model.timestamp_embeddings(audio)
    return emb.mean(dim=1)
