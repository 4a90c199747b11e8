"""Retrieval metrics on hand-made similarity matrices; linear probes on known data."""
from __future__ import annotations

import numpy as np
import pytest

from audiotext.eval.probes import ProbeTask, select
from audiotext.eval.retrieval import ranks_audio_to_text, ranks_text_to_audio, retrieval_metrics


def test_text_to_audio_ranks_count_ties_against_the_query():
    sim = np.array([
        [0.9, 0.1, 0.0],   # caption 0 -> clip 0: rank 1
        [0.5, 0.2, 0.7],   # caption 1 -> clip 1: rank 3
        [0.3, 0.3, 0.3],   # caption 2 -> clip 2: tied with all: rank 3
        [0.1, 0.8, 0.2],   # caption 3 -> clip 1: rank 1
    ])
    assert ranks_text_to_audio(sim, [0, 1, 2, 1]).tolist() == [1, 3, 3, 1]


def test_audio_to_text_takes_the_best_caption_of_a_clip():
    sim = np.array([
        [0.9, 0.1, 0.0],
        [0.5, 0.2, 0.7],
        [0.3, 0.3, 0.3],
        [0.1, 0.8, 0.2],
    ])
    # clip 1's captions are rows 1 and 3; in column 1, row 3 (0.8) is the best-ranked: rank 1
    # clip 2's caption is row 2 (0.3) in column 2: rows 1 (0.7) ranks above: rank 2
    assert ranks_audio_to_text(sim, [0, 1, 2, 1]).tolist() == [1, 1, 2]


def test_retrieval_metrics_values():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((10, 8))
    audio /= np.linalg.norm(audio, axis=1, keepdims=True)
    text = audio.copy()  # perfect embeddings
    text[3] = -text[3]   # caption 3 points away from its clip: worst rank
    m = retrieval_metrics(audio, text, list(range(10)))
    assert m["retrieval.t2a.R@1"] == pytest.approx(0.9)
    assert m["retrieval.t2a.R@10"] == pytest.approx(1.0)
    assert m["retrieval.chance.R@1"] == pytest.approx(0.1)
    # mAP@10 = mean of 1/rank: nine 1s and 1/10 for the reversed caption (rank 10 of 10)
    assert m["retrieval.t2a.mAP@10"] == pytest.approx((9 + 0.1) / 10)


def test_select_filters_domain_and_skips_missing_labels():
    labels = [{"domain": "speech", "voice": "en"}, {"domain": "music", "voice": "x"},
              {"domain": "speech"}, {"domain": "speech", "voice": "fr"}]
    idx, values = select(labels, ProbeTask("voice", "voice", "speech"))
    assert idx.tolist() == [0, 3] and values == ["en", "fr"]


def test_select_multilabel_lists_and_multiclass_skips_lists():
    labels = [{"tags": ["rock", "guitar"]}, {"tags": "jazz"}, {"other": 1}]
    idx, values = select(labels, ProbeTask("tags", "tags", multilabel=True))
    assert idx.tolist() == [0, 1] and values == [["rock", "guitar"], ["jazz"]]
    idx, values = select(labels, ProbeTask("tags", "tags"))
    assert idx.tolist() == [1] and values == ["jazz"]
