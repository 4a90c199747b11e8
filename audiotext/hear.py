"""HEAR API over a trained checkpoint or an exported model (https://hearbenchmark.com/hear-api.html).

    model = load_model("exp/mini_stew_contrastive/checkpoints/best")   # or an export dir
    scene = get_scene_embeddings(audio, model)             # (n, scene_embedding_size)
    frames, ts = get_timestamp_embeddings(audio, model)    # (n, T, D), (n, T) in ms

``audio`` is a 2-D float tensor (n_sounds, n_samples) at ``model.sample_rate``,
values in [-1, 1]. Outputs are float32 tensors on ``audio``'s device.

* Timestamp embeddings are the encoder's output frames (before any projection
  head), one every ``encoder.frame_shift_ms`` (40 ms); each timestamp is the
  centre (ms from the start of the input) of the audio the frame is built on,
  strictly increasing along a row.
* Scene embeddings are the mean of the timestamp embeddings.
* Any length works: inputs shorter than ``MIN_SECONDS`` are padded with silence
  (one frame); inputs longer than ``MAX_WINDOW_SECONDS`` are encoded in
  consecutive, non-overlapping windows (attention cost grows with the square of
  the length) whose frames are concatenated; a remainder too short to encode on
  its own is folded into the last window instead.
* Every sound in a batch has the same length, so there is no padding inside the
  encoder and a batch gives the same embeddings as its sounds one by one.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from torch import nn

from audiotext.experiment import load_task_from_dir

# long inputs are encoded in windows of at most this length (plus a remainder under MIN_SECONDS)
MAX_WINDOW_SECONDS = 20.0
# the shortest window the front end encodes (10 fbank frames -> 1 encoder frame)
MIN_SECONDS = 0.1


def window_bounds(num_samples: int, window: int, min_samples: int) -> List[Tuple[int, int]]:
    """Split ``[0, num_samples)`` into consecutive windows of ``window`` samples.

    A last piece shorter than ``min_samples`` joins the window before it, so every
    window is encodable and no sample is encoded twice.
    """
    bounds = [(start, min(start + window, num_samples)) for start in range(0, num_samples, window)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_samples:
        (start, _), (_, end) = bounds[-2], bounds[-1]
        bounds[-2:] = [(start, end)]
    return bounds


class HearModel(nn.Module):
    def __init__(self, task):
        super().__init__()
        self.task = task.eval()
        self.sample_rate = task.fbank.conf.sample_rate
        self.scene_embedding_size = task.encoder.output_dim
        self.timestamp_embedding_size = task.encoder.output_dim
        self.frame_shift_ms = task.encoder.frame_shift_ms
        # encoder frames per fbank frame (4 for the conv front end: 10 ms -> 40 ms)
        self.subsampling = int(round(self.frame_shift_ms / task.fbank.conf.frame_shift_ms))

    @property
    def device(self) -> torch.device:
        return self.task.feature_mean.device

    def _encode_window(self, audio: torch.Tensor) -> torch.Tensor:
        """(n, samples) -> (n, T, D) for equal-length inputs (fbank on the CPU, encoder on the model's device)."""
        feats = torch.stack([self.task.fbank(a.numpy()) for a in audio.cpu()]).to(self.device)
        lens = torch.full((audio.shape[0],), feats.shape[1], dtype=torch.long, device=self.device)
        frames, _ = self.task.encode_audio(feats, lens)
        return frames.float()

    def _frame_times_ms(self, num_frames: int, start_sample: int) -> torch.Tensor:
        # output frame i sees fbank frames 4i .. 4i+6 (two 3x3 stride-2 convolutions): centre 4i+3
        idx = torch.arange(num_frames, dtype=torch.float64)
        centre = self.task.fbank.frame_centre_ms(idx * self.subsampling + (self.subsampling - 1))
        return (centre + 1000.0 * start_sample / self.sample_rate).float()

    @torch.no_grad()
    def timestamp_embeddings(self, audio: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_audio(audio)
        out_device = audio.device
        if audio.shape[0] == 0:  # no sounds: empty outputs of the shape one sound of this length gets
            emb, ts = self.timestamp_embeddings(torch.zeros(1, audio.shape[1], device=out_device))
            return emb[:0], ts[:0]
        audio = audio.float()
        min_samples = int(MIN_SECONDS * self.sample_rate)
        if audio.shape[1] < min_samples:  # too short for the front end: pad with silence
            audio = torch.nn.functional.pad(audio, (0, min_samples - audio.shape[1]))
        window = int(MAX_WINDOW_SECONDS * self.sample_rate)
        pieces, times = [], []
        for start, end in window_bounds(audio.shape[1], window, min_samples):
            frames = self._encode_window(audio[:, start:end])
            pieces.append(frames)
            times.append(self._frame_times_ms(frames.shape[1], start))
        emb = torch.cat(pieces, dim=1).to(out_device)
        ts = torch.cat(times)[None].expand(audio.shape[0], -1).contiguous().to(out_device)
        return emb, ts


def check_audio(audio) -> None:
    """The HEAR input contract: a 2-D floating-point torch tensor (n_sounds, n_samples)."""
    if not isinstance(audio, torch.Tensor):
        raise TypeError(f"audio must be a torch.Tensor (n_sounds, n_samples), got {type(audio).__name__}")
    if audio.ndim != 2:
        raise ValueError(f"audio must be (n_sounds, n_samples), got shape {tuple(audio.shape)}")
    if not audio.is_floating_point():
        raise TypeError(f"audio must be a floating-point tensor with values in [-1, 1], got {audio.dtype}")


def load_model(model_file_path: str = "", device: str = "cpu") -> HearModel:
    """Load a checkpoint or export directory (config.yaml + model.safetensors [+ tokenizer.model])."""
    if not model_file_path:
        raise ValueError("load_model needs the path of a checkpoint or exported model directory")
    task, _ = load_task_from_dir(model_file_path)
    return HearModel(task).to(device)


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> Tuple[torch.Tensor, torch.Tensor]:
    return model.timestamp_embeddings(audio)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    emb, _ = model.timestamp_embeddings(audio)
    return emb.mean(dim=1)
