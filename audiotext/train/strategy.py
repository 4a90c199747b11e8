"""How the task is spread over processes: ``trainer.strategy: ddp | fsdp2``.

* ``ddp``: every rank holds the whole model; gradients are averaged by
  ``DistributedDataParallel`` (one process: the task itself).
* ``fsdp2``: parameters, gradients and optimizer state are sharded over the ranks with torch's
  ``fully_shard`` (FSDP2): each module whose class name is in ``trainer.fsdp2_units`` is one
  unit (gathered for its forward and backward), then the whole task.

Each strategy gives the same four things to the trainer: the wrapped model, a context that
skips gradient synchronisation (for the first micro-batches of an accumulated step), and full
(unsharded) model and optimizer state dicts for checkpoints, and loads them back. Saving and
loading are collective: every rank calls them.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Dict, Sequence

import torch
from torch import nn

from audiotext.train import distributed

STRATEGIES = ("ddp", "fsdp2")


class Strategy:
    name = ""

    def wrap(self, task: nn.Module, device: torch.device) -> nn.Module:
        raise NotImplementedError

    def sync_gradients(self, model: nn.Module, sync: bool):
        """Context for one backward: gradients are reduced over ranks only when ``sync``."""
        return nullcontext()

    def model_state(self, task: nn.Module, model: nn.Module) -> Dict[str, torch.Tensor]:
        return task.state_dict()

    def load_model_state(self, task: nn.Module, model: nn.Module, state: Dict[str, torch.Tensor]) -> None:
        task.load_state_dict(state, strict=True)

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> Dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: Dict[str, Any]) -> None:
        optimizer.load_state_dict(state)

    def clip_grad_norm(self, model: nn.Module, max_norm: float) -> torch.Tensor:
        params = [p for p in model.parameters() if p.grad is not None]
        return torch.nn.utils.clip_grad_norm_(params, max_norm)


class DDPStrategy(Strategy):
    name = "ddp"

    def wrap(self, task, device):
        if distributed.world_size() == 1:
            return task
        return nn.parallel.DistributedDataParallel(task, device_ids=[device.index] if device.type == "cuda" else None)

    def sync_gradients(self, model, sync):
        if sync or not isinstance(model, nn.parallel.DistributedDataParallel):
            return nullcontext()
        return model.no_sync()


class FSDP2Strategy(Strategy):
    name = "fsdp2"

    def __init__(self, units: Sequence[str]):
        self.units = tuple(units)

    def wrap(self, task, device):
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        if not distributed.is_distributed():
            raise ValueError("trainer.strategy fsdp2 needs a process group: launch with torchrun")
        mesh = init_device_mesh(device.type, (distributed.world_size(),))
        units = [m for m in task.modules() if type(m).__name__ in self.units and m is not task]
        for module in units:
            fully_shard(module, mesh=mesh)
        fully_shard(task, mesh=mesh)
        return task

    @contextmanager
    def sync_gradients(self, model, sync):
        model.set_requires_gradient_sync(sync)
        try:
            yield
        finally:
            model.set_requires_gradient_sync(True)

    def _options(self):
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, cpu_offload=True)

    def model_state(self, task, model):
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(model, options=self._options())

    def load_model_state(self, task, model, state):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, strict=True))

    def optimizer_state(self, model, optimizer):
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return get_optimizer_state_dict(model, optimizer, options=self._options())

    def load_optimizer_state(self, model, optimizer, state):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def make_strategy(name: str, fsdp2_units: Sequence[str] = ()) -> Strategy:
    if name == "ddp":
        return DDPStrategy()
    if name == "fsdp2":
        return FSDP2Strategy(fsdp2_units)
    raise ValueError(f"trainer.strategy: {name!r} is not one of {', '.join(STRATEGIES)}")
