"""Linear probes on frozen embeddings: multinomial logistic regression, L2 chosen on validation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch


@dataclass
class ProbeTask:
    name: str
    label: str  # key in the supervision's custom fields
    domain: Optional[str] = None  # only clips of this domain (custom['domain'])


def select(labels: List[dict], task: ProbeTask) -> Tuple[np.ndarray, List[str]]:
    """Indices of clips that have the task's label (and domain), and the labels themselves."""
    idx, values = [], []
    for i, custom in enumerate(labels):
        if task.domain is not None and custom.get("domain") != task.domain:
            continue
        value = custom.get(task.label)
        if value is None or isinstance(value, (list, dict)):
            continue
        idx.append(i)
        values.append(str(value))
    return np.asarray(idx, dtype=np.int64), values


def fit_logistic(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float, max_iter: int = 200) -> torch.nn.Linear:
    torch.manual_seed(0)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    model = torch.nn.Linear(x.shape[1], num_classes)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt) + l2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


def accuracy(model: torch.nn.Linear, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        pred = model(torch.as_tensor(x, dtype=torch.float32)).argmax(-1).numpy()
    return float((pred == y).mean()) if len(y) else float("nan")


def run_probe(train: Tuple[np.ndarray, Sequence[str]], valid: Tuple[np.ndarray, Sequence[str]],
              test: Tuple[np.ndarray, Sequence[str]], l2_grid=(1e-4, 1e-3, 1e-2, 1e-1)) -> Dict[str, float]:
    """Train on ``train``, pick L2 on ``valid``, report accuracy on ``test``.

    Clips whose class never occurs in training are scored as errors (they stay in
    the denominator), so an unlucky split cannot inflate accuracy.
    """
    classes = sorted(set(train[1]))
    index = {c: i for i, c in enumerate(classes)}
    mean, std = train[0].mean(0), train[0].std(0) + 1e-6

    def prep(part):
        x = (part[0] - mean) / std
        y = np.asarray([index.get(v, -1) for v in part[1]], dtype=np.int64)
        return x, y

    xtr, ytr = prep(train)
    xva, yva = prep(valid)
    xte, yte = prep(test)
    best = None
    for l2 in l2_grid:
        model = fit_logistic(xtr, ytr, len(classes), l2)
        score = accuracy(model, xva, yva)
        if best is None or score > best[0]:
            best = (score, l2, model)
    score, l2, model = best
    return {"accuracy": accuracy(model, xte, yte), "valid_accuracy": score, "l2": l2,
            "num_classes": float(len(classes)), "num_train": float(len(ytr)), "num_test": float(len(yte))}
