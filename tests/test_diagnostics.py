"""Alignment, uniformity and RankMe on embedding sets with known values."""
from __future__ import annotations

import numpy as np
import pytest

from audiotext.eval.diagnostics import alignment, rankme, uniformity


def circle(n):
    angle = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def test_alignment_of_identical_or_rescaled_pairs_is_zero():
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert alignment(x, x) == 0.0
    assert alignment(x, 3.0 * x) == pytest.approx(0.0, abs=1e-12)


def test_alignment_known_values():
    x = np.eye(3)
    assert alignment(x, -x) == pytest.approx(4.0)                  # antipodal: ||2u||^2
    assert alignment(x, np.roll(x, 1, axis=1)) == pytest.approx(2.0)  # orthogonal: ||u - v||^2 = 2
    assert alignment(x, np.roll(x, 1, axis=1), alpha=1) == pytest.approx(np.sqrt(2))
    # mean over pairs: one identical, one antipodal
    assert alignment([[1, 0], [0, 1]], [[2, 0], [0, -1]]) == pytest.approx(2.0)


def test_uniformity_of_collapsed_points_is_zero():
    assert uniformity(np.tile([[0.3, -1.2, 2.0]], (20, 1))) == pytest.approx(0.0, abs=1e-12)


def test_uniformity_of_a_regular_polygon_matches_the_closed_form():
    # For N equally spaced unit vectors, ||x_i - x_j||^2 = 2 - 2 cos(2 pi k / N), and
    # (1/N) sum_k exp(2t cos(2 pi k / N)) = I0(2t) up to terms of order I_N(2t) (~1e-70 here),
    # so the mean over the N(N-1)/2 distinct pairs is (N exp(-2t) I0(2t) - 1) / (N - 1).
    n = 64
    for t in (1.0, 2.0):
        expected = np.log((n * np.exp(-2 * t) * np.i0(2 * t) - 1) / (n - 1))
        assert uniformity(circle(n), t=t) == pytest.approx(expected, abs=1e-12)
    # uniform on the circle in the limit: -4 + log I0(4) = -1.575027..., approached at a 1/N
    # rate (the N self-pairs, each exp(0) = 1, are left out of the mean)
    limit = -4 + np.log(np.i0(4.0))
    assert uniformity(circle(2000)) == pytest.approx(limit, abs=2.5e-3)
    assert abs(uniformity(circle(4000)) - limit) < abs(uniformity(circle(2000)) - limit)
    assert -4 + np.log(np.i0(4.0)) == pytest.approx(-1.575027, abs=1e-6)
    # spread beats clustered: a quarter arc is less uniform than the full circle
    arc = circle(256)[:64]
    assert uniformity(circle(64)) < uniformity(arc) < 0.0


def test_uniformity_blockwise_matches_brute_force():
    x = np.random.default_rng(1).normal(size=(37, 5))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    i, j = np.triu_indices(len(u), k=1)
    brute = np.log(np.mean(np.exp(-2 * np.sum((u[i] - u[j]) ** 2, axis=1))))
    assert uniformity(x) == pytest.approx(brute, abs=1e-12)
    assert uniformity(x, block=7) == pytest.approx(brute, abs=1e-12)


def test_rankme_known_values():
    rng = np.random.default_rng(0)
    isotropic = rng.normal(size=(2000, 16))
    assert 15.5 < rankme(isotropic) <= 16.0
    basis = np.linalg.qr(rng.normal(size=(16, 3)))[0].T  # 3 orthonormal directions in 16-D
    low_rank = rng.normal(size=(2000, 3)) @ basis
    assert rankme(low_rank) == pytest.approx(3.0, abs=0.1)
    # four equal singular values: exactly 4 up to the eps terms
    assert rankme(np.eye(4)) == pytest.approx(4.0, abs=1e-5)
    assert rankme(np.outer(np.arange(1, 6), np.ones(3))) == pytest.approx(1.0, abs=1e-5)


def test_single_embeddings_and_bad_shapes_raise_clear_errors():
    one = np.ones((1, 4))
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(one)
    with pytest.raises(ValueError, match="at least 2"):
        rankme(one)
    assert alignment(one, one) == 0.0  # one positive pair is enough
    with pytest.raises(ValueError, match="pair up"):
        alignment(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="all-zero"):
        uniformity(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        rankme(np.ones(5))
