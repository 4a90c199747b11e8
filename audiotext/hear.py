"""HEAR API over a trained checkpoint or an exported model (https://hearbenchmark.com/hear-api.html).

    model = load_model("exp/captionstew_contrastive/checkpoints/best")   # or an export dir
    scene = get_scene_embeddings(audio, model)             # (n, scene_embedding_size)
    frames, ts = get_timestamp_embeddings(audio, model)    # (n, T, D), (n, T) in ms

``audio`` is a 2-D float tensor (n_sounds, n_samples) at ``model.sample_rate``,
values in [-1, 1]. Outputs are float32 tensors on ``audio``'s device.

* Timestamp embeddings are the encoder's output frames (before any projection
  head), one every ``encoder.frame_shift_ms`` (40 ms) from the first frame to the
  last, whatever the length (HEAR's validator requires a regular hop); each
  timestamp is the centre (ms from the start of the input) of the audio the frame
  is built on.
* Scene embeddings are the mean of the timestamp embeddings.
* Any length works: inputs shorter than the encoder's minimum input
  (``model.model.min_input_samples``, 65 ms for the transformer) are padded with
  silence to one frame. The fbank of the whole input is computed at once; inputs longer than
  ``MAX_WINDOW_SECONDS`` are encoded in windows (attention cost grows with the
  square of the length) of nearly equal size. Each window owns a run of output
  frames and is given the fbank frames those are computed from, so consecutive
  windows overlap by the front end's receptive field (3 fbank frames) and every
  frame of the unwindowed encoding is produced exactly once.
* Every sound in a batch has the same length, so there is no padding inside the
  encoder and a batch gives the same embeddings as its sounds one by one.
* A sound holding NaN/inf samples, or samples far beyond full scale (see
  :data:`audiotext.data.audio_checks.MAX_ABS_SAMPLE`), is the caller's error:
  ``ValueError`` naming the sounds (a silent NaN embedding would poison a whole
  benchmark run).
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from torch import nn

from audiotext.data.audio_checks import MAX_ABS_SAMPLE, unusable_inputs_error
from audiotext.embedding import load_audio_model

# long inputs are encoded in windows of at most this length
MAX_WINDOW_SECONDS = 20.0


def frame_windows(num_frames: int, max_frames: int) -> List[Tuple[int, int]]:
    """Split output frames ``[0, num_frames)`` into the fewest runs of at most ``max_frames``,
    of nearly equal length (no short last window with little attention context)."""
    count = max(1, -(-num_frames // max_frames))
    edges = [round(k * num_frames / count) for k in range(count + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:])]


class HearModel(nn.Module):
    """The HEAR view of a model with the embedding interface (:class:`~audiotext.embedding.AudioEmbedding`:
    an :class:`~audiotext.embedding.AudioModel` from :func:`load_model`, or a whole task)."""

    def __init__(self, model):
        super().__init__()
        self.model = model.eval()
        self.sample_rate = model.sample_rate
        self.scene_embedding_size = model.embedding_dim
        self.timestamp_embedding_size = model.embedding_dim

    @property
    def device(self) -> torch.device:
        return self.model.device

    @torch.no_grad()
    def timestamp_embeddings(self, audio: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_audio(audio)
        out_device = audio.device
        model = self.model
        if audio.shape[0] == 0:  # no sounds: empty outputs of the shape one sound of this length gets
            emb, ts = self.timestamp_embeddings(torch.zeros(1, audio.shape[1], device=out_device))
            return emb[:0], ts[:0]
        # the whole input at once; short sounds padded with silence to one frame
        feats = torch.stack([model.featurize(a) for a in audio.float()]).to(self.device)
        total = model.num_frames(audio.shape[1])
        encoder = model.encoder
        stride, receptive = encoder.input_stride, encoder.receptive_field_frames or encoder.min_input_frames
        max_frames = int(MAX_WINDOW_SECONDS * 1000 / model.frame_shift_ms)
        pieces = []
        for start, end in frame_windows(total, max_frames):
            # output frame i is built on fbank frames [i * stride, i * stride + receptive): a window
            # holds every frame its last output frame is built on (the audio's last may have fewer)
            window = feats[:, start * stride:(end - 1) * stride + receptive]
            lens = torch.full((audio.shape[0],), window.shape[1], dtype=torch.long, device=self.device)
            frames, _ = model.encode(window, lens)
            if frames.shape[1] != end - start:  # the encoder broke its declared frame geometry
                raise RuntimeError(f"{type(model.encoder).__name__} gave {frames.shape[1]} frames for "
                                   f"{window.shape[1]} fbank frames; its input_stride/min_input_frames "
                                   f"promise {end - start}")
            pieces.append(frames.float())
        emb = torch.cat(pieces, dim=1).to(out_device)
        ts = model.frame_times_ms(total)[None].expand(audio.shape[0], -1).contiguous().to(out_device)
        return emb, ts


def check_audio(audio) -> None:
    """The HEAR input contract: a 2-D floating-point torch tensor (n_sounds, n_samples) of finite
    samples in [-1, 1] (up to ``MAX_ABS_SAMPLE`` is let through). TypeError / ValueError otherwise."""
    if not isinstance(audio, torch.Tensor):
        raise TypeError(f"audio must be a torch.Tensor (n_sounds, n_samples), got {type(audio).__name__}")
    if audio.ndim != 2:
        raise ValueError(f"audio must be (n_sounds, n_samples), got shape {tuple(audio.shape)}")
    if not audio.is_floating_point():
        raise TypeError(f"audio must be a floating-point tensor with values in [-1, 1], got {audio.dtype}")
    if audio.shape[0] == 0 or audio.shape[1] == 0:
        return
    problems = {}
    for i in torch.nonzero(~torch.isfinite(audio).all(dim=1)).flatten().tolist():
        problems[i] = "non_finite"
    for i in torch.nonzero(audio.abs().amax(dim=1) > MAX_ABS_SAMPLE).flatten().tolist():
        problems.setdefault(i, "out_of_range")
    if problems:
        raise unusable_inputs_error(problems, "sounds")


def load_model(model_file_path: str = "", device: str = "cpu") -> HearModel:
    """Load the audio side of a checkpoint or export directory (config.yaml + model.safetensors):
    :func:`audiotext.embedding.load_audio_model`, which loads installed entry-point plugins first and
    never builds the text tower. FileNotFoundError / ConfigError for a bad directory,
    :class:`~audiotext.train.checkpoint.WeightsError` for weights that do not fit."""
    if not model_file_path:
        raise ValueError("load_model needs the path of a checkpoint or exported model directory")
    return HearModel(load_audio_model(model_file_path, device))


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> Tuple[torch.Tensor, torch.Tensor]:
    return model.timestamp_embeddings(audio)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    emb, _ = model.timestamp_embeddings(audio)
    return emb.mean(dim=1)
