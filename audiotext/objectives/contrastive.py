"""CLAP-style contrastive objective: audio and caption embeddings in one space, trained with
symmetric InfoNCE (CLIP, Radford et al. 2021) or the pairwise sigmoid loss (SigLIP, Zhai et
al. 2023, "Sigmoid Loss for Language Image Pre-Training")."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from audiotext.models.pooling import POOLINGS
from audiotext.models.text_encoders import TEXT_ENCODERS
from audiotext.objectives.base import Objective, ObjectiveContext, register_objective
from audiotext.train import distributed

LOSSES = ("infonce", "sigmoid")
# the published defaults when `temperature` is not set: CLIP/CLAP's 0.07 for InfoNCE,
# SigLIP's logit scale init of 10 (temperature 0.1) for the sigmoid loss
DEFAULT_TEMPERATURE = {"infonce": 0.07, "sigmoid": 0.1}
class ProjectionHead(nn.Sequential):
    """Two-layer MLP projection into the shared space (as in CLAP)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))


def _rank_offset(n: int, device) -> Tuple[int, int, int]:
    """(index of this rank's first row in the global batch, global rows, number of ranks)."""
    sizes = distributed.all_gather_sizes(n, device)
    return sum(sizes[: distributed.rank()]), sum(sizes), len(sizes)


def contrastive_loss(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) for the local rows against the global batch.

    ``audio``, ``text``: (n, E) float, this rank's L2-normalised embeddings, row i of one
    paired with row i of the other; ``logit_scale``: 0-d, the multiplier of the cosine
    similarities (1 / temperature, not its log). Returns a 0-d loss.

    Under torchrun the other ranks' rows are gathered with gradients, each rank scores its
    own rows against all, and DDP's gradient averaging then gives the gradient of the
    global-batch loss (each rank's loss is weighted by its share of rows, as
    duration-bucketed batches differ in size). In one process this is the plain global
    loss: mean over rows i of 0.5 (CE(s a_i·Tᵀ, i) + CE(s t_i·Aᵀ, i)).
    """
    all_audio = distributed.gather_with_grad(audio)
    all_text = distributed.gather_with_grad(text)
    offset, total, world = _rank_offset(audio.shape[0], audio.device)
    targets = torch.arange(audio.shape[0], device=audio.device) + offset
    logits_a2t = logit_scale * audio @ all_text.t()
    logits_t2a = logit_scale * text @ all_audio.t()
    loss = 0.5 * (F.cross_entropy(logits_a2t, targets) + F.cross_entropy(logits_t2a, targets))
    # DDP averages gradients over ranks; weighting by this rank's share of rows makes
    # that average the global-batch mean even when ranks hold different numbers of rows
    return loss * (audio.shape[0] * world / total)


def sigmoid_loss_sum(audio: torch.Tensor, all_text: torch.Tensor, logit_scale: torch.Tensor,
                     logit_bias: torch.Tensor, offset: int) -> torch.Tensor:
    """Summed SigLIP loss of the local audio rows against every text row (Zhai et al. 2023, eq. 1).

    ``audio``: (n, E) this rank's rows, global rows ``offset .. offset + n - 1``;
    ``all_text``: (N, E) the global batch's text rows; ``logit_scale`` (the multiplier, not
    its log) and ``logit_bias``: 0-d. With z_ij = +1 for the pair (j = offset + i) and -1
    otherwise, returns the 0-d sum over i, j of -log σ(z_ij (s a_i·t_j + b)). Raises
    ValueError when the local rows do not fit inside ``all_text``.
    """
    n, total = audio.shape[0], all_text.shape[0]
    if offset < 0 or offset + n > total:
        raise ValueError(f"rows {offset}..{offset + n - 1} are outside the {total} text rows")
    logits = logit_scale * audio @ all_text.t() + logit_bias
    labels = torch.full_like(logits, -1.0)
    rows = torch.arange(n, device=audio.device)
    labels[rows, rows + offset] = 1.0
    return -F.logsigmoid(labels * logits).sum()


def sigmoid_loss(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
                 logit_bias: torch.Tensor) -> torch.Tensor:
    """SigLIP loss for the local rows against the global batch (Zhai et al. 2023).

    ``audio``, ``text``: (n, E) this rank's L2-normalised, row-paired embeddings;
    ``logit_scale`` (multiplier) and ``logit_bias``: 0-d. Returns a 0-d loss: in one process
    -Σ_ij log σ(z_ij (s a_i·t_j + b)) / N over the N rows (z = +1 on the diagonal, -1 off it).

    Under torchrun the text rows of every rank are gathered with gradients and each rank
    scores its own audio rows against all of them, so every pair of the global batch is
    scored exactly once across ranks (the paper's chunked form needs no second direction:
    the loss is symmetric in the pairs). Each rank's sum is divided by N / world, so DDP's
    gradient average is the gradient of the global-batch loss, with unequal rows per rank too.
    """
    all_text = distributed.gather_with_grad(text)
    offset, total, world = _rank_offset(audio.shape[0], audio.device)
    return sigmoid_loss_sum(audio, all_text, logit_scale, logit_bias, offset) * (world / total)


def _shared_scalar(rows: torch.Tensor) -> torch.Tensor:
    """The value every element of ``rows`` (B, 1) holds, as a 0-d tensor whose gradient
    goes 1/B to each row.

    A scalar parameter travels through the embedding cache as one copy per row: when
    gradient accumulation splices live rows of one micro-batch among cached (detached)
    rows, that micro-batch gets its share of the scalar's gradient, and the shares of all
    micro-batches add up to the gradient once (open_clip passes the scalar itself and so
    counts its gradient once per micro-batch). The value is exactly the first row's, not a
    rounded mean.
    """
    return rows[0, 0].detach() + (rows - rows.detach()).sum() / rows.shape[0]


@register_objective("contrastive")
class ContrastiveObjective(Objective):
    """Audio and caption embeddings in one space (retrieval, similarity zero-shot).

    Audio frames (B, T, D) and caption states are pooled, projected by an MLP to
    ``embed_dim`` and L2-normalised; the loss is symmetric InfoNCE (``loss: infonce``) or
    SigLIP's sigmoid loss with a learned bias (``loss: sigmoid``), over the global batch.

    The temperature is fixed by default (0.07 for InfoNCE, as CLIP and CLAP publish; 0.1,
    i.e. logit scale 10, SigLIP's init, for sigmoid). With ``learn_temperature: true`` the
    log logit scale is a parameter, unclamped in forward (a clamp there zeroes its gradient
    once at the cap) and clamped to [0, log max_logit_scale] by ``after_optimizer_step``
    (CLIP, open_clip).

    ``supports_embedding_cache``: forward = ``loss_from_embeddings(embeddings(...))``, so a
    trainer can accumulate gradients over micro-batches exactly (open_clip's ``accum_freq``).
    """

    capabilities = frozenset({"retrieval"})
    supports_embedding_cache = True

    @dataclass
    class Config:
        embed_dim: int = 256
        audio_pooling: str = "mean"
        audio_pooling_conf: Dict[str, Any] = field(default_factory=dict)
        text_pooling: str = "mean"
        loss: str = "infonce"  # infonce | sigmoid
        # null: the loss's published value (infonce 0.07, sigmoid 0.1); fixed unless learned
        temperature: Optional[float] = None
        learn_temperature: bool = False
        max_logit_scale: float = 100.0  # CLIP's cap on a learned scale: temperature never below 0.01
        sigmoid_bias_init: float = -10.0  # SigLIP's init of the learned bias (loss: sigmoid only)

    def __init__(self, conf: "ContrastiveObjective.Config", ctx: ObjectiveContext):
        super().__init__()
        if conf.loss not in LOSSES:
            raise ValueError(f"contrastive objective: loss must be one of {', '.join(LOSSES)}, got {conf.loss!r}")
        temperature = DEFAULT_TEMPERATURE[conf.loss] if conf.temperature is None else conf.temperature
        if not temperature > 0:
            raise ValueError(f"contrastive objective: temperature must be > 0, got {temperature}")
        if conf.learn_temperature and not 1.0 <= 1.0 / temperature <= conf.max_logit_scale:
            # the first clamp would silently move a learned scale that starts outside its range
            raise ValueError(f"contrastive objective: a learned temperature must start in "
                             f"[1/max_logit_scale, 1] = [{1.0 / conf.max_logit_scale:g}, 1], got {temperature}")
        self.conf = conf
        self.text_encoder = TEXT_ENCODERS.build(
            ctx.text_encoder, ctx.text_encoder_conf, vocab_size=ctx.vocab_size, pad_id=ctx.pad_id,
            where="text_encoder_conf",
        )
        self.audio_pool = POOLINGS.build(conf.audio_pooling, conf.audio_pooling_conf, ctx.audio_dim,
                                         where="objective_conf.audio_pooling_conf")
        self.text_pool = POOLINGS.build(conf.text_pooling, {}, self.text_encoder.output_dim)
        self.audio_proj = ProjectionHead(ctx.audio_dim, conf.embed_dim)
        self.text_proj = ProjectionHead(self.text_encoder.output_dim, conf.embed_dim)
        # log of the multiplier, as in CLIP; a parameter even when fixed so checkpoints keep one layout.
        # Shape (1,), not 0-d: FSDP2 shards no scalar parameters
        self.logit_scale = nn.Parameter(torch.full((1,), math.log(1.0 / temperature)),
                                        requires_grad=conf.learn_temperature)
        self.logit_bias = (nn.Parameter(torch.full((1,), float(conf.sigmoid_bias_init)))
                           if conf.loss == "sigmoid" else None)

    def scale(self) -> torch.Tensor:
        """0-d: the multiplier of the cosine similarities, exp(logit_scale) = 1 / temperature."""
        return self.logit_scale[0].exp()

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Clamp a learned log logit scale in place to [0, log max_logit_scale] (CLIP, open_clip)."""
        if self.logit_scale.requires_grad:
            self.logit_scale.clamp_(0.0, math.log(self.conf.max_logit_scale))

    def embed_audio(self, frames, frame_lens):
        """frames (B, T, D) float, frame_lens (B,) int64 -> (B, embed_dim), unit L2 norm."""
        return F.normalize(self.audio_proj(self.audio_pool(frames, frame_lens)), dim=-1)

    def embed_text(self, tokens, token_lens, texts=None):
        """tokens (B, L) int64, token_lens (B,) int64, texts: raw captions (for text encoders
        with their own tokenizer) -> (B, embed_dim), unit L2 norm."""
        hidden, lens = self.text_encoder(tokens, token_lens, texts)
        return F.normalize(self.text_proj(self.text_pool(hidden, lens)), dim=-1)

    def embeddings(self, frames: torch.Tensor, frame_lens: torch.Tensor, batch: Any) -> Dict[str, torch.Tensor]:
        """Row-aligned tensors of one (micro-)batch, everything the loss reads.

        frames (B, T, D) float, frame_lens (B,) int64; ``batch`` (a :class:`~audiotext.data.batch.Batch`)
        has ``tokens`` (B, L) int64, ``token_lens`` (B,) int64 and ``captions`` (B strings, read
        by text encoders that tokenize themselves). Returns {"audio": (B, E), "text": (B, E)}
        unit-norm embeddings,
        "logit_scale": (B, 1) the log logit scale repeated per row, and for ``loss: sigmoid``
        "logit_bias": (B, 1). Every value has B rows, so micro-batches concatenate along dim 0.
        """
        audio = self.embed_audio(frames, frame_lens)
        text = self.embed_text(batch.tokens, batch.token_lens, batch.captions or None)
        rows = audio.shape[0]
        emb = {"audio": audio, "text": text, "logit_scale": self.logit_scale.reshape(1, 1).expand(rows, 1)}
        if self.logit_bias is not None:
            emb["logit_bias"] = self.logit_bias.reshape(1, 1).expand(rows, 1)
        return emb

    def loss_from_embeddings(self, emb: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, Any]]:
        """The loss over all rows of ``emb`` (as ``embeddings`` returns, possibly several
        micro-batches concatenated), gathered across ranks under torchrun.

        Returns (0-d float32 loss, report) with report keys "loss", "logit_scale" (the
        multiplier), "acc_a2t_local" (audio→text top-1 among this rank's rows) and, for the
        sigmoid loss, "logit_bias".
        """
        audio, text = emb["audio"].float(), emb["text"].float()
        scale = _shared_scalar(emb["logit_scale"].float()).exp()
        report: Dict[str, Any] = {}
        if self.conf.loss == "sigmoid":
            bias = _shared_scalar(emb["logit_bias"].float())
            loss = sigmoid_loss(audio, text, scale, bias)
            report["logit_bias"] = bias.detach()
        else:
            loss = contrastive_loss(audio, text, scale)
        with torch.no_grad():
            acc = ((audio @ text.t()).argmax(-1) == torch.arange(len(audio), device=audio.device)).float().mean()
        report.update({"loss": loss.detach(), "logit_scale": scale.detach(), "acc_a2t_local": acc})
        return loss, report

    def forward(self, frames, frame_lens, batch):
        return self.loss_from_embeddings(self.embeddings(frames, frame_lens, batch))
