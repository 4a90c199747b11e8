"""Optimizer and learning-rate scheduler registries.

YAML, ESPnet style: ``optim: adamw`` + ``optim_conf: {...}``, ``scheduler: warmup_cosine`` +
``scheduler_conf: {...}``. An optimizer is a ``torch.optim.Optimizer`` subclass built as
``cls(conf, model)`` (it chooses its parameter groups); a scheduler an ``LRScheduler`` subclass
built as ``cls(conf, optimizer, max_steps)`` and stepped once per optimizer step. Both are built
after the model is wrapped for distributed training (FSDP2 replaces the parameters).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from audiotext.registry import Registry

OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry("optimizer", torch.optim.Optimizer)
SCHEDULERS: Registry[LRScheduler] = Registry("scheduler", LRScheduler)
register_optimizer = OPTIMIZERS.register
register_scheduler = SCHEDULERS.register


def decay_groups(model: torch.nn.Module, weight_decay: float):
    """Parameter groups: weight decay on matrices, none on biases, norms, scalars and positions."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "positions" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@register_optimizer("adamw")
class AdamW(torch.optim.AdamW):
    """torch's AdamW (Loshchilov & Hutter 2019) over :func:`decay_groups`."""

    @dataclass
    class Config:
        lr: float = 1e-3
        weight_decay: float = 0.05
        beta1: float = 0.9
        beta2: float = 0.98
        eps: float = 1e-8

    def __init__(self, conf: "AdamW.Config", model: torch.nn.Module):
        super().__init__(decay_groups(model, conf.weight_decay), lr=conf.lr, betas=(conf.beta1, conf.beta2),
                         eps=conf.eps)


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Learning-rate factor at ``step``: linear warmup to 1 over ``warmup`` steps, then a cosine to
    ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


@register_scheduler("warmup_cosine")
class WarmupCosine(LambdaLR):
    @dataclass
    class Config:
        warmup_steps: int = 100
        min_lr_ratio: float = 0.02  # the cosine ends at lr * min_lr_ratio

    def __init__(self, conf: "WarmupCosine.Config", optimizer: torch.optim.Optimizer, max_steps: int):
        super().__init__(optimizer, lambda s: warmup_cosine(s, conf.warmup_steps, max_steps, conf.min_lr_ratio))


def _is_dtensor(t: torch.Tensor) -> bool:
    return type(t).__name__ == "DTensor"


def _local(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of a DTensor (FSDP2's shard; in-place changes reach the DTensor), else ``t``."""
    return t.to_local() if _is_dtensor(t) else t


def _full(t: torch.Tensor) -> torch.Tensor:
    """A reduction over a DTensor as a plain tensor, the same on every rank (a collective)."""
    return t.full_tensor() if _is_dtensor(t) else t


def _tensor_rms(p: torch.Tensor) -> torch.Tensor:
    # a sum over the shards then / numel: a mean of uneven shards' means would be wrong
    return (_full(p.detach().float().pow(2).sum()) / p.numel()).sqrt()


@register_optimizer("scaled_adam")
class ScaledAdam(torch.optim.Optimizer):
    """ScaledAdam (Yao et al., "Zipformer: a faster and better encoder for automatic speech
    recognition", ICLR 2024, arXiv:2310.11230, its ScaledAdam section; icefall's
    ``egs/librispeech/ASR/zipformer/optim.py`` is the published code).

    Each parameter tensor ``p`` (more than one element) moves, per step, by

    * ``-lr * clamp(rms(p), param_min_rms, param_max_rms) * g / (sqrt(v) + eps)``: Adam's
      normalised direction (second moment ``v`` with ``beta2``, bias-corrected) times the tensor's
      RMS, so the change is relative to the tensor's scale: ``p`` and ``100 p`` change by the same
      fraction. The RMS is read from ``p`` at every step (the toolkit refreshes it once per
      ``size_update_period``); ``v`` is always bias-corrected (the toolkit stops once the
      correction is under 1 %).
    * every ``size_update_period`` steps, ``p * s``: the learned change of the tensor's scale. With
      ``p = exp(a) p'``, ``dL/da = sum(p * g)``; those sums over the period are the gradient of a
      scalar ``a`` that Adam (its own second moment, ``beta2 ** size_update_period`` per update)
      moves at ``lr * scalar_lr_scale``; ``s`` is clamped to +-0.1 per update, is never negative
      while ``rms(p) < param_min_rms`` and never takes ``rms(p)`` above ``param_max_rms``.

    Both are summed, then smoothed by momentum (``beta1``, without bias correction: the first steps
    are smaller, which the toolkit keeps for stability) and added to ``p``. Scalars (one element) move
    by plain Adam at ``lr * scalar_lr_scale`` with the same momentum, then are clamped to
    ``+-scalar_max``.

    There is no weight decay: the learned scale (bounded by ``param_min_rms``/``param_max_rms``)
    takes its place, as in the paper.

    Gradient clipping (``clipping_scale > 0``): the norm of the gradients as they act on the update
    (each tensor's gradient times its clamped RMS, a scalar's times ``scalar_lr_scale``) is
    recorded every step; when it exceeds ``clipping_scale`` times the median of the norms of the
    last ``clipping_update_period`` steps (this one included; the lower median of an even count),
    every gradient is scaled down in place so that it equals that threshold. ``clip_stats`` tells
    how often that happened. The toolkit recomputes the threshold only every period (and doubles
    it at its first estimates); here it is the median of the window at every step. With this
    optimizer set ``trainer.grad_clip: 0`` (the trainer's fixed-norm clipping would distort the
    median; the trainer refuses it otherwise, and logs this optimizer's norm as ``grad_norm``). A step whose gradient norm is not finite changes nothing and is counted
    (``clip_stats()["nonfinite_steps"]``).

    State: tensors in the parameter's dtype, step counters and counts as Python ints, so
    ``state_dict`` survives ``torch.save`` / ``torch.load(weights_only=True)`` and a resumed run
    continues bit for bit. The clipping window lives in the state of the first parameter.
    FSDP2's sharded (DTensor) parameters: the RMS, the scale gradients and the clipping norm are
    reduced over the whole tensor (collectives, the same on every rank), the elementwise work is
    done on each rank's shard, and the moments are DTensors sharded like their parameter.
    """

    @dataclass
    class Config:
        lr: float = 0.045
        beta1: float = 0.9  # momentum of the whole update
        beta2: float = 0.98  # second moment of the gradients (and, per period, of the scale gradients)
        eps: float = 1e-8
        clipping_scale: float = 2.0  # clip to this times the median recent norm; 0 disables
        clipping_update_period: int = 100  # steps in the median's window
        scalar_lr_scale: float = 0.1  # lr factor of scalars and of each tensor's learned scale
        param_min_rms: float = 1e-5
        param_max_rms: float = 3.0
        scalar_max: float = 10.0  # scalars are clamped to +-this
        size_update_period: int = 4  # steps between updates of each tensor's scale

    clips_gradients = True  # the trainer leaves clipping to it (trainer.grad_clip must be 0)

    def __init__(self, conf: "ScaledAdam.Config", model: torch.nn.Module):
        if not conf.lr > 0:
            raise ValueError(f"optim_conf.lr must be > 0, got {conf.lr}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(conf, name) < 1.0:
                raise ValueError(f"optim_conf.{name} must be in [0, 1), got {getattr(conf, name)}")
        if not 0 < conf.param_min_rms < conf.param_max_rms:
            raise ValueError(f"optim_conf: need 0 < param_min_rms < param_max_rms, got {conf.param_min_rms} "
                             f"and {conf.param_max_rms}")
        for name in ("size_update_period", "clipping_update_period"):
            if getattr(conf, name) < 1:
                raise ValueError(f"optim_conf.{name} must be >= 1, got {getattr(conf, name)}")
        if conf.clipping_scale < 0:
            raise ValueError(f"optim_conf.clipping_scale must be >= 0 (0 disables), got {conf.clipping_scale}")
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("ScaledAdam: the model has no trainable parameters")
        defaults = dict(lr=conf.lr, betas=(conf.beta1, conf.beta2), eps=conf.eps, clipping_scale=conf.clipping_scale,
                        clipping_update_period=conf.clipping_update_period, scalar_lr_scale=conf.scalar_lr_scale,
                        param_min_rms=conf.param_min_rms, param_max_rms=conf.param_max_rms,
                        scalar_max=conf.scalar_max, size_update_period=conf.size_update_period)
        super().__init__([{"params": params}], defaults)

    # ---------------------------------------------------------------- clipping
    def _first(self) -> torch.Tensor:
        return self.param_groups[0]["params"][0]

    def clip_stats(self) -> dict:
        """``steps`` taken, ``clipped`` (steps whose gradients were scaled down), ``nonfinite_steps``
        (skipped), and the last step's ``grad_norm`` (before clipping) and ``threshold``."""
        s = self.state[self._first()]
        return {"steps": s.get("clip_steps", 0), "clipped": s.get("num_clipped", 0),
                "nonfinite_steps": s.get("num_nonfinite", 0), "grad_norm": s.get("last_grad_norm", 0.0),
                "threshold": s.get("last_threshold", 0.0)}

    def _rms(self, p: torch.Tensor, group) -> torch.Tensor:
        return _tensor_rms(p).clamp(group["param_min_rms"], group["param_max_rms"])

    def _clip_factor(self, with_grad) -> float:
        """Records this step's normalised gradient norm; returns the factor the gradients are to be
        scaled by (1: unclipped; 0: not finite, skip the step)."""
        s = self.state[self._first()]
        group0 = self.param_groups[0]
        period = group0["clipping_update_period"]
        sumsq = torch.zeros((), dtype=torch.float64, device=self._first().device)
        for group, p in with_grad:
            g = p.grad.detach().double()
            weight = group["scalar_lr_scale"] if p.numel() == 1 else self._rms(p, group).double()
            sumsq = sumsq + _full(g.pow(2).sum()) * weight ** 2
        norm = float(sumsq.sqrt())
        if "clip_steps" not in s:
            # every key from the start, the window at its full length: FSDP2's state loading matches
            # the saved state key by key (list items too) against one this optimizer has made
            s.update(clip_steps=0, num_clipped=0, num_nonfinite=0, last_grad_norm=0.0, last_threshold=0.0,
                     recent_norms=[0.0] * period, recent_count=0)
        s["clip_steps"] += 1
        s["last_grad_norm"] = norm
        if not math.isfinite(norm):
            s["num_nonfinite"] += 1
            return 0.0
        # the window: a ring of the last `period` norms as Python floats (float64, and not cast to the
        # parameters' dtype when the state is loaded, so a resumed run's median is the same)
        count = s["recent_count"]
        s["recent_norms"][count % period] = norm
        s["recent_count"] = count + 1
        window = sorted(s["recent_norms"][:min(count + 1, period)])
        threshold = group0["clipping_scale"] * window[(len(window) - 1) // 2]
        s["last_threshold"] = threshold
        if group0["clipping_scale"] > 0 and norm > threshold:
            s["num_clipped"] += 1
            return threshold / norm
        return 1.0

    # ---------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with_grad = [(g, p) for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not with_grad:
            return loss
        for _, p in with_grad:
            if p.grad.is_sparse:
                raise RuntimeError("ScaledAdam does not support sparse gradients")
        factor = self._clip_factor(with_grad)
        if factor == 0.0:
            return loss  # a non-finite gradient: this step changes nothing
        if factor < 1.0:
            for _, p in with_grad:
                p.grad.mul_(factor)
        for group, p in with_grad:
            self._update(group, p, self.state[p])
        return loss

    def _update(self, group, p: torch.Tensor, state) -> None:
        beta1, beta2 = group["betas"]
        lr, eps = group["lr"], group["eps"]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["momentum"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if p.numel() > 1:
                state["scale_grads"] = torch.zeros(group["size_update_period"], dtype=p.dtype, device=p.device)
                # shape (1,), not 0-dim: torch's FSDP2 state loading moves 0-dim tensors to the CPU
                state["scale_exp_avg_sq"] = torch.zeros(1, dtype=p.dtype, device=p.device)
        step = state["step"]
        scale_grad = _full((p * p.grad).sum()) if p.numel() > 1 else None  # dL/d(log scale), before p moves
        g, v = _local(p.grad), _local(state["exp_avg_sq"])
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        direction = g / (v / (1 - beta2 ** (step + 1))).sqrt().add_(eps)
        if p.numel() == 1:
            delta = direction.mul_(-lr * group["scalar_lr_scale"])
        else:
            rms = self._rms(p, group).to(p.dtype)
            delta = direction.mul_(rms).mul_(-lr)
            period = group["size_update_period"]
            state["scale_grads"][step % period] = scale_grad
            if step % period == period - 1:
                delta.add_(_local(p) * self._scale_step(group, p, state, step // period + 1))
        m = _local(state["momentum"])
        m.mul_(beta1).add_(delta, alpha=1 - beta1)
        local = _local(p)
        local.add_(m)
        if p.numel() == 1:
            local.clamp_(-group["scalar_max"], group["scalar_max"])
        state["step"] = step + 1

    def _scale_step(self, group, p: torch.Tensor, state, updates: int) -> torch.Tensor:
        """The relative change of ``p``'s scale at the ``updates``-th scale update (shape (1,))."""
        beta2 = group["betas"][1] ** group["size_update_period"]  # one update per period
        grads = state["scale_grads"]
        v = state["scale_exp_avg_sq"]
        v.mul_(beta2).add_(grads.pow(2).mean(), alpha=1 - beta2)
        v_hat = v / (1 - beta2 ** updates)
        s = -group["lr"] * group["scalar_lr_scale"] * grads.sum() / (v_hat.sqrt() + group["eps"])
        s = s.clamp(-0.1, 0.1)  # a bounded step either way, for stability
        rms = _tensor_rms(p).to(p.dtype)
        if rms < group["param_min_rms"]:
            s = s.clamp(min=0.0)  # too small already: may grow, not shrink
        # never past param_max_rms: (1 + s) rms <= param_max_rms
        return torch.minimum(s, (group["param_max_rms"] - rms) / rms)


def eden_factor(step: float, epoch: float, lr_batches: float, lr_epochs: float, warmup_batches: float,
                warmup_start: float) -> float:
    """Eden's learning-rate factor (Yao et al. 2024; icefall's ``Eden``): decays as step^-0.5 past
    ``lr_batches`` steps and epoch^-0.5 past ``lr_epochs`` epochs, times a linear warmup from
    ``warmup_start`` to 1 over ``warmup_batches`` steps."""
    factor = ((step ** 2 + lr_batches ** 2) / lr_batches ** 2) ** -0.25 * \
        ((epoch ** 2 + lr_epochs ** 2) / lr_epochs ** 2) ** -0.25
    warmup = 1.0 if step >= warmup_batches else warmup_start + (1.0 - warmup_start) * step / warmup_batches
    return factor * warmup


@register_scheduler("eden")
class Eden(LRScheduler):
    """Eden (see :func:`eden_factor`), usually with ``scaled_adam``. The step is the number of
    optimizer steps taken; the epoch is the trainer's (0 in the first epoch), which it passes with
    ``set_epoch`` at every epoch boundary. Both are in ``state_dict``, so a resume is exact.
    ``max_steps`` is not used: Eden has no end."""

    @dataclass
    class Config:
        lr_batches: float = 7500.0  # steps after which the lr falls markedly (as step^-0.5)
        lr_epochs: float = 3.5  # epochs after which the lr falls markedly (as epoch^-0.5)
        warmup_batches: float = 500.0  # steps of linear warmup
        warmup_start: float = 0.5  # the warmup's first factor

    def __init__(self, conf: "Eden.Config", optimizer: torch.optim.Optimizer, max_steps: int = 0):
        if conf.lr_batches <= 0 or conf.lr_epochs <= 0:
            raise ValueError(f"scheduler_conf: lr_batches and lr_epochs must be > 0, got {conf.lr_batches} "
                             f"and {conf.lr_epochs}")
        if conf.warmup_batches < 0 or not 0.0 <= conf.warmup_start <= 1.0:
            raise ValueError(f"scheduler_conf: need warmup_batches >= 0 and 0 <= warmup_start <= 1, got "
                             f"{conf.warmup_batches} and {conf.warmup_start}")
        # plain numbers, not the Config: state_dict() saves __dict__, read back with weights_only=True
        self.lr_batches, self.lr_epochs = float(conf.lr_batches), float(conf.lr_epochs)
        self.warmup_batches, self.warmup_start = float(conf.warmup_batches), float(conf.warmup_start)
        self.train_epoch = 0
        super().__init__(optimizer)

    def factor(self) -> float:
        return eden_factor(self.last_epoch, self.train_epoch, self.lr_batches, self.lr_epochs, self.warmup_batches,
                           self.warmup_start)

    def get_lr(self):
        return [base * self.factor() for base in self.base_lrs]

    def set_epoch(self, epoch: int) -> None:
        """The trainer's epoch (from 0); the learning rates change at once."""
        self.train_epoch = int(epoch)
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr
