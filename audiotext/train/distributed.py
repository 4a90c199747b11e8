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
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not is_distributed():
        backend = "nccl" if device.type == "cuda" else "gloo"
        store = _restart_store(world)
        if store is None:
            dist.init_process_group(backend=backend)
        else:
            dist.init_process_group(backend=backend, store=store, rank=int(os.environ["RANK"]), world_size=world)
    return device


def _restart_store(world: int):
    """The agent's store seen under a prefix of this restart, for workers torchrun restarted.

    torchrun's agent keeps one TCP store for all restarts of a job and its workers' default
    ``env://`` store adds no per-restart prefix, so restarted workers can read the keys their dead
    predecessors wrote (gloo's peer addresses) and wait forever on a peer that is gone (seen here:
    1 restart in 3 hung in ``ProcessGroupGloo``). None on a first start, or without torchrun's store.
    """
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if attempt == 0 or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    from datetime import timedelta

    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world, is_master=False,
                          timeout=timedelta(minutes=30))
    return dist.PrefixStore(f"audiotext/restart_{attempt}", store)


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
    # each tqdm class keeps its own monitor (lhotse's tqdm.auto bars start one on tqdm_asyncio)
    classes, seen = [tqdm], set()
    while classes:
        klass = classes.pop()
        if klass in seen:
            continue
        seen.add(klass)
        classes.extend(klass.__subclasses__())
        monitor = klass.__dict__.get("monitor")
        if monitor is not None:
            monitor.exit()  # sets its stop event and joins it
            klass.monitor = None
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


def all_gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (B_rank, ...) from all ranks along dim 0, rank order, without gradients.

    Ranks may hold different numbers of rows (0 included): each pads to the largest count for
    ``torch.distributed.all_gather`` and the padding is cut off again. The trailing shape and the
    dtype must agree across ranks. One process: ``x`` itself."""
    if not is_distributed() or world_size() == 1:
        return x
    sizes = all_gather_sizes(x.shape[0], x.device)
    padded = x.new_zeros((max(sizes),) + tuple(x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:n] for part, n in zip(parts, sizes)], dim=0)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if is_distributed():
        t = t.clone()
        dist.all_reduce(t)
    return t


def barrier() -> None:
    """Wait for every rank (a no-op in one process)."""
    if is_distributed():
        dist.barrier()
