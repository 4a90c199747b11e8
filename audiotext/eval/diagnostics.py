"""Label-free diagnostics of an embedding set.

* :func:`alignment` and :func:`uniformity` (Wang & Isola, 2020, "Understanding
  contrastive representation learning through alignment and uniformity on the
  hypersphere"), both on L2-normalised embeddings: alignment is small when positive
  pairs map close together, uniformity is very negative when the embeddings spread
  over the sphere and 0 when they all collapse to one point.
* :func:`rankme` (Garrido et al., 2023, "RankMe"): a smooth effective rank, the
  exponential of the entropy of the normalised singular values; between 1 and
  min(N, D).

All computations run in float64 numpy.
"""
from __future__ import annotations

import numpy as np


def _as_matrix(x, name: str, min_rows: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) array, got shape {x.shape}")
    if len(x) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} embedding(s), got {len(x)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _normalise(x: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero embedding, which has no direction to normalise")
    return x / norms


def alignment(x, y, alpha: float = 2) -> float:
    """Mean ``||f(x_i) - f(y_i)||^alpha`` over positive pairs ``(x_i, y_i)`` (rows), f = L2 normalisation.

    0 when each pair is identical up to scale; 4 (alpha=2) when every pair is antipodal.
    """
    x = _normalise(_as_matrix(x, "x", 1), "x")
    y = _normalise(_as_matrix(y, "y", 1), "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must pair up row by row, got shapes {x.shape} and {y.shape}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    return float(np.mean(np.linalg.norm(x - y, axis=1) ** alpha))


def uniformity(x, t: float = 2, block: int = 1 << 22) -> float:
    """``log`` of the mean of ``exp(-t ||f(x_i) - f(x_j)||^2)`` over distinct pairs i < j.

    f = L2 normalisation. 0 for fully collapsed embeddings; its minimum for N points
    on the unit circle is reached by equally spaced points. Computed blockwise with a
    running log-sum-exp, so memory stays near ``block`` floats for large N.
    """
    x = _normalise(_as_matrix(x, "x", 2), "x")
    if t <= 0:
        raise ValueError(f"t must be positive, got {t}")
    n = len(x)
    rows = max(1, block // n)
    running_max, running_sum = -np.inf, 0.0
    for start in range(0, n - 1, rows):
        stop = min(start + rows, n - 1)
        # pairs (i, j) with start <= i < stop and j > i
        sq = np.maximum(2.0 - 2.0 * x[start:stop] @ x.T, 0.0)  # squared distances of unit vectors
        upper = np.arange(n)[None, :] > np.arange(start, stop)[:, None]
        logits = -t * sq[upper]
        peak = logits.max()
        if peak > running_max:
            running_sum = running_sum * np.exp(running_max - peak)
            running_max = peak
        running_sum += np.exp(logits - running_max).sum()
    pairs = n * (n - 1) / 2
    return float(running_max + np.log(running_sum) - np.log(pairs))


def rankme(z, eps: float = 1e-7) -> float:
    """RankMe: ``exp(-sum_k p_k log p_k)`` with ``p_k = s_k / sum(s) + eps`` over the
    singular values ``s`` of the (uncentred) embedding matrix ``z`` (N, D).

    About D for isotropic data with N >> D, about r for data of rank r with equal
    spread in its r directions.
    """
    z = _as_matrix(z, "z", 2)
    s = np.linalg.svd(z, compute_uv=False)
    total = s.sum()
    if total == 0:
        raise ValueError("z is all zeros: RankMe is undefined")
    p = s / total + eps
    return float(np.exp(-np.sum(p * np.log(p))))
