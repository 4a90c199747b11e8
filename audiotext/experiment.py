"""The experiment config (one YAML) and building a task from it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from audiotext.config import ConfigError, apply_overrides, dataclass_from_dict, dump_yaml, load_yaml, to_plain
from audiotext.data.dataset import DataConfig
from audiotext.train.init import InitFromConfig
from audiotext.train.trainer import TrainerConfig

# component key -> registry attribute path, resolved lazily to keep imports light
COMPONENTS = {
    "task": ("audiotext.tasks", "TASKS"),
    "tokenizer": ("audiotext.tokenizers", "TOKENIZERS"),
    "encoder": ("audiotext.models.encoders", "ENCODERS"),
    "text_encoder": ("audiotext.models.text_encoders", "TEXT_ENCODERS"),
    "objective": ("audiotext.objectives", "OBJECTIVES"),
    "optim": ("audiotext.train.optim", "OPTIMIZERS"),
    "scheduler": ("audiotext.train.optim", "SCHEDULERS"),
}


@dataclass
class ExperimentConfig:
    task: str = "pretrain"
    task_conf: Dict[str, Any] = field(default_factory=dict)
    tokenizer: str = "sentencepiece"
    tokenizer_conf: Dict[str, Any] = field(default_factory=dict)
    encoder: str = "transformer"
    encoder_conf: Dict[str, Any] = field(default_factory=dict)
    text_encoder: str = "transformer"
    text_encoder_conf: Dict[str, Any] = field(default_factory=dict)
    objective: str = "contrastive"
    objective_conf: Dict[str, Any] = field(default_factory=dict)
    optim: str = "adamw"
    optim_conf: Dict[str, Any] = field(default_factory=dict)
    scheduler: str = "warmup_cosine"
    scheduler_conf: Dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    # weights of a few modules loaded from another run before a new run's first step (audiotext/train/init.py)
    init_from: InitFromConfig = field(default_factory=InitFromConfig)


def registry_of(component: str):
    import importlib

    module, attr = COMPONENTS[component]
    return getattr(importlib.import_module(module), attr)


def resolve(data: Dict[str, Any], where: str = "config") -> ExperimentConfig:
    """Validate every key (component confs against their registered Config) and fill defaults."""
    if isinstance(data.get("optim"), dict):  # the layout before optimizers were registered components
        raise ConfigError(f"{where}: optim is the optimizer's name (optim: adamw) with its settings in optim_conf; "
                          "warmup_steps and min_lr_ratio belong in scheduler_conf, grad_clip in trainer")
    exp = dataclass_from_dict(ExperimentConfig, data, where)
    from audiotext.embedding import audio_encoder_conf

    exp.encoder_conf = audio_encoder_conf(exp)  # input_dim from data.fbank.num_mel_bins, set once
    for component in COMPONENTS:
        name = getattr(exp, component)
        conf_key = f"{component}_conf"
        component_conf = registry_of(component).make_config(name, getattr(exp, conf_key), where=conf_key)
        setattr(exp, conf_key, to_plain(component_conf))
    return exp


def load_experiment(path: Optional[str], overrides: Sequence[str] = ()) -> ExperimentConfig:
    data = load_yaml(path) if path else {}
    apply_overrides(data, overrides)
    from audiotext.registry import RegistryError

    try:
        return resolve(data)
    except (ConfigError, RegistryError) as err:
        # name the command-line override the error is about, not the file it was applied to
        message = str(err)
        culprit = next((o for o in reversed(overrides) if o.split("=", 1)[0] in message), None)
        where = path or "(no config file)"
        where += f", override {culprit!r}" if culprit else ""
        raise ConfigError(f"{where}: {message}") from None


def save_experiment(exp: ExperimentConfig, exp_dir: str) -> Path:
    path = Path(exp_dir) / "config.yaml"
    dump_yaml(exp, path)
    return path


def experiment_from_dir(model_dir: str) -> ExperimentConfig:
    path = Path(model_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: no config.yaml (is this a checkpoint or experiment directory?)")
    return resolve(load_yaml(path), where=str(path))


def build_task(exp: ExperimentConfig):
    return registry_of("task").build(exp.task, exp.task_conf, exp, where="task_conf")


def load_task_from_dir(model_dir: str):
    """Build the task a checkpoint or export directory describes and load its weights (strict);
    returns (task in eval mode, experiment config).

    Installed entry-point plugins are loaded first. Relative paths in the config are read from
    the directory: ``tokenizer_conf.model`` always, ``text_encoder_conf.path`` where the directory
    holds it (an export's ``text_encoder/``). Components are built without reading pretrained
    weights of their own (:func:`audiotext.models.weights.state_dict_follows`): the directory's
    weights hold them. FileNotFoundError / ConfigError for a bad directory or config,
    :class:`~audiotext.train.checkpoint.WeightsError` for weights that do not fit.
    """
    from audiotext.models.weights import state_dict_follows
    from audiotext.plugins import load_entry_point_plugins
    from audiotext.train.checkpoint import load_weights

    load_entry_point_plugins()
    model_dir = Path(model_dir)
    exp = experiment_from_dir(str(model_dir))
    model_path = exp.tokenizer_conf.get("model")
    if model_path and not Path(model_path).is_absolute():
        exp.tokenizer_conf["model"] = str(model_dir / model_path)
    text_path = exp.text_encoder_conf.get("path")
    if text_path and not Path(text_path).is_absolute() and (model_dir / text_path).exists():
        exp.text_encoder_conf["path"] = str(model_dir / text_path)
    with state_dict_follows():
        task = build_task(exp)
    load_weights(task, model_dir)
    return task.eval(), exp
