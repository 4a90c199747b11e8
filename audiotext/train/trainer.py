"""The one trainer: any Task, one process or torchrun, CPU or CUDA.

It knows nothing of audio or text: it asks the task for (loss, report), steps
AdamW with warmup + cosine, clips gradients, autocasts to bf16 where the device
supports it, logs to TensorBoard and a progress bar, validates periodically,
and writes atomic checkpoints that ``resume`` continues from.
"""
from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from tqdm import tqdm

from audiotext.data.dataset import SkipCounter
from audiotext.train import distributed
from audiotext.train.checkpoint import (latest_checkpoint, load_trainer_state, load_weights, save_checkpoint,
                                        write_latest)

log = logging.getLogger(__name__)


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    warmup_steps: int = 100
    min_lr_ratio: float = 0.02  # the cosine ends at lr * min_lr_ratio
    grad_clip: float = 1.0


@dataclass
class TrainerConfig:
    max_steps: int = 1000
    log_interval: int = 10
    valid_interval: int = 200  # steps; validation also runs at the end
    save_interval: int = 200
    keep_checkpoints: int = 2
    precision: str = "auto"  # auto (bf16 on CUDA when supported, else fp32) | fp32 | bf16
    seed: int = 0
    progress_bar: bool = True


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: torch.nn.Module, conf: OptimConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms, embeddings' positions and scalars."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "positions" in name else decay).append(p)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": conf.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=conf.lr, betas=(conf.beta1, conf.beta2), eps=conf.eps,
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> Dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state["numpy"] = [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss]
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _scalar(v: Any) -> float:
    return float(v.detach().float().item()) if torch.is_tensor(v) else float(v)


class Trainer:
    def __init__(self, task: torch.nn.Module, exp_dir: str, optim: OptimConfig, conf: TrainerConfig,
                 device: torch.device, checkpoint_files: Optional[Dict[str, Path]] = None):
        self.task = task.to(device)
        self.exp_dir = Path(exp_dir)
        self.ckpt_root = self.exp_dir / "checkpoints"
        self.optim_conf = optim
        self.conf = conf
        self.device = device
        self.checkpoint_files = checkpoint_files or {}  # files every checkpoint dir carries (config, tokenizer)
        self.model = task
        if distributed.world_size() > 1:
            self.model = torch.nn.parallel.DistributedDataParallel(
                task, device_ids=[device.index] if device.type == "cuda" else None)
        self.optimizer = build_optimizer(task, optim)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: warmup_cosine(s, optim.warmup_steps, conf.max_steps, optim.min_lr_ratio))
        self.step = 0
        self.epoch = 0
        self.best_valid = math.inf
        self.skips = SkipCounter()
        self.writer = None
        self._pending_sampler_state = None
        if distributed.is_main():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.exp_dir / "tensorboard"))

    # ---------------------------------------------------------------- precision
    def autocast(self):
        precision = self.conf.precision
        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"trainer.precision: {precision!r} is not one of auto, fp32, bf16")
        if precision == "auto":
            use_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        else:
            use_bf16 = precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()

    # ---------------------------------------------------------------- resume
    def resume(self) -> bool:
        path = latest_checkpoint(self.ckpt_root)
        if path is None:
            return False
        load_weights(self.task, path)
        state = load_trainer_state(path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.best_valid = state["step"], state["epoch"], state["best_valid"]
        self.skips.counts.update(state.get("skipped", {}))
        _set_rng_state(state["rng"])
        if state.get("sampler") is not None:  # applied to the first sampler fit() makes
            self._pending_sampler_state = state["sampler"]
        log.info("resumed from %s at step %d", path, self.step)
        return True

    def save(self, sampler=None, name: Optional[str] = None) -> Optional[Path]:
        if not distributed.is_main():
            return None
        name = name or f"step-{self.step:08d}"
        state = {
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "step": self.step, "epoch": self.epoch, "best_valid": self.best_valid,
            "skipped": dict(self.skips.counts), "rng": _rng_state(),
            "sampler": sampler.state_dict() if sampler is not None else None,
        }
        path = save_checkpoint(self.ckpt_root / name, self.task, state, self.checkpoint_files)
        if name.startswith("step-"):
            write_latest(self.ckpt_root, name)
            steps = sorted(p for p in self.ckpt_root.glob("step-*") if p.is_dir() and not p.name.endswith((".tmp", ".old")))
            for old in steps[: -self.conf.keep_checkpoints]:
                if old.name != name:
                    shutil.rmtree(old)
        return path

    # ---------------------------------------------------------------- loop
    def _batch_to_device(self, batch):
        return {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}

    def _all_ranks_have_data(self, batch) -> bool:
        flag = torch.tensor([1.0 if batch.get("num_cuts", 0) > 0 else 0.0], device=self.device)
        if distributed.is_distributed():
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
        return bool(flag.item() > 0)

    def fit(self, make_train_loader: Callable[[int], Any], valid_loader: Optional[Any] = None) -> Dict[str, Any]:
        """``make_train_loader() -> (loader, sampler)``; trains until ``max_steps``.

        The loader is made once: its workers persist across epochs and the sampler
        reshuffles on ``set_epoch`` (a new loader per epoch cost seconds each time)."""
        conf = self.conf
        start = time.time()
        bar = tqdm(total=conf.max_steps, initial=self.step, disable=not (conf.progress_bar and distributed.is_main()),
                   desc="train", dynamic_ncols=True)
        sums: Dict[str, float] = defaultdict(float)
        count = 0
        last_valid: Dict[str, float] = {}
        audio_seconds = 0.0
        loader, sampler = make_train_loader()
        while self.step < conf.max_steps:
            sampler.set_epoch(self.epoch)
            # a checkpoint taken at the end of an epoch resumes into an exhausted sampler
            resumed_mid_epoch = self._resume_sampler_state(sampler)
            batches_this_epoch = 0
            for batch in loader:
                batches_this_epoch += 1
                self.skips.update(batch)
                if not self._all_ranks_have_data(batch):
                    continue
                batch = self._batch_to_device(batch)
                self.model.train()
                with self.autocast():
                    loss, report = self.model(batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss {loss.item()} at step {self.step}")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.task.parameters(), self.optim_conf.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                audio_seconds += float(batch["feature_lens"].sum()) / 100.0
                for k, v in report.items():
                    sums[k] += _scalar(v)
                sums["grad_norm"] += _scalar(grad_norm)
                count += 1
                if self.step % conf.log_interval == 0 or self.step == conf.max_steps:
                    means = {k: v / count for k, v in sums.items()}
                    means["lr"] = self.scheduler.get_last_lr()[0]
                    self._log("train", means)
                    bar.set_postfix(loss=f"{means.get('loss', float('nan')):.3f}", lr=f"{means['lr']:.2e}")
                    sums, count = defaultdict(float), 0
                bar.update(1)
                if valid_loader is not None and (self.step % conf.valid_interval == 0 or self.step == conf.max_steps):
                    last_valid = self.validate(valid_loader, sampler)
                if self.step % conf.save_interval == 0 or self.step == conf.max_steps:
                    self.save(sampler)
                if self.step >= conf.max_steps:
                    break
            else:
                if batches_this_epoch == 0 and not resumed_mid_epoch:
                    raise RuntimeError(
                        f"epoch {self.epoch} produced no batches: the training set is smaller than one "
                        "batch per bucket (lower data.max_duration or data.num_buckets)")
                self.epoch += 1
        bar.close()
        if valid_loader is None:
            self.save(name="best")
        summary = {
            "steps": self.step, "epochs": self.epoch, "wall_seconds": round(time.time() - start, 1),
            "audio_hours_seen": round(audio_seconds / 3600.0, 3), "best_valid_loss": self.best_valid,
            "last_valid": last_valid, "skipped_audio": self.skips.summary(),
        }
        if distributed.is_main():
            (self.exp_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
            if self.skips.total:
                log.warning("skipped %d unusable clips: %s", self.skips.total, dict(self.skips.counts))
        if self.writer is not None:
            self.writer.close()
        return summary

    def _resume_sampler_state(self, sampler) -> bool:
        if self._pending_sampler_state is None:
            return False
        sampler.load_state_dict(self._pending_sampler_state)
        self._pending_sampler_state = None
        return True

    @torch.no_grad()
    def validate(self, loader, train_sampler=None) -> Dict[str, float]:
        self.model.eval()
        sums: Dict[str, float] = defaultdict(float)
        weight = 0
        for batch in loader:
            self.skips.update(batch)
            if batch.get("num_cuts", 0) == 0:
                continue
            batch = self._batch_to_device(batch)
            with self.autocast():
                _, report = self.task(batch)
            n = batch["num_cuts"]
            for k, v in report.items():
                sums[k] += _scalar(v) * n
            weight += n
        totals = torch.tensor([weight] + [sums[k] for k in sorted(sums)], dtype=torch.float64, device=self.device)
        totals = distributed.all_reduce_sum(totals)
        means = {k: float(totals[i + 1] / max(1.0, float(totals[0]))) for i, k in enumerate(sorted(sums))}
        self._log("valid", means)
        if means and means.get("loss", math.inf) < self.best_valid:
            self.best_valid = means["loss"]
            self.save(train_sampler, name="best")
        return means

    def _log(self, split: str, values: Dict[str, float]) -> None:
        if not distributed.is_main():
            return
        for k, v in values.items():
            if self.writer is not None:
                self.writer.add_scalar(f"{split}/{k}", v, self.step)
        text = " ".join(f"{k}={v:.4g}" for k, v in sorted(values.items()))
        log.info("step %d %s: %s", self.step, split, text)
