"""Initialise parts of a new model from another run's weights (experiment key ``init_from``).

The paper initialises the audio encoder of its caption pretraining from an AudioSet-supervised
tagger. ``init_from: {checkpoint: DIR, modules: [encoder], strict: true}`` loads, before the
first step of a **new** run, the tensors under each listed name from ``DIR/model.safetensors``
(a checkpoint directory such as ``exp/tagger/checkpoints/best``, or an exported model directory:
both hold the task's full state dict). A resumed run loads its own checkpoint and ignores
``init_from``.

Names: a name is a state-dict prefix of the task, a submodule (``encoder`` -> every key
``encoder.*``) or one tensor (``feature_mean``). Every task that embeds audio builds its audio side
with :meth:`audiotext.embedding.AudioEmbedding.build_audio_side`, so ``encoder``, ``feature_mean``
and ``feature_std`` name the same things in the ``tagging`` and ``pretrain`` tasks: a tagger's
encoder loads into a contrastive or captioning model with the same ``encoder`` / ``encoder_conf``.

Feature statistics: ``init_from`` runs after ``task.prepare(feature_stats)``. With
``modules: [encoder]`` the new run keeps the statistics of its own training data (normalisation
belongs to the data a model is trained on; the encoder adapts to a small shift in its first
steps). List ``feature_mean`` and ``feature_std`` too to normalise exactly as the initialising
run did, so the encoder first sees its inputs as it was trained on them.

Strict (the default): a tensor of the new model under a listed name that the file lacks
(missing), a tensor of the file under a listed name that the model lacks (unexpected), or a shape
mismatch is a :class:`~audiotext.train.checkpoint.WeightsError` naming the file and the keys
(``bin.train`` exits 2 with one ``error:`` line). ``strict: false`` loads the tensors that match
and logs the three lists. Either way a name that matches no tensor of the model or none of the
file is an error, and what was loaded (tensor and value counts, source) is logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

log = logging.getLogger(__name__)


@dataclass
class InitFromConfig:
    checkpoint: str = ""  # a checkpoint or export directory holding model.safetensors; "" = no initialisation
    modules: List[str] = field(default_factory=lambda: ["encoder"])  # state-dict prefixes / submodule names
    strict: bool = True


@dataclass
class InitResult:
    """What :func:`init_from_checkpoint` did: the weights file, the keys loaded, and (relaxed
    loading) the keys missing from the file, unexpected in it, and of mismatched shapes
    (key -> (shape in the file, shape in the model))."""

    path: Path
    loaded: List[str]
    missing: List[str]
    unexpected: List[str]
    mismatched: Dict[str, tuple]
    num_values: int


def _under(key: str, names: Sequence[str]) -> bool:
    return any(key == name or key.startswith(name + ".") for name in names)


def weights_path(checkpoint: str) -> Path:
    """``checkpoint/model.safetensors``; FileNotFoundError naming what was looked for."""
    from audiotext.train.checkpoint import WEIGHTS

    directory = Path(checkpoint)
    path = directory / WEIGHTS
    if not path.is_file():
        hint = ""
        if (directory / "checkpoints").is_dir():
            hint = f" (an experiment directory: give one of its checkpoints, e.g. {directory / 'checkpoints' / 'best'})"
        raise FileNotFoundError(f"init_from.checkpoint: no {WEIGHTS} in {directory}{hint}")
    return path


def _input_contract(exp) -> dict:
    """What the audio encoder's weights assume about their input and shape beyond tensor shapes."""
    from audiotext.config import to_plain

    data = to_plain(exp.data) if not isinstance(exp.data, dict) else exp.data
    # dropout is how training used the weights, not what they mean
    encoder_conf = {k: v for k, v in to_plain(exp.encoder_conf).items() if "dropout" not in k}
    return {"encoder": exp.encoder, "encoder_conf": encoder_conf, "data.fbank": data.get("fbank")}


def check_input_contract(checkpoint: str, exp, names: Sequence[str], strict: bool) -> None:
    """When the encoder is loaded and the checkpoint folder has its ``config.yaml`` (checkpoints
    and exports do): the encoder name, ``encoder_conf`` and ``data.fbank`` of both runs must agree
    (weights of the same shape can still expect another frame shift, sample rate or activation).
    ValueError naming the keys under ``strict``; a warning otherwise."""
    if not any(name == "encoder" or name.startswith("encoder.") for name in names):
        return
    config = Path(checkpoint) / "config.yaml"
    if not config.is_file():
        return
    from audiotext.config import load_yaml

    theirs_raw = load_yaml(str(config)) or {}
    theirs = {"encoder": theirs_raw.get("encoder", "transformer"),
              "encoder_conf": {k: v for k, v in (theirs_raw.get("encoder_conf") or {}).items() if "dropout" not in k},
              "data.fbank": (theirs_raw.get("data") or {}).get("fbank")}
    ours = _input_contract(exp)
    differ = [k for k in ours if theirs[k] is not None and theirs[k] != ours[k]]
    if not differ:
        return
    text = "; ".join(f"{k}: {theirs[k]} there, {ours[k]} here" for k in differ)
    if strict:
        raise ValueError(f"init_from: {config} was trained with another {', '.join(differ)} ({text}); use the same "
                         "settings, or strict: false to load the weights anyway")
    log.warning("init_from (strict: false): %s differs from this run (%s)", ", ".join(differ), text)


def init_from_checkpoint(task: torch.nn.Module, conf: InitFromConfig, exp=None) -> Optional[InitResult]:
    """Load ``conf.modules`` of ``task`` from ``conf.checkpoint`` (see the module docstring);
    None when ``conf.checkpoint`` is empty. With ``exp`` (this run's experiment config), loading the
    encoder also checks its input contract (:func:`check_input_contract`).

    Raises ValueError for an empty or repeated name, or one that matches no tensor of the task or
    of the file; :class:`~audiotext.train.checkpoint.WeightsError` (a ValueError) for keys that do
    not fit under ``strict`` or an unreadable file; FileNotFoundError for a missing file.
    """
    from safetensors import safe_open

    from audiotext.train.checkpoint import WeightsError

    if not conf.checkpoint:
        return None
    names = [str(name).strip() for name in conf.modules]
    if not names or any(not name for name in names):
        raise ValueError(f"init_from.modules: give one or more module names (e.g. [encoder]), got {conf.modules!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"init_from.modules: a name is listed twice: {names}")
    path = weights_path(conf.checkpoint)
    if exp is not None:
        check_input_contract(str(path.parent), exp, names, conf.strict)
    model_state = task.state_dict()
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            file_keys = list(f.keys())
            file_state = {k: f.get_tensor(k) for k in file_keys if _under(k, names)}
    except Exception as err:  # safetensors raises its own error type for a damaged file
        raise WeightsError(path, reason=f"not a readable safetensors file ({err})") from None
    for name in names:
        in_model = any(_under(k, [name]) for k in model_state)
        in_file = any(_under(k, [name]) for k in file_state)
        if not in_model:
            tops = sorted({k.split(".")[0] for k in model_state})
            raise ValueError(f"init_from.modules: {name!r} matches no weight of the {type(task).__name__} being "
                             f"trained (its top-level names: {', '.join(tops)})")
        if not in_file:
            tops = sorted({k.split(".")[0] for k in file_keys})
            raise ValueError(f"init_from.modules: {name!r} matches no weight in {path} (its top-level names: "
                             f"{', '.join(tops)})")
    wanted = {k for k in model_state if _under(k, names)}
    missing = sorted(wanted - set(file_state))
    unexpected = sorted(set(file_state) - wanted)
    mismatched = {k: (tuple(file_state[k].shape), tuple(model_state[k].shape)) for k in sorted(wanted & set(file_state))
                  if tuple(file_state[k].shape) != tuple(model_state[k].shape)}
    if conf.strict and (missing or unexpected or mismatched):
        raise WeightsError(path, missing, unexpected, mismatched,
                           reason=f"init_from (strict) of {', '.join(names)}")
    loaded = sorted((wanted & set(file_state)) - set(mismatched))
    with torch.no_grad():
        for key in loaded:
            model_state[key].copy_(file_state[key].to(model_state[key].dtype))
    num_values = sum(model_state[k].numel() for k in loaded)
    log.info("init_from: loaded %d tensors (%.2fM values) of %s from %s", len(loaded), num_values / 1e6,
             ", ".join(names), path)
    if missing or unexpected or mismatched:
        log.warning("init_from (strict: false): %d missing from the file (left as initialised): %s", len(missing),
                    missing)
        log.warning("init_from (strict: false): %d unexpected in the file (not loaded): %s", len(unexpected),
                    unexpected)
        log.warning("init_from (strict: false): %d of mismatched shape (file vs model; not loaded): %s",
                    len(mismatched), mismatched)
    return InitResult(path, loaded, missing, unexpected, mismatched, num_values)
