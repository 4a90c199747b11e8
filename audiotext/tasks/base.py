from __future__ import annotations

from typing import Any, Dict, Tuple

import torch
from torch import nn

from audiotext.registry import Registry


class Task(nn.Module):
    """Base of every task. Built as ``cls(conf, experiment_config)``.

    A task owns its model pieces and its data. The trainer calls:

    * ``build_dataset(data_conf, train, seed, rank)`` -> an :class:`audiotext.data.dataset.AudioDataset`
      subclass that turns cuts into :class:`audiotext.data.batch.Batch` objects with this task's
      targets (captions, labels, ...);
    * ``prepare(feature_stats)`` once before the first step of a new run (the
      :mod:`audiotext.data.feature_stats` dict): default, copy it into the ``feature_mean`` /
      ``feature_std`` buffers where the task has them; the experiment's ``init_from``
      (:mod:`audiotext.train.init`) is applied right after it, so listed buffers replace these;
    * ``forward(batch) -> (loss, report)``: a 0-d loss and a dict of floats / 0-d tensors to log;
    * ``loss_weight(batch)``: how many units the loss averages over (default: clips), so
      accumulated micro-batches weigh as one large batch;
    * ``after_optimizer_step()`` after every optimizer step, outside autograd.

    Metrics over the whole validation set (mAP, which per-batch means cannot give): a task sets
    ``collects_validation_outputs = True`` and then

    * answers ``forward(batch, validation_outputs=True) -> (loss, report, outputs)`` (the
      trainer calls it so in validation only, in eval mode, under ``torch.no_grad``), where
      ``outputs`` is ``{name: Tensor (B, ...)}``, one row per clip of the batch (e.g. tagging's
      ``scores`` (B, C) and ``targets`` (B, C)); the same names and trailing shapes every batch;
    * implements ``validation_metrics(outputs) -> {name: float}``, given each output concatenated
      over the whole validation set and gathered from every rank (padded to equal sizes for
      ``all_gather``, the padding removed; float32 on the CPU; rows in rank order). The values
      are logged with the validation means as ``valid/<name>`` and returned by
      ``Trainer.validate``; a name equal to a report key replaces that key's batch mean.

    A task whose loss couples the rows of a batch (contrastive) sets ``supports_embedding_cache``
    and answers ``forward(batch, embeddings_only=True) -> {name: (B, E) tensor}`` and
    ``loss_from_embeddings(embeddings) -> (loss, report)``; the trainer then accumulates with
    cached embeddings so that accumulation equals one large batch.
    """

    supports_embedding_cache = False
    collects_validation_outputs = False

    def build_dataset(self, data_conf, train: bool, seed: int = 0, rank: int = 0):
        raise NotImplementedError(f"{type(self).__name__} does not build a dataset")

    def forward(self, batch) -> Tuple[torch.Tensor, Dict[str, Any]]:
        raise NotImplementedError

    def prepare(self, feature_stats: Dict[str, Any]) -> None:
        mean, std = getattr(self, "feature_mean", None), getattr(self, "feature_std", None)
        if mean is None or std is None:
            return
        if len(feature_stats["mean"]) != mean.numel():
            raise ValueError(f"feature statistics have {len(feature_stats['mean'])} bins; the task expects "
                             f"{mean.numel()}")
        mean.copy_(torch.tensor(feature_stats["mean"], dtype=mean.dtype))
        std.copy_(torch.tensor(feature_stats["std"], dtype=std.dtype))

    def loss_weight(self, batch) -> float:
        return float(batch.num_cuts)

    def after_optimizer_step(self) -> None:
        """Hook after each optimizer step (e.g. clamping a learned temperature)."""

    def validation_metrics(self, outputs: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """Metrics over the whole validation set from the gathered per-clip outputs (see the class
        docstring); only called when ``collects_validation_outputs``."""
        raise NotImplementedError(f"{type(self).__name__} sets collects_validation_outputs but does not "
                                  "implement validation_metrics")


TASKS: Registry[Task] = Registry("task", Task)
register_task = TASKS.register
