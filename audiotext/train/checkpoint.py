"""Atomic checkpoints: model weights as safetensors, trainer state beside them.

A checkpoint is a directory written under a temporary name, fsynced, then
renamed into place, so a crash never leaves a half-written checkpoint that
``--resume`` would pick up.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"
STATE = "trainer_state.pt"
LATEST = "LATEST"


def fsync_path(path: Path) -> None:
    """Flush a file or a directory entry to disk (atomic writes rename after this)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, writer) -> None:
    writer(path)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def save_checkpoint(directory: Path, model: torch.nn.Module, trainer_state: Optional[Dict[str, Any]],
                    extra_files: Dict[str, Path]) -> Path:
    """Write ``directory`` atomically (replacing an existing one)."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _write_file(tmp / WEIGHTS, lambda p: save_file(weights, str(p)))
    if trainer_state is not None:
        _write_file(tmp / STATE, lambda p: torch.save(trainer_state, p))
    for name, src in extra_files.items():
        _write_file(tmp / name, lambda p, src=src: shutil.copyfile(src, p))
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


def load_weights(model: torch.nn.Module, directory: Path) -> None:
    """Load ``model.safetensors`` strictly: a missing or unexpected key is an error."""
    path = Path(directory) / WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"no model weights at {path}")
    model.load_state_dict(load_file(str(path)), strict=True)


def load_trainer_state(directory: Path) -> Dict[str, Any]:
    return torch.load(Path(directory) / STATE, map_location="cpu", weights_only=True)
