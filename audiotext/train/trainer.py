"""The one trainer: any Task, one process or torchrun (ddp or fsdp2), CPU or CUDA.

It knows nothing of audio or text: it asks the task for (loss, report), steps the registered
optimizer and scheduler (built after the model is wrapped), accumulates gradients over
micro-batches, clips them, autocasts to bf16 where the device supports it, logs to TensorBoard
and a progress bar, validates periodically, and writes checkpoints that ``resume`` continues from
exactly: a run killed at any moment and resumed ends with the same weights, bit for bit, as one
never interrupted (see docs/training.md, "What a resume restores").
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from tqdm import tqdm

from audiotext.config import ConfigError
from audiotext.data.dataset import SkipCounter
from audiotext.train import distributed
from audiotext.train.checkpoint import (RANK_STATE, STATE, WEIGHTS, begin_checkpoint, commit_checkpoint,
                                        latest_checkpoint, load_trainer_state, load_weights, write_checkpoint_file,
                                        write_latest, write_weights)
from audiotext.train.strategy import make_strategy

log = logging.getLogger(__name__)


@dataclass
class TrainerConfig:
    max_steps: int = 1000  # optimizer steps
    accum_grad: int = 1  # micro-batches (loader batches) per optimizer step
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    log_interval: int = 10
    valid_interval: int = 200  # steps; validation also runs at the end
    save_interval: int = 200
    keep_checkpoints: int = 2  # newest step-* checkpoints kept (>= 1); "best" is kept apart
    precision: str = "auto"  # auto (bf16 on CUDA when supported, else fp32) | fp32 | bf16
    seed: int = 0
    progress_bar: bool = True
    strategy: str = "ddp"  # ddp | fsdp2
    fsdp2_units: List[str] = field(default_factory=lambda: ["TransformerBlock"])  # class names sharded as units


class EmptyEpochError(RuntimeError):
    """An epoch gives the trainer nothing to train on (no batch, or every clip skipped)."""


def step_seed(seed: int, step: int, micro: int, rank: int) -> int:
    """The seed of the model's randomness (dropout, objective draws) in one micro-batch of a step."""
    return int(np.random.SeedSequence([seed, step, micro, rank, 1]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _scalar(v: Any) -> float:
    return float(v.detach().float().item()) if torch.is_tensor(v) else float(v)


class Trainer:
    def __init__(self, task: torch.nn.Module, exp_dir: str, exp, device: torch.device,
                 checkpoint_files: Optional[Dict[str, Path]] = None):
        from audiotext.train.optim import OPTIMIZERS, SCHEDULERS

        conf = exp.trainer
        if conf.keep_checkpoints < 1:
            raise ValueError(f"trainer.keep_checkpoints must be >= 1 (the newest is what --resume reads), "
                             f"got {conf.keep_checkpoints}")
        if conf.accum_grad < 1:
            raise ValueError(f"trainer.accum_grad must be >= 1, got {conf.accum_grad}")
        if conf.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"trainer.precision: {conf.precision!r} is not one of auto, fp32, bf16")
        self.task = task.to(device)
        self.exp_dir = Path(exp_dir)
        self.ckpt_root = self.exp_dir / "checkpoints"
        self.conf = conf
        self.device = device
        self.checkpoint_files = checkpoint_files or {}  # files every checkpoint dir carries (config, tokenizer)
        self.strategy = make_strategy(conf.strategy, conf.fsdp2_units)
        self.model = self.strategy.wrap(task, device)
        # built after wrapping: FSDP2 replaces the parameters with sharded ones
        self.optimizer = OPTIMIZERS.build(exp.optim, exp.optim_conf, self.model, where="optim_conf")
        if getattr(self.optimizer, "clips_gradients", False) and conf.grad_clip > 0:
            # two clippings in a row: the fixed norm would distort the optimizer's own threshold
            raise ConfigError(f"optim {exp.optim!r} clips gradients itself (optim_conf.clipping_scale); "
                              f"set trainer.grad_clip: 0 (it is {conf.grad_clip})")
        self.scheduler = SCHEDULERS.build(exp.scheduler, exp.scheduler_conf, self.optimizer, conf.max_steps,
                                          where="scheduler_conf")
        self.step = 0
        self.epoch = 0
        self.best_valid = math.inf
        self.skips = SkipCounter()  # training clips skipped
        self.valid_skips = SkipCounter()  # validation clips skipped, in the last validation
        self.writer = None
        self._data_state: Optional[Dict[str, Any]] = None
        self._data_placed = False
        self.audio_seconds = 0.0  # audio trained on, over every start of the run
        if distributed.is_main():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.exp_dir / "tensorboard"))

    # ---------------------------------------------------------------- precision
    def autocast(self):
        precision = self.conf.precision
        if precision == "auto":
            use_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        else:
            use_bf16 = precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()

    # ---------------------------------------------------------------- checkpoints
    def resume(self) -> bool:
        """Load the newest checkpoint (collective: every rank calls it); False when there is none."""
        from safetensors.torch import load_file

        path = latest_checkpoint(self.ckpt_root)
        if path is None:
            return False
        state = load_trainer_state(path)
        if state.get("world_size", 1) != distributed.world_size():
            raise ValueError(f"{path} was saved by {state.get('world_size', 1)} processes; this run has "
                             f"{distributed.world_size()} (resume with the same number)")
        if self.strategy.name == "ddp":
            load_weights(self.task, path)  # strict, with an error naming the file
        else:
            self.strategy.load_model_state(self.task, self.model, load_file(str(path / WEIGHTS)))
        self.strategy.load_optimizer_state(self.model, self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.best_valid = state["step"], state["epoch"], state["best_valid"]
        self.audio_seconds = state.get("audio_seconds", 0.0)
        mine = load_trainer_state(path, RANK_STATE.format(rank=distributed.rank()))
        self.skips.counts.update(mine["skipped"])
        self._data_state = mine["data"]
        log.info("resumed from %s at step %d", path, self.step)
        return True

    def save(self, data=None, name: Optional[str] = None) -> Optional[Path]:
        """Write a checkpoint (collective). Rank 0 writes the weights and optimizer state, every rank
        its own data position; the directory is renamed into place only when all are written."""
        name = name or f"step-{self.step:08d}"
        weights = self.strategy.model_state(self.task, self.model)
        optimizer = self.strategy.optimizer_state(self.model, self.optimizer)
        directory = self.ckpt_root / name
        tmp = directory.with_name(directory.name + ".tmp")
        if distributed.is_main():
            begin_checkpoint(directory)
        distributed.barrier()
        rank_state = {"data": data.state() if data is not None else None, "skipped": dict(self.skips.counts)}
        write_checkpoint_file(tmp / RANK_STATE.format(rank=distributed.rank()),
                              lambda p: torch.save(rank_state, p))
        distributed.barrier()
        if distributed.is_main():
            state = {"optimizer": optimizer, "scheduler": self.scheduler.state_dict(), "step": self.step,
                     "epoch": self.epoch, "best_valid": self.best_valid, "world_size": distributed.world_size(),
                     "audio_seconds": self.audio_seconds}
            write_weights(tmp / WEIGHTS, weights)
            write_checkpoint_file(tmp / STATE, lambda p: torch.save(state, p))
            for file_name, src in self.checkpoint_files.items():
                write_checkpoint_file(tmp / file_name, lambda p, src=src: shutil.copyfile(src, p))
            commit_checkpoint(tmp, directory)
            if name.startswith("step-"):
                write_latest(self.ckpt_root, name)
                steps = sorted(p for p in self.ckpt_root.glob("step-*")
                               if p.is_dir() and not p.name.endswith((".tmp", ".old")))
                for old in steps[: -self.conf.keep_checkpoints]:
                    if old.name != name:
                        shutil.rmtree(old)
        distributed.barrier()
        return directory

    def place_data(self, data) -> None:
        """Put ``data`` at the position the resumed checkpoint recorded (ValueError when it was saved
        under another data order), or at the start of the current epoch; once per run."""
        if self._data_placed:
            return
        if self._data_state is not None:
            data.restore(self._data_state)
            self._data_state = None
        else:
            self.skips.add("too_long", getattr(data, "num_too_long", 0))
            data.set_epoch(self.epoch)
        self._data_placed = True

    # ---------------------------------------------------------------- one optimizer step
    def _all_ranks_have_data(self, batch) -> bool:
        flag = torch.tensor([1.0 if batch.num_cuts > 0 else 0.0], device=self.device)
        if distributed.is_distributed():
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
        return bool(flag.item() > 0)

    def _seed(self, micro: int) -> None:
        torch.manual_seed(step_seed(self.conf.seed, self.step, micro, distributed.rank()))

    def _backward_steps(self, micro_batches) -> Dict[str, float]:
        """Forward and backward over the micro-batches of one step; returns the step's report.

        One micro-batch: the task's loss. Several, with a task that can cache embeddings (the
        contrastive objective): open_clip's two passes, so the step equals one large batch
        (embeddings of all micro-batches without gradients, then each micro-batch again with
        gradients against the others' cached embeddings). Otherwise: each micro-batch's loss
        weighted by its share of the step's loss units (``task.loss_weight``).
        """
        self.model.train()
        count = len(micro_batches)
        task = self.task
        report: Dict[str, float] = defaultdict(float)
        if count > 1 and task.supports_embedding_cache:
            cached = []
            with torch.no_grad():
                for j, batch in enumerate(micro_batches):
                    self._seed(j)
                    with self.autocast():
                        cached.append(self.model(batch, embeddings_only=True))
            for j, batch in enumerate(micro_batches):
                self._seed(j)
                with self.strategy.sync_gradients(self.model, sync=j == count - 1):
                    with self.autocast():
                        mine = self.model(batch, embeddings_only=True)
                        spliced = {k: torch.cat([mine[k] if i == j else c[k] for i, c in enumerate(cached)])
                                   for k in mine}
                        loss, rep = task.loss_from_embeddings(spliced)
                    self._check_finite(loss)
                    loss.backward()
            return {k: _scalar(v) for k, v in rep.items()}
        weights = [float(task.loss_weight(b)) for b in micro_batches]
        total = sum(weights)
        for j, batch in enumerate(micro_batches):
            self._seed(j)
            with self.strategy.sync_gradients(self.model, sync=j == count - 1):
                with self.autocast():
                    loss, rep = self.model(batch)
                self._check_finite(loss)
                (loss * (weights[j] / total) if count > 1 else loss).backward()
            for k, v in rep.items():
                report[k] += _scalar(v) * weights[j] / total
        return dict(report)

    def _check_finite(self, loss) -> None:
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {loss.item()} at step {self.step}")

    def _optimizer_step(self) -> float:
        grad_norm = (self.strategy.clip_grad_norm(self.model, self.conf.grad_clip) if self.conf.grad_clip > 0
                     else torch.zeros(()))
        self.optimizer.step()
        if getattr(self.optimizer, "clips_gradients", False):
            grad_norm = self.optimizer.clip_stats()["grad_norm"]  # the norm it measured, before clipping
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.task.after_optimizer_step()
        self.step += 1
        return _scalar(grad_norm)

    # ---------------------------------------------------------------- loop
    def fit(self, data, valid_data=None) -> Dict[str, Any]:
        """Train until ``max_steps``. ``data``: a :class:`audiotext.data.sources.DataStream` (or any
        object with ``set_epoch``, ``state``, ``restore``, ``num_batches`` and iteration); its
        position is restored from the checkpoint ``resume`` read."""
        conf = self.conf
        start = time.time()
        bar = tqdm(total=conf.max_steps, initial=self.step, disable=not (conf.progress_bar and distributed.is_main()),
                   desc="train", dynamic_ncols=True)
        sums: Dict[str, float] = defaultdict(float)
        count = 0
        last_valid: Dict[str, float] = {}
        self.place_data(data)
        first_epoch = self.epoch  # of this start (a resume starts inside an earlier run's epoch)
        while self.step < conf.max_steps:
            if data.num_batches() == 0:
                raise EmptyEpochError(
                    f"epoch {self.epoch} has no batches: the training set (without cuts longer than "
                    "data.max_clip_duration) is smaller than one batch per bucket and rank (lower "
                    "data.max_duration or data.num_buckets)")
            micro: List[Any] = []
            started_at, steps_before = data.position, self.step
            for batch in data:
                self.skips.update(batch.skipped)
                if self._all_ranks_have_data(batch):
                    micro.append(batch.to(self.device))
                at_end = data.position == data.num_batches()
                if len(micro) < conf.accum_grad and not at_end:
                    continue
                if not micro:
                    continue
                report = self._backward_steps(micro)
                report["grad_norm"] = self._optimizer_step()
                self.audio_seconds += sum(b.audio_seconds for b in micro)
                micro = []
                for k, v in report.items():
                    sums[k] += v
                count += 1
                if self.step % conf.log_interval == 0 or self.step == conf.max_steps:
                    means = {k: v / count for k, v in sums.items()}
                    means["lr"] = self.scheduler.get_last_lr()[0]
                    self._log("train", means)
                    bar.set_postfix(loss=f"{means.get('loss', float('nan')):.3f}", lr=f"{means['lr']:.2e}")
                    sums, count = defaultdict(float), 0
                bar.update(1)
                if valid_data is not None and (self.step % conf.valid_interval == 0 or self.step == conf.max_steps):
                    last_valid = self.validate(valid_data, data)
                if self.step % conf.save_interval == 0 or self.step == conf.max_steps:
                    self.save(data)
                if self.step >= conf.max_steps:
                    break
            if self.step >= conf.max_steps:
                break
            if self.step == steps_before and started_at == 0:
                raise EmptyEpochError(
                    f"epoch {self.epoch}: every batch was empty, no step was taken (skipped clips: "
                    f"{dict(self.skips.counts)}); check the audio paths and the task's targets "
                    "(e.g. task_conf.label_field)")
            self.epoch += 1
            data.set_epoch(self.epoch)
            if hasattr(self.scheduler, "set_epoch"):  # a schedule over epochs (eden); saved in its state
                self.scheduler.set_epoch(self.epoch)
        bar.close()
        if valid_data is None:
            self.save(data, name="best")
        summary = {
            "steps": self.step, "epochs": self.epoch, "wall_seconds": round(time.time() - start, 1),
            "audio_hours_seen": round(self.audio_seconds / 3600.0, 3), "best_valid_loss": self.best_valid,
            "last_valid": last_valid, "skipped_audio": self.skips.summary(),
            "skipped_valid_audio": self.valid_skips.summary(),
        }
        if hasattr(data, "dropped_cuts"):
            # usable cuts no rank is given in the epochs this start went through (whole epochs, the last
            # one too if the run stopped inside it): incomplete batches, and with Shar sources the
            # batches a rank had beyond the rank with the fewest
            summary["cuts_left_out_by_batching"] = sum(data.dropped_cuts(e) for e in range(first_epoch,
                                                                                           self.epoch + 1))
        # a metric without a value (mAP of a set without positives) is null, so the file stays JSON
        summary["last_valid"] = {k: (v if isinstance(v, float) and math.isfinite(v) else None)
                                 for k, v in (last_valid or {}).items()}
        if distributed.is_main():
            (self.exp_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
            if self.skips.total:
                log.warning("skipped %d unusable clips: %s", self.skips.total, dict(self.skips.counts))
        if self.writer is not None:
            self.writer.close()
        return summary

    @torch.no_grad()
    def validate(self, valid_data, train_data=None) -> Dict[str, float]:
        """Mean of the task's report over the validation set, over all ranks. Every rank steps through
        the same number of rounds; in a round where a rank has no batch (the set's last batches do
        not fill every rank) that rank runs its previous batch again and discards the result, so the
        collectives of the forward (FSDP2) stay in step and every batch of the set is counted once.
        Only a rank that has had no batch at all cannot stand in: such rounds are left out for all
        (counted, logged).

        A task with ``collects_validation_outputs`` is called as ``model(batch,
        validation_outputs=True) -> (loss, report, outputs)``; its per-clip ``outputs`` are
        concatenated over the set, gathered from every rank (:func:`distributed.all_gather_rows`)
        and given to ``task.validation_metrics``, whose values join the means (a metric of the same
        name replaces the batch mean)."""
        self.model.eval()
        sums: Dict[str, float] = defaultdict(float)
        weight = 0
        collect = bool(getattr(self.task, "collects_validation_outputs", False))
        outputs: Dict[str, List[torch.Tensor]] = defaultdict(list)
        valid_data.set_epoch(0)
        valid_data.position = 0
        self.valid_skips = SkipCounter()
        stand_in = None
        rounds_left_out = 0
        for batch in valid_data:
            self.valid_skips.update(batch.skipped)
            mine = batch.num_cuts > 0
            if mine:
                stand_in = batch
            flags = torch.tensor([float(mine), float(not mine and stand_in is None)], device=self.device)
            if distributed.is_distributed():
                torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
            if flags[0] == 0:  # no rank has data in this round
                continue
            if flags[1] > 0:  # a rank with nothing to stand in with
                rounds_left_out += 1
                continue
            batch = (batch if mine else stand_in).to(self.device)
            with self.autocast():
                if collect:
                    _, report, batch_outputs = self.model(batch, validation_outputs=True)
                else:
                    _, report = self.model(batch)
            if not mine:
                continue  # this rank only kept the collectives in step
            if collect:
                for k, v in batch_outputs.items():
                    outputs[k].append(v.detach().float())
            n = batch.num_cuts
            for k, v in report.items():
                sums[k] += _scalar(v) * n
            weight += n
        if rounds_left_out and distributed.is_main():
            log.warning("validation: %d round(s) left out: a rank had no batch yet to stand in with (more ranks "
                        "than validation batches?)", rounds_left_out)
        keys = sorted(sums)
        totals = torch.tensor([weight] + [sums[k] for k in keys], dtype=torch.float64, device=self.device)
        totals = distributed.all_reduce_sum(totals)
        means = {k: float(totals[i + 1] / max(1.0, float(totals[0]))) for i, k in enumerate(keys)}
        if collect:
            means.update(self.task.validation_metrics(self._gather_outputs(outputs)))
        self._log("valid", means)
        if means and means.get("loss", math.inf) < self.best_valid:
            self.best_valid = means["loss"]
            self.save(train_data, name="best")
        return means

    def _gather_outputs(self, outputs: Dict[str, List[torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """Per-clip validation outputs of this rank -> of every rank, on the CPU. Every rank that
        validated has kept at least one batch of its own (a stand-in round needs one), so all name
        the same outputs, in sorted order; none when no round was validated."""
        out = {}
        for name in sorted(outputs):
            local = torch.cat(outputs[name], dim=0)
            out[name] = distributed.all_gather_rows(local.to(self.device)).cpu()
        return out

    def _log(self, split: str, values: Dict[str, float]) -> None:
        if not distributed.is_main():
            return
        for k, v in values.items():
            if self.writer is not None:
                self.writer.add_scalar(f"{split}/{k}", v, self.step)
        text = " ".join(f"{k}={v:.4g}" for k, v in sorted(values.items()))
        log.info("step %d %s: %s", self.step, split, text)
