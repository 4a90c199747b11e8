from __future__ import annotations

from typing import Any, Dict, Tuple

import torch
from torch import nn

from audiotext.registry import Registry


class Task(nn.Module):
    """Base of every task. Built as ``cls(conf, experiment_config)``.

    The trainer only calls ``forward(batch) -> (loss, report)`` and, where the task
    defines it, ``prepare(train_cuts)`` once before the first step of a new run.
    """

    def forward(self, batch: Dict[str, Any]) -> Tuple[torch.Tensor, Dict[str, Any]]:
        raise NotImplementedError

    def prepare(self, train_cuts) -> None:
        """Hook for one-off set-up from training data (e.g. feature statistics)."""


TASKS: Registry[Task] = Registry("task", Task)
register_task = TASKS.register
