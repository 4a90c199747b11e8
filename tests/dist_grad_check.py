"""Run under torchrun by tests/test_distributed.py: each rank takes its share of one fixed global
batch, computes the contrastive loss and its gradients through the trainer's ddp strategy, and
rank 0 writes the mean loss over ranks and the averaged gradients for the test to compare with one
process on the whole batch.

    torchrun ... tests/dist_grad_check.py CUTS OUT NUM_CLIPS
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiotext.experiment import build_task, resolve  # noqa: E402
from audiotext.train import distributed  # noqa: E402
from audiotext.train.strategy import make_strategy  # noqa: E402

CONFIG = {
    "tokenizer": "byte",
    "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8,
                     "dropout": 0.0},
    "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "dropout": 0.0},
    "objective_conf": {"embed_dim": 16, "learn_temperature": True},
    "data": {"specaug": {"enabled": False}},
}


def loss_and_grads(cuts, rows: slice, device=torch.device("cpu")):
    """The tiny task's loss on ``cuts[rows]`` and its parameters' gradients (after the strategy's
    gradient averaging when distributed)."""
    exp = resolve(CONFIG)
    torch.manual_seed(0)
    task = build_task(exp).to(device)
    batch = task.build_dataset(exp.data, train=False).make_batch(cuts[rows])
    model = make_strategy("ddp").wrap(task, device)
    loss, _ = model(batch)
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in task.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def main(cuts_path: str, out: str, num_clips: int) -> None:
    from lhotse import CutSet

    device = distributed.init_from_env()
    cuts = list(CutSet.from_file(cuts_path))[:num_clips]
    world, rank = distributed.world_size(), distributed.rank()
    share = num_clips // world
    loss, grads = loss_and_grads(cuts, slice(rank * share, (rank + 1) * share), device)
    mean_loss = distributed.all_reduce_sum(loss.double()) / world
    if distributed.is_main():
        torch.save({"world_size": world, "loss": mean_loss, "grads": grads}, out)
    distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
