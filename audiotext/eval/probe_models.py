"""Probes on cached frozen embeddings (HEAR / X-ARES style): linear, MLP and attention pooling.

Inputs are numpy arrays already extracted from a frozen encoder: per clip a frame
sequence ``(T_i, D)`` and/or a pooled vector ``(D,)``. Every probe is a small torch
model trained with AdamW on minibatches, once per learning rate of a small grid, with
early stopping on the validation metric; the learning rate with the best validation
score is reported on the test split.

* metric: accuracy for multi-class labels (one string per clip), macro mean average
  precision over the classes present in the test split for multi-label labels (a list
  of strings per clip). A test class never seen in training is always an error: for
  accuracy its clips stay in the denominator, for mAP it counts as a class with AP 0.
* standardisation statistics (mean, std per dimension) come from the training split
  only (frames for the attention probe, pooled vectors otherwise).
* determinism: all randomness (initialisation, minibatch order, dropout, subsampling)
  comes from generators seeded by ``seed``; global RNG state is neither read nor
  changed, and ``torch.set_num_threads`` is left alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

KINDS = ("linear", "mlp", "attention")
DEFAULT_LR_GRID = (1e-3, 3e-3, 1e-2)


# ----------------------------------------------------------------------------- data
@dataclass
class ProbeData:
    """One split: per-clip frames (optional), pooled vectors and labels.

    ``frames``: list of ``(T_i, D)`` arrays or None when only pooled vectors exist.
    ``pooled``: ``(N, D)``; computed as the mean of the frames when passed as None.
    ``labels``: one hashable per clip (multi-class) or one list of them (multi-label).
    """

    frames: Optional[list]
    pooled: Optional[np.ndarray]
    labels: list

    def __post_init__(self):
        self.labels = list(self.labels)
        if self.frames is not None:
            self.frames = list(self.frames)
            for i, f in enumerate(self.frames):
                if f.ndim != 2 or len(f) == 0:
                    raise ValueError(f"clip {i}: frames must be a non-empty (T, D) array, got shape {f.shape}")
            if self.pooled is None:
                dim = self.frames[0].shape[1] if self.frames else 0
                self.pooled = np.stack([f.mean(0, dtype=np.float64) for f in self.frames]).astype(np.float32) \
                    if self.frames else np.zeros((0, dim), np.float32)
            if len(self.frames) != len(self.labels):
                raise ValueError(f"{len(self.frames)} clips of frames but {len(self.labels)} labels")
        if self.pooled is None:
            raise ValueError("ProbeData needs frames or pooled vectors")
        self.pooled = np.asarray(self.pooled)
        if self.pooled.ndim != 2 or len(self.pooled) != len(self.labels):
            raise ValueError(f"pooled must be (N, D) with N={len(self.labels)} labels, got {self.pooled.shape}")

    @classmethod
    def from_frames(cls, frames: Sequence[np.ndarray], labels: Sequence) -> "ProbeData":
        return cls(list(frames), None, list(labels))

    @classmethod
    def from_pooled(cls, pooled: np.ndarray, labels: Sequence) -> "ProbeData":
        return cls(None, np.asarray(pooled), list(labels))

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, idx: Sequence[int]) -> "ProbeData":
        idx = [int(i) for i in idx]
        frames = None if self.frames is None else [self.frames[i] for i in idx]
        return ProbeData(frames, self.pooled[idx], [self.labels[i] for i in idx])

    @staticmethod
    def concat(parts: Sequence["ProbeData"]) -> "ProbeData":
        if not parts:
            raise ValueError("nothing to concatenate")
        frames = None
        if all(p.frames is not None for p in parts):
            frames = [f for p in parts for f in p.frames]
        return ProbeData(frames, np.concatenate([p.pooled for p in parts]), [l for p in parts for l in p.labels])


def _is_multilabel(labels: Sequence) -> bool:
    return any(isinstance(l, (list, tuple, set, frozenset)) for l in labels)


def _resolve_multilabel(multilabel: Optional[bool], labels: Sequence) -> bool:
    inferred = _is_multilabel(labels)
    if multilabel is None:
        return inferred
    if not multilabel and inferred:
        raise ValueError("labels are lists but multilabel=False")
    return bool(multilabel)


def _label_set(label, multilabel: bool) -> List[Hashable]:
    if multilabel:
        return list(label)
    return [label]


# -------------------------------------------------------------------------- metrics
def accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """Fraction of ``pred == target``; a target of -1 (class unseen in training) is always wrong."""
    pred, target = np.asarray(pred), np.asarray(target)
    if len(target) == 0:
        return float("nan")
    return float(((pred == target) & (target >= 0)).mean())


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Average precision of one class: sum over thresholds of (R_n - R_{n-1}) * P_n.

    Tied scores form one threshold (the same convention as scikit-learn's
    ``average_precision_score``), so the value does not depend on the order of ties.
    NaN when there is no positive.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive).astype(bool)
    npos = int(positive.sum())
    if npos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], positive[order]
    tp = np.cumsum(y)
    last = np.r_[np.nonzero(s[1:] != s[:-1])[0], len(s) - 1]  # last index of each distinct score
    tp = tp[last].astype(np.float64)
    precision = tp / (last + 1)
    recall = tp / npos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(scores: np.ndarray, targets: np.ndarray, num_unseen: int = 0) -> float:
    """Macro AP over the classes (columns) with at least one positive.

    ``num_unseen`` more classes are present in the targets but were never seen in
    training (so have no score column): each counts as AP 0 in the average.
    """
    scores, targets = np.asarray(scores), np.asarray(targets)
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(targets.shape[1]) if targets[:, c].any()]
    denominator = len(aps) + num_unseen
    return float(np.sum(aps) / denominator) if denominator else float("nan")


# ----------------------------------------------------------------------- features
@dataclass
class _Features:
    x: torch.Tensor  # (N, D) pooled or (N, T, D) padded frames
    lengths: Optional[torch.Tensor]  # (N,) frame counts for padded frames

    def __len__(self) -> int:
        return self.x.shape[0]

    def take(self, idx: np.ndarray) -> "_Features":
        if len(idx) == len(self) and np.array_equal(idx, np.arange(len(self))):
            return self
        t = torch.as_tensor(idx, dtype=torch.long)
        lengths = None if self.lengths is None else self.lengths[t]
        x = self.x[t]
        if lengths is not None and len(lengths):
            x = x[:, : int(lengths.max())].contiguous()
        return _Features(x, lengths)

    def batch(self, idx: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if self.lengths is None:
            return self.x[idx], None
        lengths = self.lengths[idx]
        return self.x[idx, : int(lengths.max())], lengths


def _pool_time(f: np.ndarray, stride: int) -> np.ndarray:
    """Average non-overlapping windows of ``stride`` frames (the last may be shorter)."""
    f = np.asarray(f, dtype=np.float32)
    if stride <= 1:
        return f
    n = len(f) // stride
    parts = []
    if n:
        parts.append(f[: n * stride].reshape(n, stride, f.shape[1]).mean(1))
    if len(f) % stride:
        parts.append(f[n * stride:].mean(0, keepdims=True))
    return np.concatenate(parts)


@dataclass
class _Standardizer:
    mean: np.ndarray
    std: np.ndarray
    frames: bool
    stride: int

    @classmethod
    def fit(cls, data: ProbeData, frames: bool, stride: int) -> "_Standardizer":
        if len(data) == 0:
            raise ValueError("empty training split")
        if frames:
            if data.frames is None:
                raise ValueError("the attention probe needs frame sequences (ProbeData.frames)")
            dim = data.frames[0].shape[1]
            total, sq, count = np.zeros(dim), np.zeros(dim), 0
            for f in data.frames:
                f = _pool_time(f, stride).astype(np.float64)
                total += f.sum(0)
                sq += np.square(f).sum(0)
                count += len(f)
            mean = total / count
            var = np.maximum(sq / count - mean ** 2, 0.0)
        else:
            x = data.pooled.astype(np.float64)
            mean, var = x.mean(0), x.var(0)
        std = np.sqrt(var)
        std = np.where(std > 1e-6, std, 1.0)
        return cls(mean.astype(np.float32), std.astype(np.float32), frames, stride)

    def apply(self, data: ProbeData) -> _Features:
        if not self.frames:
            return _Features(torch.from_numpy((data.pooled.astype(np.float32) - self.mean) / self.std), None)
        if data.frames is None:
            raise ValueError("the attention probe needs frame sequences (ProbeData.frames)")
        pooled = [_pool_time(f, self.stride) for f in data.frames]
        lengths = np.asarray([len(f) for f in pooled], dtype=np.int64)
        x = torch.zeros(len(pooled), int(lengths.max()) if len(pooled) else 1, len(self.mean))
        xn = x.numpy()
        for i, f in enumerate(pooled):
            xn[i, : len(f)] = (f - self.mean) / self.std
        return _Features(x, torch.from_numpy(lengths))


def _targets(labels: Sequence, index: Dict[Hashable, int], multilabel: bool) -> Tuple[torch.Tensor, int]:
    """Class indices (-1 when unseen) or a multi-hot matrix, and the number of unseen classes."""
    if multilabel:
        y = torch.zeros(len(labels), len(index))
        unseen = set()
        for i, label in enumerate(labels):
            for c in label:
                if c in index:
                    y[i, index[c]] = 1.0
                else:
                    unseen.add(c)
        return y, len(unseen)
    y = torch.as_tensor([index.get(l, -1) for l in labels], dtype=torch.long)
    unseen = {l for l in labels if l not in index}
    return y, len(unseen)


# -------------------------------------------------------------------------- models
class _GridProbe:
    """One probe per learning rate of the grid, trained side by side.

    The parameters of the L probes are stacked along a leading axis, so a minibatch
    step costs one forward/backward for the whole grid (the per-step overhead of torch,
    not arithmetic, dominates these small probes). All L start from the same
    initialisation and see the same minibatches, as if trained one at a time (up to
    floating-point rounding).

    linear: Linear. mlp: Linear-GELU-dropout-Linear. attention: multi-head attention
    pooling (one learned query per head, padding masked) over the frames, the plain mean
    of the frames as one more fixed head (``mean_head``), then dropout-Linear on the
    concatenated head outputs. The attention queries start at zero, so the attention
    probe starts as mean pooling.
    """

    def __init__(self, kind: str, dim: int, num_classes: int, num_lr: int, hidden: int, heads: int,
                 dropout: float, generator: torch.Generator, mean_head: bool = True):
        self.kind, self.heads, self.dropout, self.num_classes = kind, heads, dropout, num_classes
        self.mean_head = int(mean_head)

        def linear(fan_in: int, fan_out: int) -> Tuple[torch.Tensor, torch.Tensor]:
            bound = 1.0 / math.sqrt(fan_in)
            weight = torch.empty(fan_in, fan_out).uniform_(-bound, bound, generator=generator)
            return weight, torch.zeros(1, fan_out)

        if kind == "linear":
            shapes = dict(zip(("w", "b"), linear(dim, num_classes)))
        elif kind == "mlp":
            shapes = dict(zip(("w1", "b1"), linear(dim, hidden)))
            shapes.update(zip(("w2", "b2"), linear(hidden, num_classes)))
        elif kind == "attention":
            shapes = {"query": torch.zeros(dim, heads)}
            shapes.update(zip(("w", "b"), linear(dim * (heads + self.mean_head), num_classes)))
        else:
            raise ValueError(f"unknown probe kind {kind!r}; expected one of {KINDS}")
        self.params = {k: v.unsqueeze(0).repeat(num_lr, *([1] * v.dim())).requires_grad_() for k, v in shapes.items()}

    def select(self, keep: torch.Tensor) -> None:
        """Keep only the probes at positions ``keep`` (e.g. when others stopped early)."""
        self.params = {k: v.detach()[keep].requires_grad_() for k, v in self.params.items()}

    def _drop(self, h: torch.Tensor, masks: Optional[torch.Tensor]) -> torch.Tensor:
        return h if masks is None else h * masks / (1.0 - self.dropout)

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None,
                masks: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(L, B, C) logits; ``masks`` (L, B, width) are the dropout keep-masks (None: eval)."""
        p = self.params
        if self.kind == "linear":
            return torch.matmul(x, p["w"]) + p["b"]
        if self.kind == "mlp":
            h = F.gelu(torch.matmul(x, p["w1"]) + p["b1"])
            return torch.bmm(self._drop(h, masks), p["w2"]) + p["b2"]
        b, t, d = x.shape
        num_lr = p["query"].shape[0]
        query = p["query"].permute(1, 0, 2).reshape(d, num_lr * self.heads)
        scores = torch.matmul(x, query)  # (B, T, L*H)
        pad = torch.arange(t)[None, :] >= lengths[:, None]
        scores = scores.masked_fill(pad[:, :, None], float("-inf"))
        weights = torch.softmax(scores, dim=1)
        pooled = torch.bmm(weights.transpose(1, 2), x)  # (B, L*H, D)
        pooled = pooled.reshape(b, num_lr, self.heads * d).transpose(0, 1)  # (L, B, H*D)
        if self.mean_head:
            mean = x.sum(1) / lengths[:, None].to(x.dtype)  # padding is zero
            pooled = torch.cat([mean.expand(num_lr, b, d), pooled], dim=-1)
        return torch.bmm(self._drop(pooled, masks), p["w"]) + p["b"]

    def width(self) -> int:
        """Size of the dropped-out layer."""
        if self.kind == "mlp":
            return self.params["w1"].shape[-1]
        return self.params["w"].shape[1]


class _AdamW:
    """AdamW (decoupled weight decay, bias-corrected moments) with one learning rate per
    stacked probe; ``lr_scale`` multiplies the learning rate of the named parameters."""

    def __init__(self, params: Dict[str, torch.Tensor], lrs: Sequence[float], weight_decay: float,
                 lr_scale: Optional[Dict[str, float]] = None, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lrs = torch.as_tensor(list(lrs), dtype=torch.float32)
        self.lr_scale = dict(lr_scale or {})
        self.wd, self.betas, self.eps, self.step_count = weight_decay, betas, eps, 0
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}

    def select(self, keep: torch.Tensor) -> None:
        self.lrs = self.lrs[keep]
        self.m = {k: v[keep] for k, v in self.m.items()}
        self.v = {k: v[keep] for k, v in self.v.items()}

    @torch.no_grad()
    def step(self, params: Dict[str, torch.Tensor]) -> None:
        self.step_count += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.step_count, 1 - b2 ** self.step_count
        for k, p in params.items():
            g, m, v = p.grad, self.m[k], self.v[k]
            lr = self.lrs.view(-1, *([1] * (p.dim() - 1))) * self.lr_scale.get(k, 1.0)
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.mul_(1 - lr * self.wd)
            p.sub_(lr * (m / c1) / ((v / c2).sqrt_().add_(self.eps)))
            p.grad = None


@torch.no_grad()
def _predict(model: _GridProbe, feats: _Features, chunk: int = 512) -> torch.Tensor:
    """(L, N, C) logits."""
    out = []
    for start in range(0, len(feats), chunk):
        idx = torch.arange(start, min(start + chunk, len(feats)))
        out.append(model.forward(*feats.batch(idx)))
    num_lr = next(iter(model.params.values())).shape[0]
    return torch.cat(out, dim=1) if out else torch.zeros(num_lr, 0, model.num_classes)


def _score(logits: torch.Tensor, y: torch.Tensor, multilabel: bool, num_unseen: int) -> float:
    if multilabel:
        return mean_average_precision(logits.numpy(), y.numpy(), num_unseen)
    return accuracy(logits.argmax(-1).numpy(), y.numpy())


@dataclass
class _Settings:
    max_epochs: int = 100  # at least 8 x patience (see _epoch_budget)
    patience: int = 10  # epochs, but never fewer than MIN_PATIENCE_STEPS optimizer steps
    explicit_budget: bool = False  # max_epochs / patience set by the caller: used as given
    batch_size: int = 256
    weight_decay: float = 1e-4
    hidden: int = 256
    heads: int = 4
    dropout: float = 0.1
    query_lr_scale: float = 3.0
    mean_head: bool = True


MIN_PATIENCE_STEPS = 150


def _epoch_budget(cfg: _Settings, num_train: int) -> Tuple[int, int]:
    """(max_epochs, patience). On a small training set an epoch is a few steps, and a
    patience of 10 epochs stops long before a probe converges (a 60-class probe on 800
    clips: 0.23 with patience 10, 0.37 with 50), so patience covers at least
    MIN_PATIENCE_STEPS steps and the epoch budget at least 8 patiences."""
    if cfg.explicit_budget:
        return cfg.max_epochs, cfg.patience
    steps_per_epoch = max(1, math.ceil(num_train / cfg.batch_size))
    patience = max(cfg.patience, math.ceil(MIN_PATIENCE_STEPS / steps_per_epoch))
    return max(cfg.max_epochs, 8 * patience), patience


def _train_grid(kind: str, ftr: _Features, ytr: torch.Tensor, fva: _Features, yva: torch.Tensor, va_unseen: int,
                num_classes: int, multilabel: bool, lr_grid: Sequence[float], seed: int, cfg: _Settings):
    """Train one probe per learning rate, each early-stopped on the validation metric.

    Returns per learning rate (best valid score, best epoch, parameters at that epoch).
    """
    generator = torch.Generator().manual_seed(seed)
    num_lr = len(lr_grid)
    dropout = 0.0 if kind == "linear" else cfg.dropout
    model = _GridProbe(kind, ftr.x.shape[-1], num_classes, num_lr, cfg.hidden, cfg.heads, dropout, generator,
                       cfg.mean_head)
    opt = _AdamW(model.params, lr_grid, cfg.weight_decay, {"query": cfg.query_lr_scale})
    active = list(range(num_lr))  # grid positions still training, in the order of the stacked axis
    best = [(-math.inf, 0, None)] * num_lr
    stale = [0] * num_lr
    n = len(ftr)
    max_epochs, patience = _epoch_budget(cfg, n)
    for epoch in range(1, max_epochs + 1):
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, cfg.batch_size):
            idx = perm[start:start + cfg.batch_size]
            masks = None
            if dropout > 0:  # drawn for the whole grid, so a probe's masks do not depend on which others stopped
                masks = torch.rand(num_lr, len(idx), model.width(), generator=generator)[active] >= dropout
            logits = model.forward(*ftr.batch(idx), masks=masks)
            if multilabel:
                target = ytr[idx].expand_as(logits)
                loss = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / target[0].numel()
            else:
                loss = F.cross_entropy(logits.reshape(-1, num_classes), ytr[idx].repeat(len(active)),
                                       reduction="sum") / len(idx)
            loss.backward()  # the sum over probes keeps their gradients separate
            opt.step(model.params)
        logits = _predict(model, fva)
        keep = []
        for pos, grid_idx in enumerate(active):
            score = _score(logits[pos], yva, multilabel, va_unseen)
            if best[grid_idx][2] is None or score > best[grid_idx][0]:
                state = {k: v[pos].detach().clone() for k, v in model.params.items()}
                best[grid_idx], stale[grid_idx] = (score, epoch, state), 0
            else:
                stale[grid_idx] += 1
            if stale[grid_idx] < patience:
                keep.append(pos)
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.as_tensor(keep, dtype=torch.long)
            model.select(index)
            opt.select(index)
            active = [active[pos] for pos in keep]
    return best, model


def _fit_select(kind: str, ftr: _Features, train_labels: Sequence, fva: _Features, valid_labels: Sequence,
                fte: _Features, test_labels: Sequence, multilabel: bool, lr_grid: Sequence[float], seed: int,
                cfg: _Settings) -> Dict[str, object]:
    classes = sorted({c for l in train_labels for c in _label_set(l, multilabel)}, key=str)
    if not classes:
        raise ValueError("the training split has no labels")
    if len(fva) == 0:
        raise ValueError("empty validation split")
    if not lr_grid:
        raise ValueError("empty learning-rate grid")
    index = {c: i for i, c in enumerate(classes)}
    ytr, _ = _targets(train_labels, index, multilabel)
    yva, va_unseen = _targets(valid_labels, index, multilabel)
    yte, te_unseen = _targets(test_labels, index, multilabel)
    best, model = _train_grid(kind, ftr, ytr, fva, yva, va_unseen, len(classes), multilabel, lr_grid, seed, cfg)
    chosen = max(range(len(lr_grid)), key=lambda i: (best[i][0], -i))  # ties keep the earlier learning rate
    valid_score, epoch, state = best[chosen]
    model.params = {k: v.unsqueeze(0) for k, v in state.items()}
    test_logits = _predict(model, fte)[0]
    test_score = _score(test_logits, yte, multilabel, te_unseen)
    # per test clip: 1 when the top class is right (single-label only), for paired comparisons
    correct = None if multilabel else ((test_logits.argmax(-1) == yte) & (yte >= 0)).int().tolist()
    return {
        "kind": kind,
        "metric": "mAP" if multilabel else "accuracy",
        "score": test_score,
        "valid_score": valid_score,
        "lr": float(lr_grid[chosen]),
        "epochs": epoch,
        "valid_by_lr": {float(lr): best[i][0] for i, lr in enumerate(lr_grid)},
        "num_train": len(ftr),
        "num_test": len(fte),
        "num_classes": len(classes),
        "test_correct": correct,
    }


def _settings(kind: str, **overrides) -> _Settings:
    if kind not in KINDS:
        raise ValueError(f"unknown probe kind {kind!r}; expected one of {KINDS}")
    cfg = _Settings()
    if kind == "attention":  # ~100x the cost of an epoch of the pooled probes
        cfg.max_epochs, cfg.patience = 40, 6
    for key, value in overrides.items():
        if not hasattr(cfg, key) or key == "explicit_budget":
            raise TypeError(f"unknown probe setting {key!r}")
        if value is not None:
            setattr(cfg, key, value)
            cfg.explicit_budget |= key in ("max_epochs", "patience")
    return cfg


# ---------------------------------------------------------------------- public API
def run_probe(kind: str, train: ProbeData, valid: ProbeData, test: ProbeData, multilabel: Optional[bool] = None,
              lr_grid: Sequence[float] = DEFAULT_LR_GRID, seed: int = 0, *, max_epochs: Optional[int] = None,
              patience: Optional[int] = None, batch_size: Optional[int] = None,
              weight_decay: Optional[float] = None, hidden: Optional[int] = None, heads: Optional[int] = None,
              dropout: Optional[float] = None, query_lr_scale: Optional[float] = None,
              frame_stride: int = 1) -> Dict[str, object]:
    """Train ``kind`` ("linear" | "mlp" | "attention") on ``train``, pick the learning rate
    and epoch on ``valid``, score ``test``.

    ``multilabel=None`` infers it from the labels (lists => multi-label).
    Defaults: max_epochs 100 / patience 10 (attention: 40 / 6), raised on small training
    sets so that patience spans at least 150 steps (see _epoch_budget; giving either
    value turns this off), batch 256, AdamW weight
    decay 1e-4, MLP hidden 256, attention heads 4, dropout 0.1 (not for linear), the
    attention queries learn ``query_lr_scale`` (3) times faster than the rest: they start
    at zero (mean pooling) and need to grow large to select single frames (larger values
    converge in fewer epochs but overfit more when frames are noisy).
    ``frame_stride`` averages frames in windows of that many before the attention probe.

    Returns score, metric ("accuracy" | "mAP"), valid_score, lr, epochs (the best
    epoch), valid_by_lr, num_train, num_test, num_classes, kind, and test_correct (per
    test clip 0/1, single-label only; None for multi-label).
    """
    cfg = _settings(kind, max_epochs=max_epochs, patience=patience, batch_size=batch_size,
                    weight_decay=weight_decay, hidden=hidden, heads=heads, dropout=dropout,
                    query_lr_scale=query_lr_scale)
    multilabel = _resolve_multilabel(multilabel, train.labels + valid.labels + test.labels)
    norm = _Standardizer.fit(train, kind == "attention", frame_stride)
    return _fit_select(kind, norm.apply(train), train.labels, norm.apply(valid), valid.labels,
                       norm.apply(test), test.labels, multilabel, lr_grid, seed, cfg)


def paired_bootstrap(correct_a: Sequence[int], correct_b: Sequence[int], num_resamples: int = 10000,
                     seed: int = 0) -> Dict[str, float]:
    """Accuracy gain of system a over system b on the same test clips, with a 95% percentile
    bootstrap interval (clips resampled with replacement, both systems together) and the
    share of resamples in which a is not better (a one-sided p-value for "a beats b")."""
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired bootstrap needs two equal-length, non-empty 0/1 vectors, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    diff = a - b
    gains = np.empty(num_resamples)
    for start in range(0, num_resamples, 1000):  # bounded memory for large test sets
        n = min(1000, num_resamples - start)
        gains[start:start + n] = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(1)
    low, high = np.percentile(gains, [2.5, 97.5])
    return {"gain": float(diff.mean()), "ci95_low": float(low), "ci95_high": float(high),
            "p_not_better": float(np.mean(gains <= 0.0)), "num_clips": int(len(diff))}


def kfold_splits(k: int) -> List[Tuple[List[int], int, int]]:
    """(train folds, valid fold, test fold) per round: fold i is test, fold i+1 (cyclically) valid."""
    if k < 3:
        raise ValueError(f"k-fold probes need at least 3 folds (train, valid, test), got {k}")
    return [([j for j in range(k) if j not in (i, (i + 1) % k)], (i + 1) % k, i) for i in range(k)]


def run_kfold(kind: str, folds: Sequence[ProbeData], multilabel: Optional[bool] = None, **kwargs) -> Dict[str, object]:
    """HEAR k-fold protocol: each fold is test once, the next fold valid, the others train.

    ``kwargs`` go to :func:`run_probe`. Returns mean, std (population, ddof=0), scores
    (per fold, in fold order), metric and the per-fold result dicts under ``folds``.
    """
    results = []
    for train_ids, valid_id, test_id in kfold_splits(len(folds)):
        train = ProbeData.concat([folds[j] for j in train_ids])
        results.append(run_probe(kind, train, folds[valid_id], folds[test_id], multilabel=multilabel, **kwargs))
    scores = [r["score"] for r in results]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "scores": scores,
            "metric": results[0]["metric"], "folds": results}


def subsample_indices(labels: Sequence, fraction: float, seed: int, multilabel: Optional[bool] = None) -> np.ndarray:
    """Sorted indices of a class-stratified subsample of about ``fraction`` of the clips.

    Multi-class: ``round(fraction * N)`` clips in total (or one per class when there are
    more classes), shared among the classes in proportion to their size by largest
    remainder, each class keeping at least one clip. Multi-label: clips are stratified by
    their rarest label, then any label that lost all its clips gets one clip back, so
    every label keeps at least one example; the size can exceed the target by the number
    of classes at most.
    """
    n = len(labels)
    if not fraction > 0:
        raise ValueError(f"fraction must be positive, got {fraction}")
    if fraction >= 1 or n == 0:
        return np.arange(n)
    multilabel = _resolve_multilabel(multilabel, labels)
    rng = np.random.default_rng(seed)
    if multilabel:
        counts: Dict[Hashable, int] = {}
        for label in labels:
            for c in set(label):
                counts[c] = counts.get(c, 0) + 1
        # the rarest label of a clip (ties by name); clips without labels form their own stratum
        keys = [min(set(l), key=lambda c: (counts[c], str(c))) if len(l) else None for l in labels]
    else:
        keys = list(labels)
    groups: Dict[Hashable, List[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    order = sorted(groups, key=str)
    target = max(int(round(fraction * n)), len(order))
    quota = {k: fraction * len(groups[k]) for k in order}
    take = {k: min(len(groups[k]), max(1, int(math.floor(quota[k])))) for k in order}
    # largest remainder to reach the target exactly; every stratum keeps at least one clip
    while sum(take.values()) > target:
        k = max((k for k in order if take[k] > 1), key=lambda k: take[k] - quota[k])
        take[k] -= 1
    while sum(take.values()) < target:
        k = max((k for k in order if take[k] < len(groups[k])), key=lambda k: quota[k] - take[k])
        take[k] += 1
    chosen = set()
    for k in order:
        members = np.asarray(groups[k])
        chosen.update(int(i) for i in rng.permutation(members)[: take[k]])
    if multilabel:
        present = {c for i in chosen for c in labels[i]}
        for c in sorted(counts, key=lambda c: (counts[c], str(c))):
            if c not in present:
                candidates = [i for i, l in enumerate(labels) if c in l]
                pick = int(candidates[rng.integers(len(candidates))])
                chosen.add(pick)
                present.update(labels[pick])
    return np.asarray(sorted(chosen), dtype=np.int64)


def subsample(data: ProbeData, fraction: float, seed: int, multilabel: Optional[bool] = None) -> ProbeData:
    """Class-stratified subsample of ``data`` (see :func:`subsample_indices`)."""
    return data.take(subsample_indices(data.labels, fraction, seed, multilabel))


def run_low_resource(kind: str, train: ProbeData, valid: ProbeData, test: ProbeData,
                     fractions: Sequence[float] = (0.01, 0.05, 0.1, 1.0), seeds: Sequence[int] = (0, 1, 2),
                     multilabel: Optional[bool] = None, lr_grid: Sequence[float] = DEFAULT_LR_GRID,
                     frame_stride: int = 1, **kwargs) -> Dict[float, Dict[str, object]]:
    """Probe with only ``fraction`` of the training labels, once per seed (the seed picks
    the subsample and the probe's initialisation).

    Only the training labels are subsampled: valid and test are untouched, and the
    standardisation statistics come from all training features (label-free), so the
    features are standardised and padded once for all fractions and seeds.
    Returns {fraction: {mean, std (ddof=0), scores (per seed), num_train (mean over seeds, rounded)}}.
    """
    cfg = _settings(kind, **kwargs)
    multilabel = _resolve_multilabel(multilabel, train.labels + valid.labels + test.labels)
    norm = _Standardizer.fit(train, kind == "attention", frame_stride)
    ftr, fva, fte = norm.apply(train), norm.apply(valid), norm.apply(test)
    out: Dict[float, Dict[str, object]] = {}
    for fraction in fractions:
        scores, sizes = [], []
        for seed in seeds:
            idx = subsample_indices(train.labels, fraction, seed, multilabel)
            result = _fit_select(kind, ftr.take(idx), [train.labels[i] for i in idx], fva, valid.labels,
                                 fte, test.labels, multilabel, lr_grid, seed, cfg)
            scores.append(result["score"])
            sizes.append(len(idx))
        out[fraction] = {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "scores": scores,
                         "num_train": int(round(float(np.mean(sizes))))}
    return out
