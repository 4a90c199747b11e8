"""The one embedding interface: audio in, audio-encoder frames out.

Everything that turns audio into embeddings (evaluation, the HEAR API, export,
``bin.embed``, captioning) goes through :class:`AudioEmbedding`, so the sample rate,
the minimum input and its padding, feature normalisation and frame timing are
written once, here.

* :class:`AudioEmbedding` is a mixin for any ``nn.Module`` that holds ``encoder``
  (an :class:`~audiotext.models.encoders.base.AudioEncoder`), ``fbank``
  (:class:`~audiotext.data.features.Fbank`) and the buffers ``feature_mean`` /
  ``feature_std`` (``(num_mel_bins,)`` float32, the global fbank statistics of the
  training data). :meth:`AudioEmbedding.build_audio_side` creates exactly those, so
  every host names them the same and a checkpoint's ``encoder.*``, ``feature_mean``
  and ``feature_std`` load into any of them.
* :class:`AudioModel` is the audio side alone; :func:`load_audio_model` builds it
  from a checkpoint or export directory without building the text tower or the
  objective (their weights in the file are skipped).
* :func:`build_audio_encoder` is the one place an experiment's audio encoder is
  built: its ``input_dim`` comes from ``data.fbank.num_mel_bins``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from audiotext.config import ConfigError
from audiotext.data.audio_checks import checked_features, min_input_samples
from audiotext.data.features import Fbank, fbank_frames

Waveform = Union[np.ndarray, torch.Tensor]


def audio_encoder_conf(exp) -> Dict[str, Any]:
    """``exp.encoder_conf`` with ``input_dim`` derived from ``exp.data.fbank.num_mel_bins``.

    The encoder's input is the fbank, so its width is set in one place, the data config: an
    encoder config that leaves ``input_dim`` out gets it (when the encoder's Config has that
    field); one that states another value is a :class:`ConfigError` naming both keys.
    """
    from audiotext.models.encoders import ENCODERS

    mels = int(exp.data.fbank.num_mel_bins)
    conf = dict(exp.encoder_conf)
    stated = conf.get("input_dim")
    if stated is not None and stated != mels:
        raise ConfigError(f"encoder_conf.input_dim is {stated} but data.fbank.num_mel_bins is {mels}: the "
                          "encoder's input is the fbank; leave encoder_conf.input_dim out (it is derived)")
    if "input_dim" in _config_fields(ENCODERS.get(exp.encoder)):
        conf["input_dim"] = mels
    return conf


def build_audio_encoder(exp):
    """The audio encoder ``exp`` (an :class:`~audiotext.experiment.ExperimentConfig`) describes,
    with ``input_dim`` from :func:`audio_encoder_conf`; the one place a task or
    :class:`AudioModel` builds it."""
    from audiotext.models.encoders import ENCODERS

    return ENCODERS.build(exp.encoder, audio_encoder_conf(exp), where="encoder_conf")


def _config_fields(component_class) -> set:
    conf = getattr(component_class, "Config", None)
    return {f.name for f in dataclasses.fields(conf)} if conf is not None and dataclasses.is_dataclass(conf) else set()


class AudioEmbedding:
    """Audio -> log-mel features -> normalised -> encoder frames, with the frame geometry.

    The host module holds ``encoder``, ``fbank``, ``feature_mean`` and ``feature_std``
    (see :meth:`build_audio_side`). Waveforms are mono, float, at :attr:`sample_rate`,
    values in [-1, 1]; features are float32 ``(T, num_mel_bins)`` log-mel frames,
    one every ``fbank.conf.frame_shift_ms`` ms; encoder frames are ``(B, T', output_dim)``,
    one every :attr:`frame_shift_ms` ms.

    ``other_state_prefixes``: the host's state-dict prefixes outside the audio side
    (the pretraining task's ``objective.``), which :func:`load_audio_model` skips.
    """

    other_state_prefixes: Tuple[str, ...] = ()

    def build_audio_side(self, exp) -> None:
        """Create ``encoder`` (:func:`build_audio_encoder`), ``fbank`` and the statistics buffers
        (mean 0, std 1 until trained or loaded) for the experiment config ``exp``."""
        self.encoder = build_audio_encoder(exp)
        self.fbank = Fbank(exp.data.fbank)
        mels = exp.data.fbank.num_mel_bins
        # global feature normalisation, saved with the weights so inference matches training
        self.register_buffer("feature_mean", torch.zeros(mels))
        self.register_buffer("feature_std", torch.ones(mels))

    # ------------------------------------------------------------- geometry

    @property
    def sample_rate(self) -> int:
        """Hz of the waveforms the model takes."""
        return int(self.fbank.conf.sample_rate)

    @property
    def embedding_dim(self) -> int:
        """Size of one encoder frame (``encoder.output_dim``)."""
        return int(self.encoder.output_dim)

    @property
    def frame_shift_ms(self) -> float:
        """Time between two encoder frames, in ms."""
        return float(self.encoder.frame_shift_ms)

    @property
    def min_input_samples(self) -> int:
        """The shortest waveform (samples at :attr:`sample_rate`) the encoder turns into one frame
        (:func:`audiotext.data.audio_checks.min_input_samples`)."""
        return min_input_samples(self.encoder, self.fbank.conf)

    @property
    def device(self) -> torch.device:
        return self.feature_mean.device

    def num_frames(self, num_samples: int) -> int:
        """Encoder frames of one waveform of ``num_samples`` samples, after :meth:`featurize`
        pads it to :attr:`min_input_samples` (so always >= 1)."""
        feats = fbank_frames(max(int(num_samples), self.min_input_samples), self.fbank.conf)
        return (feats - self.encoder.min_input_frames) // self.encoder.input_stride + 1

    def frame_times_ms(self, num_frames: int) -> torch.Tensor:
        """(num_frames,) float32: the centre, in ms from the start of the waveform, of the fbank
        frames each encoder frame is built on (frame ``i``: fbank frames
        ``[i * input_stride, i * input_stride + receptive_field_frames)``, ``min_input_frames``
        where the encoder declares no receptive field of its own)."""
        idx = torch.arange(int(num_frames), dtype=torch.float64)
        receptive = self.encoder.receptive_field_frames or self.encoder.min_input_frames
        centre = idx * self.encoder.input_stride + (receptive - 1) / 2
        return self.fbank.frame_centre_ms(centre).float()

    # ------------------------------------------------------------- features

    def featurize(self, waveform: Waveform, pad_to_minimum: bool = True) -> torch.Tensor:
        """(num_samples,) waveform -> (T, num_mel_bins) float32 log-mel on the CPU.

        With ``pad_to_minimum`` a waveform shorter than :attr:`min_input_samples` is padded
        with silence up to it, so it gives one encoder frame; without, it is featurized as
        it is. ValueError for a waveform that is not 1-D.
        """
        wave = torch.as_tensor(waveform).detach().to("cpu", torch.float32)
        if wave.ndim != 1:
            raise ValueError(f"featurize takes one mono waveform (num_samples,), got shape {tuple(wave.shape)}")
        if pad_to_minimum and wave.shape[0] < self.min_input_samples:
            wave = torch.nn.functional.pad(wave, (0, self.min_input_samples - wave.shape[0]))
        return self.fbank(wave.numpy())

    def featurize_checked(self, waveform: np.ndarray):
        """For clips from a manifest, which are skipped rather than padded: ``(features, None)``,
        or ``(None, reason)`` with ``too_short`` (fewer than :attr:`min_input_samples` samples)
        or ``out_of_range`` (features not all finite)."""
        return checked_features(self.fbank, waveform, self.min_input_samples)

    @staticmethod
    def collate_features(features: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """List of (T_i, F) features -> ((B, max T_i, F) float32 padded with zeros, lengths (B,) int64).

        ValueError for an empty list or features of different widths.
        """
        if len(features) == 0:
            raise ValueError("collate_features needs at least one (T, F) feature matrix")
        widths = {int(f.shape[1]) for f in features}
        if len(widths) != 1:
            raise ValueError(f"collate_features: feature matrices of different widths {sorted(widths)}")
        lens = torch.tensor([int(f.shape[0]) for f in features], dtype=torch.long)
        out = torch.zeros(len(features), int(lens.max()), widths.pop())
        for i, f in enumerate(features):
            out[i, : f.shape[0]] = f
        return out, lens

    # ------------------------------------------------------------- encoding

    def encode(self, features: torch.Tensor, feature_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Raw log-mel (B, T, num_mel_bins) float and lengths (B,) int64 -> encoder frames
        (B, T', output_dim) and their lengths (B,), zero beyond each length.

        Features are normalised with the stored statistics and padding is set back to exactly
        zero, so a clip's frames do not depend on its batch mates. ValueError when the feature
        width is not ``num_mel_bins``.
        """
        if features.ndim != 3 or features.shape[-1] != self.feature_mean.shape[0]:
            raise ValueError(f"encode takes features (B, T, {self.feature_mean.shape[0]}), "
                             f"got shape {tuple(features.shape)}")
        features = (features - self.feature_mean) / self.feature_std
        valid = torch.arange(features.shape[1], device=features.device)[None, :] < feature_lens[:, None]
        return self.encoder(features * valid[..., None], feature_lens)

    def encode_waveforms(self, waveforms: Sequence[Waveform]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Waveforms of any lengths -> (frames (B, T', output_dim), frame_lens (B,)) on :attr:`device`:
        :meth:`featurize` (short ones padded), :meth:`collate_features`, :meth:`encode`."""
        feats, lens = self.collate_features([self.featurize(w) for w in waveforms])
        return self.encode(feats.to(self.device), lens.to(self.device))


class AudioModel(AudioEmbedding, nn.Module):
    """The audio side of a trained model and nothing else: ``encoder``, ``fbank``, ``feature_mean``,
    ``feature_std`` (state-dict keys as in the task, so a task checkpoint's audio weights load)."""

    def __init__(self, exp):
        super().__init__()
        self.build_audio_side(exp)

    def forward(self, features: torch.Tensor, feature_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.encode(features, feature_lens)


def load_audio_model(model_dir: Union[str, Path], device: Union[str, torch.device] = "cpu") -> AudioModel:
    """The :class:`AudioModel` (eval mode, on ``device``) of a checkpoint or export directory.

    Reads ``config.yaml``, builds only the audio encoder and loads ``encoder.*``,
    ``feature_mean`` and ``feature_std`` from ``model.safetensors``: a missing one or a shape
    mismatch is a :class:`~audiotext.train.checkpoint.WeightsError` naming the file. The
    weights under the task's other prefixes (``objective.``: text tower, heads, decoder) are
    skipped; any other key is unexpected (WeightsError). Installed entry-point plugins are
    loaded first. FileNotFoundError / ConfigError for a missing or bad config.
    """
    from audiotext.experiment import experiment_from_dir, registry_of
    from audiotext.plugins import load_entry_point_plugins
    from audiotext.train.checkpoint import load_weights

    load_entry_point_plugins()
    exp = experiment_from_dir(str(model_dir))
    task_class = registry_of("task").get(exp.task)
    if not issubclass(task_class, AudioEmbedding):
        raise ConfigError(f"{Path(model_dir) / 'config.yaml'}: task {exp.task!r} ({task_class.__name__}) has "
                          "no audio embedding interface (audiotext.embedding.AudioEmbedding)")
    model = AudioModel(exp)
    load_weights(model, Path(model_dir), skip_prefixes=task_class.other_state_prefixes)
    return model.to(device).eval()
