"""Audio-text pretraining: audio encoder + an objective (contrastive, captioning, ...)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from audiotext.data.dataset import AudioCaptionDataset
from audiotext.data.text import normalize_caption
from audiotext.embedding import AudioEmbedding
from audiotext.objectives import OBJECTIVES, ObjectiveContext
from audiotext.tasks.base import Task, register_task
from audiotext.tokenizers import TOKENIZERS

log = logging.getLogger(__name__)


@register_task("pretrain")
class AudioTextPretrainTask(AudioEmbedding, Task):
    """Audio encoder + objective. The audio side (``encoder``, ``fbank``, ``feature_mean``,
    ``feature_std``) and the embedding interface come from :class:`AudioEmbedding`; the
    objective (``objective.*``) holds everything else."""

    other_state_prefixes = ("objective.",)

    @dataclass
    class Config:
        # text-side caption normalisation, in training and wherever the task embeds text
        caption_lowercase: bool = False
        caption_strip_punctuation: bool = False

    def __init__(self, conf: "AudioTextPretrainTask.Config", exp):
        super().__init__()
        self.conf = conf
        self.tokenizer = TOKENIZERS.build(exp.tokenizer, exp.tokenizer_conf, where="tokenizer_conf")
        self.build_audio_side(exp)
        ctx = ObjectiveContext(
            audio_dim=self.encoder.output_dim, vocab_size=self.tokenizer.vocab_size,
            pad_id=self.tokenizer.pad_id, bos_id=self.tokenizer.bos_id, eos_id=self.tokenizer.eos_id,
            text_encoder=exp.text_encoder, text_encoder_conf=exp.text_encoder_conf,
        )
        self.objective = OBJECTIVES.build(exp.objective, exp.objective_conf, ctx, where="objective_conf")

    def normalize_caption(self, text: str) -> str:
        """A caption as the text side sees it (``caption_lowercase`` / ``caption_strip_punctuation``)."""
        return normalize_caption(text, self.conf.caption_lowercase, self.conf.caption_strip_punctuation)

    def build_dataset(self, data_conf, train: bool, seed: int = 0, rank: int = 0) -> AudioCaptionDataset:
        return AudioCaptionDataset(self.tokenizer, data_conf, train=train, seed=seed, rank=rank,
                                   min_samples=self.min_input_samples, normalize=self.normalize_caption)

    @property
    def supports_embedding_cache(self) -> bool:
        return self.objective.supports_embedding_cache

    def loss_weight(self, batch) -> float:
        return float(self.objective.loss_weight(batch))

    def forward(self, batch, embeddings_only: bool = False):
        """(loss, report); with ``embeddings_only``, the objective's row embeddings (see Task)."""
        frames, frame_lens = self.encode(batch.features, batch.feature_lens)
        if embeddings_only:
            return self.objective.embeddings(frames, frame_lens, batch)
        return self.objective(frames, frame_lens, batch)

    def loss_from_embeddings(self, embeddings):
        return self.objective.loss_from_embeddings(embeddings)

    def after_optimizer_step(self) -> None:
        self.objective.after_optimizer_step()
