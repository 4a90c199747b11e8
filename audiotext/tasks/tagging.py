"""Audio tagging: multi-label classification of clips over a label vocabulary.

The supervised-initialisation task (an AudioSet tagger): mean-pooled encoder frames, a linear
layer, a sigmoid per label, binary cross-entropy (as in PANNs, Kong et al. 2020). A clip's labels
are read from its supervisions' ``custom[label_field]`` (a label or a list of labels); clips with
no label of the vocabulary are skipped as ``no_label``.

Validation reports, beside the batch means of ``loss`` and ``label_acc``, ``mAP`` over the whole
validation set (gathered from every rank): the mean over classes of the average precision of the
sigmoid scores (:func:`audiotext.eval.probe_models.mean_average_precision`), over the classes that
have at least one positive clip in the validation set; classes without one are left out, as the
AudioSet evaluation does (its eval set has no positives for a few classes of the ontology). On a
vocabulary with no positive at all in the set, ``mAP`` is NaN.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from audiotext.data.dataset import AudioDataset
from audiotext.embedding import AudioEmbedding
from audiotext.models.pooling import MeanPooling
from audiotext.tasks.base import Task, register_task


def read_label_vocabulary(labels: List[str], label_file: str) -> List[str]:
    """The label list (config ``labels``, or one label per line of ``label_file``); ValueError when
    neither or both are given, or a label repeats."""
    if bool(labels) == bool(label_file):
        raise ValueError("task_conf: give the label vocabulary as labels (a list) or label_file, exactly one")
    if label_file:
        path = Path(label_file)
        if not path.is_file():
            raise FileNotFoundError(f"task_conf.label_file: not found: {label_file}")
        labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise ValueError(f"task_conf: labels repeated in the vocabulary: {repeated[:5]}")
    return list(labels)


class TaggingDataset(AudioDataset):
    """Clips with labels: ``Batch.labels`` (B, C) float32 multi-hot."""

    def __init__(self, vocabulary: List[str], label_field: str, conf, train: bool = True, seed: int = 0,
                 rank: int = 0, min_samples: Optional[int] = None):
        super().__init__(conf, train=train, seed=seed, rank=rank, min_samples=min_samples)
        self.index = {label: i for i, label in enumerate(vocabulary)}
        self.label_field = label_field

    def target(self, cut, rng):
        found = set()
        for sup in cut.supervisions:
            value = (sup.custom or {}).get(self.label_field)
            for label in ([value] if isinstance(value, str) else value or []):
                if label in self.index:
                    found.add(self.index[label])
        return (sorted(found), None) if found else (None, "no_label")

    def collate_targets(self, batch, targets):
        labels = torch.zeros(len(targets), len(self.index))
        for row, classes in enumerate(targets):
            labels[row, classes] = 1.0
        batch.labels = labels


@register_task("tagging")
class AudioTaggingTask(AudioEmbedding, Task):
    other_state_prefixes = ("head.",)
    collects_validation_outputs = True

    @dataclass
    class Config:
        labels: List[str] = field(default_factory=list)
        label_file: str = ""
        label_field: str = "labels"  # supervision custom field holding a clip's label(s)
        dropout: float = 0.1

    def __init__(self, conf: "AudioTaggingTask.Config", exp):
        super().__init__()
        self.conf = conf
        self.vocabulary = read_label_vocabulary(conf.labels, conf.label_file)
        # the saved config holds the vocabulary itself: the head's rows must not follow an edited file
        exp.task_conf.update(labels=list(self.vocabulary), label_file="")
        self.build_audio_side(exp)
        self.pool = MeanPooling()
        self.drop = nn.Dropout(conf.dropout)
        self.head = nn.Linear(self.encoder.output_dim, len(self.vocabulary))

    def build_dataset(self, data_conf, train: bool, seed: int = 0, rank: int = 0) -> TaggingDataset:
        return TaggingDataset(self.vocabulary, self.conf.label_field, data_conf, train=train, seed=seed, rank=rank,
                              min_samples=self.min_input_samples)

    def logits(self, features, feature_lens) -> torch.Tensor:
        """(B, T, F) fbank -> (B, C) label logits."""
        frames, frame_lens = self.encode(features, feature_lens)
        return self.head(self.drop(self.pool(frames, frame_lens)))

    def forward(self, batch, validation_outputs: bool = False):
        """(loss, report); with ``validation_outputs`` also ``{"scores": (B, C) sigmoid
        probabilities, "targets": (B, C) multi-hot}`` float32 (see :class:`Task`)."""
        logits = self.logits(batch.features, batch.feature_lens).float()
        loss = F.binary_cross_entropy_with_logits(logits, batch.labels)
        with torch.no_grad():
            correct = ((logits > 0).float() == batch.labels).float().mean()
        report = {"loss": loss.detach(), "label_acc": correct}
        if validation_outputs:
            return loss, report, {"scores": torch.sigmoid(logits).detach(), "targets": batch.labels.float()}
        return loss, report

    def validation_metrics(self, outputs):
        """``{"mAP": ...}`` over the classes with a positive in ``outputs["targets"]`` (N, C)."""
        from audiotext.eval.probe_models import mean_average_precision

        if "scores" not in outputs:  # no batch was validated
            return {}
        return {"mAP": mean_average_precision(outputs["scores"].numpy(), outputs["targets"].numpy() > 0.5)}
