"""Run under torchrun by tests/test_optim.py: ScaledAdam on FSDP2's sharded (DTensor) parameters.

A small MLP (a matrix whose rows do not split evenly over 2 ranks, and a scalar) is sharded with
the trainer's fsdp2 strategy; every rank trains on the same batches, so the averaged gradient is
the whole batch's. 7 steps, a full optimizer state saved through the strategy, 5 more steps; then a
fresh model and optimizer load the saved weights and state and take the same 5 steps. Rank 0
writes the full weights of both ends and the clipping counts.

    torchrun --nproc_per_node 2 tests/optim_fsdp2_check.py OUT
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiotext.train import distributed  # noqa: E402
from audiotext.train.optim import OPTIMIZERS  # noqa: E402
from audiotext.train.strategy import make_strategy  # noqa: E402

OPTIM_CONF = {"clipping_update_period": 3, "size_update_period": 2}


class Block(torch.nn.Module):
    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.linear = torch.nn.Linear(n_in, n_out)

    def forward(self, x):
        return torch.tanh(self.linear(x))


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(6, 7)  # 7 rows: shards of 4 and 3
        self.out = torch.nn.Linear(7, 1)
        self.gain = torch.nn.Parameter(torch.ones(1))  # fully_shard refuses 0-dim parameters

    def forward(self, x):
        return self.out(self.block(x)) * self.gain


def batches(n: int):
    g = torch.Generator().manual_seed(5)
    out = []
    for i in range(n):
        x = torch.randn(32, 6, generator=g)
        y = x[:, :1] * 2 - x[:, 1:2] + (10.0 if i == 4 else 0.0)  # step 5: a large gradient, clipped
        out.append((x, y))
    return out


def make(strategy):
    torch.manual_seed(0)
    task = MLP()
    model = strategy.wrap(task, torch.device("cpu")) if strategy is not None else task
    return task, model, OPTIMIZERS.build("scaled_adam", OPTIM_CONF, model)


def train(model, opt, data):
    for x, y in data:
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)


def main(out: str) -> None:
    distributed.init_from_env()
    strategy = make_strategy("fsdp2", ["Block"])
    data = batches(12)
    task, model, opt = make(strategy)
    train(model, opt, data[:7])
    weights = strategy.model_state(task, model)  # full, on rank 0 only (as the trainer saves them)
    state = strategy.optimizer_state(model, opt)
    checkpoint = Path(out).with_suffix(".step7.pt")
    if distributed.is_main():
        torch.save({"weights": weights, "optimizer": state}, checkpoint)
    distributed.barrier()
    train(model, opt, data[7:])
    end = strategy.model_state(task, model)
    stats = opt.clip_stats()

    saved = torch.load(checkpoint, weights_only=True)  # every rank reads the checkpoint, as on resume
    task2, model2, opt2 = make(strategy)
    strategy.load_model_state(task2, model2, saved["weights"])
    strategy.load_optimizer_state(model2, opt2, saved["optimizer"])
    train(model2, opt2, data[7:])
    resumed = strategy.model_state(task2, model2)
    if distributed.is_main():
        torch.save({"end": end, "resumed": resumed, "stats": stats, "state": saved["optimizer"]}, out)
    distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
