"""torch.distributed helpers; every function also works in a single process."""
from __future__ import annotations

import gc
import os
from typing import List

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env() -> torch.device:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1)."""
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not is_distributed():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def shutdown(barrier: bool = True) -> None:
    """End a run cleanly: no stray thread left for interpreter teardown, every rank leaves together.

    Call it once the trainer (its DDP model) and the loaders are dropped, so that the collection
    here shuts loader workers down while the group still exists. tqdm starts its monitor thread
    even for a disabled bar and never stops it; it is stopped here. The barrier keeps a rank that
    finished first (rank 1 while rank 0 writes the last checkpoint) from tearing down right after
    its last collective, while gloo's worker threads may still be releasing that collective's
    tensors: a thread that needs the GIL of a finalizing interpreter aborts the process
    ("terminate called without an active exception"). ``barrier=False`` on an error path, where
    the other ranks may never reach it.
    """
    from tqdm import tqdm

    gc.collect()
    monitor = getattr(tqdm, "monitor", None)
    if monitor is not None:
        monitor.exit()  # sets its stop event and joins it
        tqdm.monitor = None
    if not is_distributed():
        return
    if barrier:
        dist.barrier()
    dist.destroy_process_group()


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (rows may differ in number per rank) from all ranks along dim 0.

    Gradients flow back to every rank's rows (torch.distributed.nn's autograd-aware
    all_gather), which a contrastive loss over the global batch needs.
    """
    if not is_distributed() or world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    sizes = all_gather_sizes(x.shape[0], x.device)
    max_rows = max(sizes)
    padded = torch.nn.functional.pad(x, (0,) * (2 * (x.dim() - 1)) + (0, max_rows - x.shape[0]))
    parts = all_gather(padded)
    return torch.cat([part[:n] for part, n in zip(parts, sizes)], dim=0)


def all_gather_sizes(n: int, device) -> List[int]:
    if not is_distributed():
        return [n]
    local = torch.tensor([n], device=device, dtype=torch.long)
    out = [torch.zeros_like(local) for _ in range(world_size())]
    dist.all_gather(out, local)
    return [int(t.item()) for t in out]


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if is_distributed():
        t = t.clone()
        dist.all_reduce(t)
    return t


def barrier() -> None:
    """Wait for every rank (a no-op in one process)."""
    if is_distributed():
        dist.barrier()
