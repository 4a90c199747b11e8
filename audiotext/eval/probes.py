"""Which clips a probe task uses and their labels (the probes themselves: probe_models.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import numpy as np


@dataclass
class ProbeTask:
    name: str
    label: str  # key in the first supervision's custom fields
    domain: Optional[str] = None  # only clips of this domain (custom['domain'])
    multilabel: bool = False  # the label is a list of classes


def select(labels: List[dict], task: ProbeTask) -> Tuple[np.ndarray, List[Union[str, List[str]]]]:
    """Indices of clips that have the task's label (and domain), and the labels themselves.

    Multi-class: one string per clip (clips whose label is a list are left out).
    Multi-label: a list of strings per clip (a single string becomes a one-item list).
    """
    idx, values = [], []
    for i, custom in enumerate(labels):
        if task.domain is not None and custom.get("domain") != task.domain:
            continue
        value = custom.get(task.label)
        if value is None or isinstance(value, dict):
            continue
        if task.multilabel:
            value = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif isinstance(value, list):
            continue
        else:
            value = str(value)
        idx.append(i)
        values.append(value)
    return np.asarray(idx, dtype=np.int64), values
