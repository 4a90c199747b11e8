"""Probes on cached embeddings: linear / MLP / attention, metrics, k-fold, low-resource subsampling."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from audiotext.eval.probe_models import (ProbeData, _GridProbe, _Standardizer, average_precision, kfold_splits,
                                         mean_average_precision, paired_bootstrap, run_kfold, run_low_resource,
                                         run_probe, subsample, subsample_indices)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny models: one thread is faster and immune to a busy second core
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gaussian_classes(n, seed, num_classes=3, dim=16, separation=4.0, random_labels=False):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(123).normal(size=(num_classes, dim)) * separation / np.sqrt(2 * dim) * 2
    y = rng.integers(num_classes, size=n)
    x = centers[y] + rng.normal(size=(n, dim))
    if random_labels:
        y = rng.integers(num_classes, size=n)
    return ProbeData.from_pooled(x.astype(np.float32), [f"c{c}" for c in y])


def spike_data(n, seed, dim=8, spike=6.0):
    """'spike': one random frame gets +spike in dim 0; 'flat': every frame gets +spike/T.

    The per-clip mean of the frames has the same distribution in both classes, so no
    probe on pooled features can beat chance; attention can find the spiked frame.
    """
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for i in range(n):
        t = int(rng.integers(10, 31))
        f = rng.normal(size=(t, dim)).astype(np.float32)
        if i % 2:
            f[rng.integers(t), 0] += spike
            labels.append("spike")
        else:
            f[:, 0] += spike / t
            labels.append("flat")
        frames.append(f)
    return ProbeData.from_frames(frames, labels)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_pooled_probes_separate_gaussian_classes(kind):
    result = run_probe(kind, gaussian_classes(300, 0), gaussian_classes(100, 1), gaussian_classes(200, 2))
    assert result["metric"] == "accuracy"
    assert result["score"] > 0.95
    assert (result["num_train"], result["num_test"], result["num_classes"]) == (300, 200, 3)
    assert result["lr"] in (1e-3, 3e-3, 1e-2) and result["epochs"] >= 1


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_random_labels_stay_near_chance(kind):
    parts = [gaussian_classes(n, s, num_classes=4, random_labels=True) for n, s in ((400, 0), (200, 1), (400, 2))]
    result = run_probe(kind, *parts)
    assert 0.15 < result["score"] < 0.35  # chance 0.25, sd of 400 test clips ~0.02


def test_attention_finds_a_single_frame_that_mean_pooling_cannot_see():
    train, valid, test = spike_data(400, 0), spike_data(200, 1), spike_data(200, 2)
    assert run_probe("attention", train, valid, test)["score"] > 0.9
    assert run_probe("linear", train, valid, test)["score"] < 0.65


def test_frame_stride_pools_frames_before_attention():
    train, valid, test = (spike_data(n, seed, spike=8.0) for n, seed in ((300, 0), (100, 1), (100, 2)))
    # a stride of 2 halves the spike but keeps it visible
    assert run_probe("attention", train, valid, test, frame_stride=2)["score"] > 0.85


@pytest.mark.parametrize("kind", ["mlp", "attention"])
def test_same_inputs_and_seed_give_identical_results(kind):
    train, valid, test = spike_data(120, 0), spike_data(60, 1), spike_data(60, 2)
    state = torch.random.get_rng_state()
    first = run_probe(kind, train, valid, test, seed=3, max_epochs=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG neither used nor changed
    torch.manual_seed(999)
    second = run_probe(kind, train, valid, test, seed=3, max_epochs=5)
    torch.random.set_rng_state(state)
    assert first == second


def test_attention_ignores_padding():
    clips = spike_data(3, 0).frames
    norm = _Standardizer.fit(ProbeData.from_frames(clips, ["a", "b", "a"]), frames=True, stride=1)
    model = _GridProbe("attention", 8, 2, 1, hidden=0, heads=2, dropout=0.0, generator=torch.Generator().manual_seed(0))
    model.params["query"] = torch.randn(1, 8, 2, generator=torch.Generator().manual_seed(1))
    together = norm.apply(ProbeData.from_frames(clips, ["a", "b", "a"]))
    assert together.x.shape[1] == max(len(c) for c in clips)
    for i, clip in enumerate(clips):
        alone = norm.apply(ProbeData.from_frames([clip], ["a"]))
        expected = model.forward(alone.x, alone.lengths)[0, 0]
        got = model.forward(together.x, together.lengths)[0, i]
        assert torch.allclose(got, expected, atol=1e-5)


def test_average_precision_by_hand():
    # ranks: + - + -  => precisions at the positives 1/1 and 2/3
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(5 / 6, abs=1e-12)
    # a tie at the top is one threshold: P=1/2 at R=1/2, then P=2/3 at R=1
    assert average_precision([0.5, 0.5, 0.1], [1, 0, 1]) == pytest.approx(7 / 12, abs=1e-12)
    assert average_precision([0.5, 0.5, 0.1], [0, 1, 1]) == pytest.approx(7 / 12, abs=1e-12)
    assert average_precision([0.1, 0.9], [0, 1]) == 1.0
    assert np.isnan(average_precision([0.1, 0.9], [0, 0]))


def test_mean_average_precision_by_hand():
    scores = np.array([[0.9, 0.2, 0.3], [0.8, 0.9, 0.1], [0.7, 0.1, 0.2], [0.6, 0.3, 0.0]])
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]])
    # class 0: 5/6; class 1: ranks + at 1 and + at 2 => 1; class 2 has no positive: left out
    assert mean_average_precision(scores, targets) == pytest.approx((5 / 6 + 1) / 2, abs=1e-12)
    # one more class present in test but never seen in training counts as AP 0
    assert mean_average_precision(scores, targets, num_unseen=1) == pytest.approx((5 / 6 + 1) / 3, abs=1e-12)


def multilabel_data(n, seed, extra=None):
    """Two labels, each flagged by its own feature dimension; ``extra`` tags every 4th clip."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    has_a, has_b = rng.random(n) < 0.5, rng.random(n) < 0.4
    x[:, 0] += 6 * has_a
    x[:, 1] += 6 * has_b
    labels = [[c for c, on in (("a", has_a[i]), ("b", has_b[i])) if on] for i in range(n)]
    if extra:
        for i in range(0, n, 4):
            labels[i].append(extra)
    return ProbeData.from_pooled(x, labels)


def test_multilabel_probe_reports_map_and_counts_unseen_classes_as_zero():
    train, valid = multilabel_data(300, 0), multilabel_data(100, 1)
    result = run_probe("linear", train, valid, multilabel_data(200, 2))
    assert result["metric"] == "mAP" and result["num_classes"] == 2
    assert result["score"] > 0.99
    unseen = run_probe("linear", train, valid, multilabel_data(200, 2, extra="z"))
    assert unseen["score"] == pytest.approx(result["score"] * 2 / 3, abs=1e-12)


def test_test_clips_of_a_class_unseen_in_training_are_errors():
    train, valid = gaussian_classes(200, 0, num_classes=2), gaussian_classes(100, 1, num_classes=2)
    test = gaussian_classes(300, 2, num_classes=3, separation=8.0)
    known = [i for i, l in enumerate(test.labels) if l != "c2"]
    perfect = run_probe("linear", train, valid, test.take(known))["score"]
    assert perfect == 1.0
    result = run_probe("linear", train, valid, test)
    assert result["num_test"] == 300
    assert result["score"] == pytest.approx(len(known) / 300)


def test_kfold_rotation_uses_each_fold_as_test_once():
    splits = kfold_splits(5)
    assert sorted(test for _, _, test in splits) == [0, 1, 2, 3, 4]
    for train, valid, test in splits:
        assert valid == (test + 1) % 5
        assert sorted(train + [valid, test]) == [0, 1, 2, 3, 4]
    sizes = [60, 70, 80, 90]
    folds = [gaussian_classes(n, seed) for seed, n in enumerate(sizes)]
    result = run_kfold("linear", folds)
    assert [r["num_test"] for r in result["folds"]] == sizes
    assert [r["num_train"] for r in result["folds"]] == [sum(sizes) - sizes[i] - sizes[(i + 1) % 4] for i in range(4)]
    assert len(result["scores"]) == 4 and result["mean"] == pytest.approx(np.mean(result["scores"]))
    assert result["mean"] > 0.9 and result["std"] >= 0
    with pytest.raises(ValueError):
        kfold_splits(2)


def test_stratified_subsample_keeps_every_class_and_the_size():
    labels = ["a"] * 500 + ["b"] * 100 + ["c"] * 3 + ["d"]
    data = ProbeData.from_pooled(np.arange(len(labels), dtype=np.float32)[:, None], labels)
    part = subsample(data, 0.1, seed=0)
    counts = Counter(part.labels)
    assert len(part) == round(0.1 * len(labels))
    assert set(counts) == {"a", "b", "c", "d"} and min(counts.values()) >= 1
    assert 48 <= counts["a"] <= 50 and 9 <= counts["b"] <= 10
    assert np.array_equal(part.pooled[:, 0], np.sort(part.pooled[:, 0]))  # original order kept
    assert subsample_indices(labels, 0.1, 0).tolist() == subsample_indices(labels, 0.1, 0).tolist()
    assert subsample_indices(labels, 0.1, 0).tolist() != subsample_indices(labels, 0.1, 1).tolist()
    assert len(subsample(data, 1.0, seed=0)) == len(labels)
    # more classes than the target size: one clip per class
    assert Counter(subsample(data, 0.001, seed=0).labels) == {"a": 1, "b": 1, "c": 1, "d": 1}


def test_multilabel_subsample_keeps_every_label():
    rng = np.random.default_rng(0)
    vocab = [f"l{i}" for i in range(12)]
    labels = [list(rng.choice(vocab, size=rng.integers(1, 4), replace=False, p=np.r_[[0.3] * 3, [0.1 / 9] * 9]))
              for _ in range(400)]
    idx = subsample_indices(labels, 0.05, seed=1)
    kept = {c for i in idx for c in labels[i]}
    assert kept == {c for l in labels for c in l}
    assert 20 <= len(idx) <= 20 + len(vocab)


def test_low_resource_subsamples_only_the_training_labels():
    train, valid, test = gaussian_classes(400, 0), gaussian_classes(100, 1), gaussian_classes(150, 2)
    out = run_low_resource("linear", train, valid, test, fractions=(0.05, 1.0), seeds=(0, 1))
    assert set(out) == {0.05, 1.0}
    assert out[0.05]["num_train"] == 20 and out[1.0]["num_train"] == 400
    for entry in out.values():
        assert len(entry["scores"]) == 2
        assert entry["mean"] == pytest.approx(np.mean(entry["scores"]))
    assert out[1.0]["mean"] > 0.95
    again = run_low_resource("linear", train, valid, test, fractions=(0.05,), seeds=(0, 1))
    assert again[0.05] == out[0.05]
    # all the labels: the same probe as run_probe with that seed
    assert out[1.0]["scores"] == [run_probe("linear", train, valid, test, seed=s)["score"] for s in (0, 1)]


def test_attention_needs_frames():
    pooled = gaussian_classes(50, 0)
    with pytest.raises(ValueError, match="frame"):
        run_probe("attention", pooled, pooled, pooled)
    with pytest.raises(ValueError, match="kind"):
        run_probe("svm", pooled, pooled, pooled)


def test_paired_bootstrap_gain_and_interval():
    same = [1, 0, 1, 1, 0] * 20
    boot = paired_bootstrap(same, same)
    assert boot["gain"] == 0.0 and boot["ci95_low"] == 0.0 and boot["ci95_high"] == 0.0 and boot["p_not_better"] == 1.0
    boot = paired_bootstrap([1] * 50, [0] * 50)
    assert boot["gain"] == 1.0 and boot["ci95_low"] == 1.0 and boot["p_not_better"] == 0.0
    # a wins 12 clips, b wins 4, the rest agree: gain 8/100, interval around it, width ~ 2*1.96*sqrt(16)/100
    a = [1] * 12 + [0] * 4 + [1] * 40 + [0] * 44
    b = [0] * 12 + [1] * 4 + [1] * 40 + [0] * 44
    boot = paired_bootstrap(a, b, seed=1)
    assert boot["gain"] == pytest.approx(0.08)
    assert boot["ci95_low"] < 0.08 < boot["ci95_high"]
    assert 0.12 < boot["ci95_high"] - boot["ci95_low"] < 0.19
    assert boot["p_not_better"] < 0.05
    # the same disagreement on 10x the clips: about sqrt(10) narrower
    wide = paired_bootstrap(a * 10, b * 10, seed=1)
    assert (wide["ci95_high"] - wide["ci95_low"]) < 0.4 * (boot["ci95_high"] - boot["ci95_low"])
    with pytest.raises(ValueError, match="equal-length"):
        paired_bootstrap([1, 0], [1])


def test_run_probe_reports_per_clip_correctness():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    labels = ["a" if v > 0 else "b" for v in x[:, 0]]
    data = ProbeData.from_pooled(x, labels)
    res = run_probe("linear", data.take(range(40)), data.take(range(40, 50)), data.take(range(50, 60)),
                                 max_epochs=50, patience=10)
    assert len(res["test_correct"]) == 10 and set(res["test_correct"]) <= {0, 1}
    assert res["score"] == pytest.approx(np.mean(res["test_correct"]))
