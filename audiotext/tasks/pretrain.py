"""Audio-text pretraining: audio encoder + an objective (contrastive, captioning, ...)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from audiotext.data.audio_checks import min_input_samples
from audiotext.data.dataset import AudioCaptionDataset
from audiotext.data.features import Fbank
from audiotext.models.encoders import ENCODERS
from audiotext.objectives import OBJECTIVES, ObjectiveContext
from audiotext.tasks.base import Task, register_task
from audiotext.tokenizers import TOKENIZERS

log = logging.getLogger(__name__)


@register_task("pretrain")
class AudioTextPretrainTask(Task):
    @dataclass
    class Config:
        # text-side caption normalisation, in training and wherever the task embeds text
        caption_lowercase: bool = False
        caption_strip_punctuation: bool = False

    def __init__(self, conf: "AudioTextPretrainTask.Config", exp):
        super().__init__()
        self.conf = conf
        self.tokenizer = TOKENIZERS.build(exp.tokenizer, exp.tokenizer_conf, where="tokenizer_conf")
        encoder_conf = dict(exp.encoder_conf)
        encoder_conf.setdefault("input_dim", exp.data.fbank.num_mel_bins)
        self.encoder = ENCODERS.build(exp.encoder, encoder_conf, where="encoder_conf")
        ctx = ObjectiveContext(
            audio_dim=self.encoder.output_dim, vocab_size=self.tokenizer.vocab_size,
            pad_id=self.tokenizer.pad_id, bos_id=self.tokenizer.bos_id, eos_id=self.tokenizer.eos_id,
            text_encoder=exp.text_encoder, text_encoder_conf=exp.text_encoder_conf,
        )
        self.objective = OBJECTIVES.build(exp.objective, exp.objective_conf, ctx, where="objective_conf")
        dim = exp.data.fbank.num_mel_bins
        # global feature normalisation, saved with the weights so inference matches training
        self.register_buffer("feature_mean", torch.zeros(dim))
        self.register_buffer("feature_std", torch.ones(dim))
        self.fbank = Fbank(exp.data.fbank)

    @property
    def min_input_samples(self) -> int:
        """The shortest audio (samples at ``fbank.conf.sample_rate``) the encoder turns into a frame."""
        return min_input_samples(self.encoder, self.fbank.conf)

    def encode_audio(self, features, feature_lens):
        """Normalised fbank -> encoder frames (B, T', D), lengths."""
        features = (features - self.feature_mean) / self.feature_std
        # keep padding at exactly zero so a clip's frames do not depend on its batch mates
        valid = torch.arange(features.shape[1], device=features.device)[None, :] < feature_lens[:, None]
        return self.encoder(features * valid[..., None], feature_lens)

    def normalize_caption(self, text: str) -> str:
        """A caption as the text side sees it (``caption_lowercase`` / ``caption_strip_punctuation``)."""
        if not (self.conf.caption_lowercase or self.conf.caption_strip_punctuation):
            return text
        from audiotext.data.text import normalize_caption

        return normalize_caption(text, self.conf.caption_lowercase, self.conf.caption_strip_punctuation)

    def build_dataset(self, data_conf, train: bool, seed: int = 0, rank: int = 0) -> AudioCaptionDataset:
        return AudioCaptionDataset(self.tokenizer, data_conf, train=train, seed=seed, rank=rank,
                                   min_samples=self.min_input_samples, normalize=self.normalize_caption)

    @property
    def supports_embedding_cache(self) -> bool:
        return getattr(self.objective, "supports_embedding_cache", False)

    def loss_weight(self, batch) -> float:
        return float(self.objective.loss_weight(batch))

    def forward(self, batch, embeddings_only: bool = False):
        """(loss, report); with ``embeddings_only``, the objective's row embeddings (see Task)."""
        frames, frame_lens = self.encode_audio(batch.features, batch.feature_lens)
        if embeddings_only:
            return self.objective.embeddings(frames, frame_lens, batch)
        return self.objective(frames, frame_lens, batch)

    def loss_from_embeddings(self, embeddings):
        return self.objective.loss_from_embeddings(embeddings)

    def after_optimizer_step(self) -> None:
        self.objective.after_optimizer_step()
