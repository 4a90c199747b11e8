"""Global fbank mean and standard deviation from a random sample of the training clips.

A data stage (``python -m audiotext.bin.feature_stats``) writes them as JSON beside the manifests;
training reads that file (``data.feature_stats``), or computes the same thing at the start of a new
run when it is not given. The sample is drawn uniformly from all sources (a seeded generator), not
the first clips of the manifest, which would be the first corpus only.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch

from audiotext.data.audio_checks import checked_features, load_checked_audio
from audiotext.data.features import Fbank, FbankConfig

log = logging.getLogger(__name__)


def sample_rows(num_cuts: int, num_clips: int, seed: int) -> np.ndarray:
    """``min(num_clips, num_cuts)`` distinct rows drawn uniformly (seeded), in increasing order."""
    rng = np.random.default_rng([seed, 7])
    return np.sort(rng.choice(num_cuts, size=min(num_clips, num_cuts), replace=False))


def compute_feature_stats(sources, fbank_conf: FbankConfig, min_samples: int, num_clips: int = 300,
                          seed: int = 0) -> Dict[str, Any]:
    """``{mean, std: lists of num_mel_bins floats, num_mel_bins, clips, frames, skipped, seed}`` over
    ``num_clips`` clips drawn without replacement from ``sources`` (a SourceSet).

    Unusable clips (audio_checks' reasons, ``too_short`` below ``min_samples``, ``out_of_range``)
    are left out, counted in ``skipped`` and logged. RuntimeError when none is usable.
    """
    rows = sample_rows(len(sources), num_clips, seed)
    fbank = Fbank(fbank_conf)
    total = torch.zeros(fbank_conf.num_mel_bins, dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    frames, clips = 0, 0
    skipped: Counter = Counter()
    for row in rows.tolist():
        cut = sources.cut(row)
        audio, reason = load_checked_audio(cut, fbank_conf.sample_rate)
        feat = None
        if audio is not None:
            feat, reason = checked_features(fbank, audio, min_samples)
        if feat is None:
            skipped[reason] += 1
            log.warning("feature statistics: skipping cut %s: %s", cut.id, reason)
            continue
        feat = feat.double()
        total += feat.sum(0)
        total_sq += (feat ** 2).sum(0)
        frames += feat.shape[0]
        clips += 1
    if frames == 0:
        raise RuntimeError(f"feature statistics: none of the {len(rows)} sampled clips is usable "
                           f"(skipped: {dict(skipped)})")
    mean = total / frames
    std = (total_sq / frames - mean ** 2).clamp(min=1e-6).sqrt()
    log.info("feature statistics from %d clips, %d frames%s", clips, frames,
             f"; skipped {dict(skipped)}" if skipped else "")
    return {"num_mel_bins": fbank_conf.num_mel_bins, "fbank": dataclasses.asdict(fbank_conf),
            "mean": mean.tolist(), "std": std.tolist(),
            "clips": clips, "frames": frames, "skipped": dict(skipped), "seed": seed}


def write_feature_stats(stats: Dict[str, Any], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(stats, indent=1) + "\n")
    tmp.replace(path)


def read_feature_stats(path: str, fbank_conf: FbankConfig) -> Dict[str, Any]:
    """Read a statistics file. ValueError naming it when it is not one (mean and std lists of finite
    numbers, std > 0) or was computed with other fbank settings than ``fbank_conf``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"data.feature_stats: file not found: {path}")
    try:
        stats = json.loads(p.read_text())
        mean = np.asarray(stats["mean"], dtype=np.float64)
        std = np.asarray(stats["std"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"data.feature_stats: {path} is not a feature statistics file ({type(err).__name__}: "
                         f"{err})") from None
    bins = fbank_conf.num_mel_bins
    if mean.shape != (bins,) or std.shape != (bins,):
        raise ValueError(f"data.feature_stats: {path} holds mean {mean.shape} and std {std.shape}; "
                         f"data.fbank.num_mel_bins is {bins}")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ValueError(f"data.feature_stats: {path}: mean and std must be finite and std > 0")
    saved = stats.get("fbank")
    if saved is not None and saved != dataclasses.asdict(fbank_conf):
        raise ValueError(f"data.feature_stats: {path} was computed with fbank {saved}; this run's data.fbank is "
                         f"{dataclasses.asdict(fbank_conf)} (rerun bin.feature_stats with --config)")
    return stats
