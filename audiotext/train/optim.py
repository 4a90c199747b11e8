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
