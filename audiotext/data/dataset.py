"""Batches for audio-text training: Lhotse CutSet -> sampler -> fbank + token ids.

The dataset is a map-style Lhotse dataset: the sampler hands it a CutSet per
batch and it returns padded tensors. Audio that cannot be used is skipped, and
every batch reports what it skipped and why, so the trainer can count it even
when loading runs in worker processes.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from lhotse import CutSet
from lhotse.dataset import DynamicBucketingSampler, DynamicCutSampler, SpecAugment

from audiotext.data.audio_checks import checked_features, default_min_input_seconds, load_checked_audio
from audiotext.data.features import Fbank, FbankConfig
from audiotext.data.schema import caption_records

log = logging.getLogger(__name__)


@dataclass
class SpecAugmentConfig:
    enabled: bool = True
    time_warp_factor: int = 0  # 0 disables time warping (costly, little gain on short clips)
    num_feature_masks: int = 2
    features_mask_size: int = 15
    num_frame_masks: int = 2
    frames_mask_size: int = 40
    max_frames_mask_fraction: float = 0.15
    p: float = 0.9


@dataclass
class DataConfig:
    train_cuts: str = ""
    valid_cuts: str = ""
    max_duration: float = 200.0  # seconds of audio per batch (per rank)
    num_buckets: int = 8
    num_workers: int = 1
    max_caption_tokens: int = 64
    # relative chance of drawing a caption of each style when a clip has several (default 1.0),
    # e.g. {transcript: 0.3} when the encoder is too small to learn speech recognition
    caption_style_weights: Dict[str, float] = field(default_factory=dict)
    max_clip_duration: float = 30.0  # longer cuts are dropped (and counted) before sampling
    fbank: FbankConfig = field(default_factory=FbankConfig)
    specaug: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)


def load_cuts(path: str, what: str = "cuts") -> CutSet:
    """Lazily open a CutSet manifest, with an error that names the missing file."""
    if not path:
        raise FileNotFoundError(f"data.{what}: no manifest path given")
    if not Path(path).is_file():
        raise FileNotFoundError(f"data.{what}: manifest not found: {path}")
    cuts = CutSet.from_file(path)
    if cuts is None:  # lhotse reads a manifest without a line as None
        raise ValueError(f"data.{what}: manifest {path} holds no cuts")
    return cuts


def clip_captions(cut) -> List[Dict[str, Any]]:
    """All captions of a clip as ``{caption, style, domain, source}`` records.

    A supervision's ``custom["caption"]`` may be one string (our manifests), a list of strings
    (the published CaptionStew manifests) or absent; see :func:`audiotext.data.schema.caption_records`.
    """
    return [{"caption": c.text, "style": c.style, "domain": c.domain, "source": c.source}
            for c in caption_records(cut)]


class AudioCaptionDataset(torch.utils.data.Dataset):
    """CutSet -> {features, feature_lens, tokens, token_lens, captions, ...}.

    One caption is drawn at random per clip when it has several (``train=True``);
    in evaluation the first caption is used and SpecAugment is off.
    ``min_samples``: the encoder's minimum input (:func:`audiotext.data.audio_checks.min_input_samples`;
    default: the default encoder's); shorter clips are skipped as ``too_short``.
    """

    def __init__(self, tokenizer, conf: DataConfig, train: bool = True, seed: int = 0,
                 min_samples: Optional[int] = None):
        self.tokenizer = tokenizer
        self.conf = conf
        self.train = train
        self.fbank = Fbank(conf.fbank)
        if min_samples is None:
            min_samples = int(round(default_min_input_seconds(conf.fbank) * conf.fbank.sample_rate))
        self.min_samples = min_samples
        self.rng = random.Random(seed)
        self.specaug = None
        if train and conf.specaug.enabled:
            s = conf.specaug
            self.specaug = SpecAugment(
                time_warp_factor=s.time_warp_factor or None, num_feature_masks=s.num_feature_masks,
                features_mask_size=s.features_mask_size, num_frame_masks=s.num_frame_masks,
                frames_mask_size=s.frames_mask_size, max_frames_mask_fraction=s.max_frames_mask_fraction, p=s.p,
            )

    def __getitem__(self, cuts: CutSet) -> Dict[str, Any]:
        feats, captions, ids, styles, domains, skipped = [], [], [], [], [], []
        for cut in cuts:
            audio, reason = load_checked_audio(cut, self.conf.fbank.sample_rate)
            if audio is None:
                skipped.append((cut.id, reason))
                log.warning("skipping cut %s (%s): %s", cut.id, _audio_path(cut), reason)
                continue
            options = clip_captions(cut)
            if not options:
                skipped.append((cut.id, "no_caption"))
                continue
            feat, reason = checked_features(self.fbank, audio, self.min_samples)
            if feat is None:
                skipped.append((cut.id, reason))
                log.warning("skipping cut %s (%s): %s", cut.id, _audio_path(cut), reason)
                continue
            chosen = self._draw(options) if self.train else options[0]
            feats.append(feat)
            captions.append(chosen["caption"])
            styles.append(chosen["style"])
            domains.append(chosen["domain"])
            ids.append(cut.id)
        return self.collate(feats, captions, ids, styles, domains, skipped)

    def _draw(self, options: List[Dict[str, Any]]) -> Dict[str, Any]:
        weights = [self.conf.caption_style_weights.get(o["style"], 1.0) for o in options]
        if sum(weights) <= 0:
            weights = [1.0] * len(options)
        return self.rng.choices(options, weights=weights, k=1)[0]

    def collate(self, feats, captions, ids, styles, domains, skipped) -> Dict[str, Any]:
        batch: Dict[str, Any] = {"cut_ids": ids, "captions": captions, "styles": styles, "domains": domains,
                                 "skipped": skipped, "num_cuts": len(ids)}
        if not feats:
            return batch
        lens = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
        padded = torch.zeros(len(feats), int(lens.max()), feats[0].shape[1])
        for i, f in enumerate(feats):
            padded[i, : f.shape[0]] = f
        if self.specaug is not None:
            segments = torch.stack([torch.arange(len(feats)), torch.zeros(len(feats), dtype=torch.long), lens], 1)
            padded = self.specaug(padded, supervision_segments=segments.int())
        batch.update(features=padded, feature_lens=lens)
        batch.update(tokenize(self.tokenizer, captions, self.conf.max_caption_tokens))
        return batch


def tokenize(tokenizer, captions: List[str], max_tokens: int) -> Dict[str, torch.Tensor]:
    ids = [tokenizer.encode_with_specials(c, max_tokens) for c in captions]
    lens = torch.tensor([len(x) for x in ids], dtype=torch.long)
    tokens = torch.full((len(ids), int(lens.max())), tokenizer.pad_id, dtype=torch.long)
    for i, x in enumerate(ids):
        tokens[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    return {"tokens": tokens, "token_lens": lens}


def _audio_path(cut) -> str:
    try:
        return ",".join(str(s.source) for s in cut.recording.sources)
    except Exception:
        return "?"


def filter_long_cuts(cuts: CutSet, max_duration: float) -> CutSet:
    def keep(cut) -> bool:
        if cut.duration > max_duration:
            log.warning("dropping cut %s: %.1f s > max_clip_duration %.1f s", cut.id, cut.duration, max_duration)
            return False
        return True

    return cuts.filter(keep)


def make_sampler(cuts: CutSet, conf: DataConfig, train: bool, seed: int, world_size: int = 1, rank: int = 0):
    if conf.num_buckets < 2:  # no bucketing: batches in manifest (or shuffled) order
        return DynamicCutSampler(cuts, max_duration=conf.max_duration, shuffle=train, drop_last=train,
                                 seed=seed, world_size=world_size, rank=rank)
    return DynamicBucketingSampler(
        cuts, max_duration=conf.max_duration, num_buckets=conf.num_buckets, shuffle=train, drop_last=train,
        seed=seed, world_size=world_size, rank=rank,
        num_cuts_for_bins_estimate=2000, buffer_size=5000,
    )


def make_loader(cuts: CutSet, tokenizer, conf: DataConfig, train: bool, seed: int = 0,
                world_size: int = 1, rank: int = 0, sampler=None, min_samples: Optional[int] = None):
    """DataLoader over a duration-bucketed sampler; ``batch_size=None`` because the sampler batches.
    ``min_samples``: the encoder's minimum input (see :class:`AudioCaptionDataset`)."""
    cuts = filter_long_cuts(cuts, conf.max_clip_duration)
    sampler = sampler or make_sampler(cuts, conf, train, seed, world_size, rank)
    dataset = AudioCaptionDataset(tokenizer, conf, train=train, seed=seed + rank, min_samples=min_samples)
    loader = torch.utils.data.DataLoader(
        dataset, sampler=sampler, batch_size=None, num_workers=conf.num_workers,
        persistent_workers=conf.num_workers > 0, prefetch_factor=4 if conf.num_workers > 0 else None,
    )
    return loader, sampler


class SkipCounter:
    """Totals of skipped cuts by reason, across batches (and so across workers)."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.examples: Dict[str, List[str]] = {}

    def update(self, batch: Dict[str, Any]) -> None:
        for cut_id, reason in batch.get("skipped", []):
            self.counts[reason] += 1
            self.examples.setdefault(reason, [])
            if len(self.examples[reason]) < 5:
                self.examples[reason].append(cut_id)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> Dict[str, Any]:
        return {"total": self.total, "by_reason": dict(self.counts), "examples": self.examples}
