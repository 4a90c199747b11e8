"""Batches for training: cuts -> fbank features + a task's targets, as one :class:`Batch`.

A task owns its dataset (:meth:`audiotext.tasks.base.Task.build_dataset`): a subclass of
:class:`AudioDataset` that says what a clip's target is (a caption, labels, ...). The data order
and its position live in :mod:`audiotext.data.sources`. Audio that cannot be used is skipped, and
every batch reports what it skipped and why, so the trainer can count it even when loading runs
in worker processes. Each batch's randomness is seeded from where it sits in the data order.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from lhotse import CutSet
from lhotse.dataset import SpecAugment

from audiotext.data.audio_checks import checked_features, default_min_input_seconds, load_checked_audio
from audiotext.data.batch import Batch
from audiotext.data.features import Fbank, FbankConfig
from audiotext.data.schema import caption_records
from audiotext.data.sources import SourceConfig

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
    # training data: ``sources`` (mixed by hours x weight), or one manifest as ``train_cuts``
    sources: List[SourceConfig] = field(default_factory=list)
    train_cuts: str = ""
    valid_cuts: str = ""
    # feature mean/std (JSON from ``python -m audiotext.bin.feature_stats``); when empty, a new run
    # computes them at its start from the same random sample of the training sources
    feature_stats: str = ""
    feature_stats_clips: int = 300  # the random sample they are computed from
    max_duration: float = 200.0  # seconds of audio per batch (per rank)
    num_buckets: int = 8
    num_workers: int = 1
    prefetch_factor: int = 4  # batches each loader worker prepares ahead
    max_caption_tokens: int = 64
    # relative chance of drawing a caption of each style when a clip has several (default 1.0),
    # e.g. {transcript: 0.3} when the encoder is too small to learn speech recognition
    caption_style_weights: Dict[str, float] = field(default_factory=dict)
    max_clip_duration: float = 30.0  # longer cuts are never drawn (counted as too_long)
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


def batch_seed(seed: int, epoch: int, index: int, rank: int) -> int:
    """The seed of one batch's randomness (caption draw, SpecAugment), from where the batch sits in
    the data order: the same batch gets the same draws however often it is made and in whichever
    loader worker, which is what makes a resumed run equal to an uninterrupted one."""
    return int(np.random.SeedSequence([seed, epoch, index, rank]).generate_state(1, dtype=np.uint64)[0] >> 1)


@contextmanager
def seeded(seed: int):
    """Run a block with python's, numpy's and torch's (CPU) global generators seeded with ``seed``,
    and put their states back afterwards (lhotse's SpecAugment draws from all three)."""
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


class AudioDataset(torch.utils.data.Dataset):
    """Cuts -> :class:`~audiotext.data.batch.Batch` of fbank features; tasks add their targets.

    A task's dataset subclasses this and implements :meth:`target` (what a clip is trained
    toward, drawn with the batch's own generator) and :meth:`collate_targets`. Audio that cannot be
    used, and clips without a target, are skipped and reported in ``Batch.skipped``.
    ``min_samples``: the encoder's minimum input (:func:`audiotext.data.audio_checks.min_input_samples`;
    default: the default encoder's); shorter clips are skipped as ``too_short``.
    ``seed`` and ``rank`` seed each batch's randomness together with its epoch and index.
    """

    def __init__(self, conf: DataConfig, train: bool = True, seed: int = 0, rank: int = 0,
                 min_samples: Optional[int] = None):
        self.conf = conf
        self.train = train
        self.seed = seed
        self.rank = rank
        self.fbank = Fbank(conf.fbank)
        if min_samples is None:
            min_samples = int(round(default_min_input_seconds(conf.fbank) * conf.fbank.sample_rate))
        self.min_samples = min_samples
        self.specaug = None
        if train and conf.specaug.enabled:
            s = conf.specaug
            self.specaug = SpecAugment(
                time_warp_factor=s.time_warp_factor or None, num_feature_masks=s.num_feature_masks,
                features_mask_size=s.features_mask_size, num_frame_masks=s.num_frame_masks,
                frames_mask_size=s.frames_mask_size, max_frames_mask_fraction=s.max_frames_mask_fraction, p=s.p,
            )

    # ------------------------------------------------------------ what a task defines
    def target(self, cut, rng: random.Random) -> Tuple[Optional[Any], Optional[str]]:
        """(target, None) for a usable clip, or (None, reason) to skip it."""
        raise NotImplementedError

    def collate_targets(self, batch: Batch, targets: List[Any]) -> None:
        """Fill ``batch``'s target fields from the targets of its rows."""
        raise NotImplementedError

    # ------------------------------------------------------------ the batch
    def __getitem__(self, cuts) -> Batch:
        return self.make_batch(cuts)

    def make_batch(self, cuts, epoch: int = 0, index: int = 0) -> Batch:
        seed = batch_seed(self.seed, epoch, index, self.rank)
        rng = random.Random(seed)
        feats, targets, ids, skipped = [], [], [], []
        for cut in cuts:
            audio, reason = load_checked_audio(cut, self.conf.fbank.sample_rate)
            target = None
            if audio is not None:
                target, reason = self.target(cut, rng)
            feat = None
            if reason is None:
                feat, reason = checked_features(self.fbank, audio, self.min_samples)
            if feat is None:
                skipped.append((cut.id, reason))
                if reason not in NOT_WARNED:
                    log.warning("skipping cut %s (%s): %s", cut.id, _audio_path(cut), reason)
                continue
            feats.append(feat)
            targets.append(target)
            ids.append(cut.id)
        batch = Batch(cut_ids=ids, skipped=skipped, epoch=epoch, index=index,
                      frame_shift_ms=self.conf.fbank.frame_shift_ms)
        if not feats:
            return batch
        lens = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
        padded = torch.zeros(len(feats), int(lens.max()), feats[0].shape[1])
        for i, f in enumerate(feats):
            padded[i, : f.shape[0]] = f
        if self.specaug is not None:
            segments = torch.stack([torch.arange(len(feats)), torch.zeros(len(feats), dtype=torch.long), lens], 1)
            with seeded(seed):
                padded = self.specaug(padded, supervision_segments=segments.int())
        batch.features, batch.feature_lens = padded, lens
        self.collate_targets(batch, targets)
        return batch


# reasons that are a property of the data, not of a file: counted, not warned about per clip
NOT_WARNED = ("no_caption", "no_label")


class AudioCaptionDataset(AudioDataset):
    """Clips with captions: one caption drawn per clip (weighted by ``caption_style_weights``) in
    training, the first in evaluation; ``normalize`` (str -> str) is applied before tokenizing."""

    def __init__(self, tokenizer, conf: DataConfig, train: bool = True, seed: int = 0, rank: int = 0,
                 min_samples: Optional[int] = None, normalize: Optional[Callable[[str], str]] = None):
        super().__init__(conf, train=train, seed=seed, rank=rank, min_samples=min_samples)
        self.tokenizer = tokenizer
        self.normalize = normalize

    def target(self, cut, rng):
        options = clip_captions(cut)
        if not options:
            return None, "no_caption"
        return (self._draw(options, rng) if self.train else options[0]), None

    def _draw(self, options: List[Dict[str, Any]], rng: random.Random) -> Dict[str, Any]:
        weights = [self.conf.caption_style_weights.get(o["style"], 1.0) for o in options]
        if sum(weights) <= 0:
            weights = [1.0] * len(options)
        return rng.choices(options, weights=weights, k=1)[0]

    def collate_targets(self, batch: Batch, targets: List[Dict[str, Any]]) -> None:
        batch.captions = [t["caption"] if self.normalize is None else self.normalize(t["caption"]) for t in targets]
        batch.styles = [t["style"] for t in targets]
        batch.domains = [t["domain"] for t in targets]
        batch.tokens, batch.token_lens = tokenize(self.tokenizer, batch.captions, self.conf.max_caption_tokens)


def tokenize(tokenizer, captions: List[str], max_tokens: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Captions -> (tokens (B, L) int64 ``[bos] w.. [eos]`` padded with ``pad_id``, lengths (B,) int64)."""
    ids = [tokenizer.encode_with_specials(c, max_tokens) for c in captions]
    lens = torch.tensor([len(x) for x in ids], dtype=torch.long)
    tokens = torch.full((len(ids), int(lens.max())), tokenizer.pad_id, dtype=torch.long)
    for i, x in enumerate(ids):
        tokens[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    return tokens, lens


def _audio_path(cut) -> str:
    try:
        return ",".join("audio in memory (a Shar tar's)" if s.type == "memory" else str(s.source)
                        for s in cut.recording.sources)
    except Exception:
        return "?"


class SkipCounter:
    """Totals of skipped cuts by reason, across batches (and so across workers)."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.examples: Dict[str, List[str]] = {}

    def update(self, skipped) -> None:
        """Count ``(cut id, reason)`` pairs (e.g. ``Batch.skipped``)."""
        for cut_id, reason in skipped:
            self.counts[reason] += 1
            self.examples.setdefault(reason, [])
            if len(self.examples[reason]) < 5:
                self.examples[reason].append(cut_id)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, reason: str, count: int) -> None:
        """Count ``count`` clips skipped for ``reason`` without their ids (e.g. too_long at planning)."""
        if count:
            self.counts[reason] += count

    def summary(self) -> Dict[str, Any]:
        return {"total": self.total, "by_reason": dict(self.counts), "examples": self.examples}
