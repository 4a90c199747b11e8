"""Train a task from one YAML: ``python -m audiotext.bin.train --config C --exp-dir D [key.path=value ...]``.

Runs as one process or under torchrun (``torchrun --nproc_per_node N -m audiotext.bin.train ...``).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from audiotext.bin.common import add_plugin_args, load_plugins, setup_logging
from audiotext.config import ConfigError, dump_yaml, to_plain

log = logging.getLogger("audiotext.train")


def checkpoint_config(exp, exp_dir: Path) -> dict:
    """The config a checkpoint directory carries: tokenizer model referenced beside it."""
    files = {}
    plain = to_plain(exp)
    model_path = plain.get("tokenizer_conf", {}).get("model")
    if model_path:
        files["tokenizer.model"] = Path(model_path)
        plain["tokenizer_conf"]["model"] = "tokenizer.model"
    path = exp_dir / "checkpoints" / "config.yaml"
    dump_yaml(plain, path)
    files["config.yaml"] = path
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment YAML")
    parser.add_argument("--exp-dir", required=True, help="output directory (checkpoints, logs, config)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --exp-dir")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads on CPU (0: torch default)")
    add_plugin_args(parser)
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. trainer.max_steps=100")
    args = parser.parse_args(argv)

    from audiotext.train import distributed

    device = distributed.init_from_env()
    setup_logging()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load_plugins(args)

    from audiotext.data.dataset import load_cuts, make_loader
    from audiotext.experiment import build_task, load_experiment, save_experiment
    from audiotext.train.trainer import Trainer, seed_everything

    try:
        exp = load_experiment(args.config, args.overrides)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    exp_dir = Path(args.exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(exp.trainer.seed)
    train_cuts = load_cuts(exp.data.train_cuts, "train_cuts")
    valid_cuts = load_cuts(exp.data.valid_cuts, "valid_cuts") if exp.data.valid_cuts else None

    task = build_task(exp)
    files = {}
    if distributed.is_main():
        save_experiment(exp, str(exp_dir))
        files = checkpoint_config(exp, exp_dir)
    n_params = sum(p.numel() for p in task.parameters())
    log.info("task %s: %.2fM parameters, device %s, world size %d", exp.task, n_params / 1e6, device,
             distributed.world_size())
    trainer = Trainer(task, str(exp_dir), exp.optim, exp.trainer, device, checkpoint_files=files)
    resumed = args.resume and trainer.resume()
    if args.resume and not resumed:
        log.warning("--resume: no checkpoint in %s, starting a new run", exp_dir / "checkpoints")
    if not resumed:
        task.prepare(train_cuts)

    def make_train_loader():
        return make_loader(train_cuts, task.tokenizer, exp.data, train=True, seed=exp.trainer.seed,
                           world_size=distributed.world_size(), rank=distributed.rank(),
                           min_samples=task.min_input_samples)

    valid_loader = None
    if valid_cuts is not None:
        valid_loader, _ = make_loader(valid_cuts, task.tokenizer, exp.data, train=False,
                                      world_size=distributed.world_size(), rank=distributed.rank(),
                                      min_samples=task.min_input_samples)
    summary = trainer.fit(make_train_loader, valid_loader)
    log.info("done: %s", {k: v for k, v in summary.items() if k != "skipped_audio"})
    if summary["skipped_audio"]["total"]:
        log.warning("skipped audio: %s", summary["skipped_audio"]["by_reason"])
    trainer = valid_loader = None  # DDP model and loader workers go before the process group
    distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
