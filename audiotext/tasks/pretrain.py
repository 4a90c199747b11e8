"""Audio-text pretraining: audio encoder + an objective (contrastive, captioning, ...)."""
from __future__ import annotations

import itertools
import logging
from collections import Counter
from dataclasses import dataclass

import torch

from audiotext.data.audio_checks import checked_features, load_checked_audio
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
        # clips read once at the start of a new run for the global feature mean/std
        normalization_clips: int = 300

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
        self.statistics_skipped: dict = {}  # clips prepare() left out, by reason

    def prepare(self, train_cuts) -> None:
        """Global feature mean/std from the first ``normalization_clips`` clips; unusable clips
        (audio_checks' reasons, ``too_short``, ``out_of_range``) are left out, counted and logged."""
        # accumulate on the CPU (where fbank runs) whatever device the task already sits on
        total = torch.zeros(self.feature_mean.shape, dtype=torch.float64)
        total_sq = torch.zeros_like(total)
        frames = 0
        skipped = Counter()
        for cut in itertools.islice(train_cuts, self.conf.normalization_clips):
            audio, reason = load_checked_audio(cut, self.fbank.conf.sample_rate)
            feat = None
            if audio is not None:
                feat, reason = checked_features(self.fbank, audio, self.min_input_samples)
            if feat is None:
                skipped[reason] += 1
                log.warning("feature statistics: skipping cut %s: %s", cut.id, reason)
                continue
            feat = feat.double()
            total += feat.sum(0)
            total_sq += (feat ** 2).sum(0)
            frames += feat.shape[0]
        if frames == 0:
            raise RuntimeError("no usable training audio for feature statistics")
        mean = total / frames
        std = (total_sq / frames - mean ** 2).clamp(min=1e-6).sqrt()
        self.feature_mean.copy_(mean.float())
        self.feature_std.copy_(std.float())
        self.statistics_skipped = dict(skipped)
        log.info("feature statistics from %d frames%s", frames,
                 f"; skipped {dict(skipped)}" if skipped else "")

    def forward(self, batch):
        frames, frame_lens = self.encode(batch["features"], batch["feature_lens"])
        return self.objective(frames, frame_lens, batch)
