"""Atomic checkpoints: model weights as safetensors, trainer state beside them.

A checkpoint is a directory written under a temporary name, fsynced, then
renamed into place, so a crash never leaves a half-written checkpoint that
``--resume`` would pick up; ``LATEST`` names the newest complete one.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file

WEIGHTS = "model.safetensors"
STATE = "trainer_state.pt"  # optimizer, scheduler, step: written by rank 0
RANK_STATE = "rank_state.{rank}.pt"  # each rank's data position and skip counts
LATEST = "LATEST"


def fsync_path(path: Path) -> None:
    """Flush a file or a directory entry to disk (atomic writes rename after this)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def begin_checkpoint(directory: Path) -> Path:
    """Create the empty temporary directory a checkpoint at ``directory`` is written into."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def write_checkpoint_file(path: Path, writer) -> None:
    """``writer(path)``, then fsync the file (everything in a checkpoint is written this way)."""
    writer(path)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def write_weights(path: Path, state: Dict[str, torch.Tensor]) -> None:
    weights = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    write_checkpoint_file(path, lambda p: save_file(weights, str(p)))


def commit_checkpoint(tmp: Path, directory: Path) -> Path:
    """Move the complete ``tmp`` into place as ``directory`` (replacing an existing one): until the
    rename, a crash leaves only ``tmp`` behind and the previous checkpoints untouched."""
    directory = Path(directory)
    fsync_path(tmp)
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        if old.exists():
            shutil.rmtree(old)
        directory.rename(old)
    tmp.rename(directory)
    fsync_path(directory.parent)
    if old.exists():
        shutil.rmtree(old)
    return directory


def save_checkpoint(directory: Path, model: torch.nn.Module, trainer_state: Optional[Dict[str, Any]],
                    extra_files: Dict[str, Path]) -> Path:
    """Write ``directory`` atomically from one process (weights, trainer state, extra files)."""
    tmp = begin_checkpoint(directory)
    write_weights(tmp / WEIGHTS, model.state_dict())
    if trainer_state is not None:
        write_checkpoint_file(tmp / STATE, lambda p: torch.save(trainer_state, p))
    for name, src in extra_files.items():
        write_checkpoint_file(tmp / name, lambda p, src=src: shutil.copyfile(src, p))
    return commit_checkpoint(tmp, directory)


def write_latest(checkpoint_root: Path, name: str) -> None:
    path = Path(checkpoint_root) / LATEST
    tmp = path.with_name(LATEST + ".tmp")
    tmp.write_text(name + "\n")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    tmp.replace(path)


def latest_checkpoint(checkpoint_root: Path) -> Optional[Path]:
    pointer = Path(checkpoint_root) / LATEST
    if not pointer.is_file():
        return None
    path = Path(checkpoint_root) / pointer.read_text().strip()
    if not (path / WEIGHTS).is_file() or not (path / STATE).is_file():
        raise FileNotFoundError(f"{pointer} points to {path}, which is not a complete checkpoint")
    return path


class WeightsError(ValueError):
    """Weights that do not fit the model they are loaded into (missing or unexpected tensors,
    shape mismatches) or cannot be read. The message names the weights file and the keys
    (the first few of each kind, with counts); ``path``, ``missing``, ``unexpected`` and
    ``mismatched`` (key -> (shape in the file, shape in the model)) hold them all."""

    SHOWN = 5  # keys named per kind in the message

    def __init__(self, path: Path, missing=(), unexpected=(), mismatched=None, reason: str = ""):
        self.path = Path(path)
        self.missing = sorted(missing)
        self.unexpected = sorted(unexpected)
        self.mismatched = dict(sorted((mismatched or {}).items()))
        parts = [reason] if reason else []
        for what, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                parts.append(f"{len(keys)} {what} key{'s' if len(keys) > 1 else ''} "
                             f"({self._first(keys)})")
        if self.mismatched:
            shown = [f"{k}: file {tuple(a)} vs model {tuple(b)}" for k, (a, b) in self.mismatched.items()]
            parts.append(f"{len(shown)} shape mismatch{'es' if len(shown) > 1 else ''} ({self._first(shown)})")
        super().__init__(f"{self.path}: weights do not fit the model: " + "; ".join(parts))

    @classmethod
    def _first(cls, items) -> str:
        items = list(items)
        more = len(items) - cls.SHOWN
        return ", ".join(items[: cls.SHOWN]) + (f", ... {more} more" if more > 0 else "")


def load_weights(model: torch.nn.Module, directory: Path, skip_prefixes: Tuple[str, ...] = ()) -> None:
    """Load ``directory/model.safetensors`` into ``model`` strictly.

    Every tensor of ``model.state_dict()`` must be in the file with its shape, and every tensor
    of the file must be one of them, except those whose key starts with one of ``skip_prefixes``
    (weights of modules the caller chose not to build), which are not read. Otherwise
    :class:`WeightsError` naming the file and the keys; FileNotFoundError when there is no file.
    """
    path = Path(directory) / WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"no model weights at {path}")
    skip = tuple(skip_prefixes)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            state = {k: f.get_tensor(k) for k in f.keys() if not k.startswith(skip)}
    except Exception as err:  # safetensors raises its own error type for a damaged file
        raise WeightsError(path, reason=f"not a readable safetensors file ({err})") from None
    expected = model.state_dict()
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    mismatched = {k: (tuple(state[k].shape), tuple(expected[k].shape)) for k in set(state) & set(expected)
                  if tuple(state[k].shape) != tuple(expected[k].shape)}
    if missing or unexpected or mismatched:
        raise WeightsError(path, missing, unexpected, mismatched)
    model.load_state_dict(state, strict=True)


def load_trainer_state(directory: Path, name: str = STATE) -> Dict[str, Any]:
    path = Path(directory) / name
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {name} (saved with another number of processes?)")
    return torch.load(path, map_location="cpu", weights_only=True)
