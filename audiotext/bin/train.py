"""Train a task from one YAML: ``python -m audiotext.bin.train --config C --exp-dir D [key.path=value ...]``.

Runs as one process or under torchrun (``torchrun --nproc_per_node N -m audiotext.bin.train ...``;
multi-node: docs/training.md). With ``--resume`` it continues from the newest checkpoint in
``--exp-dir``; a run restarted by torchrun (``--max-restarts``) always resumes.
"""
from __future__ import annotations

import argparse
import logging
import os
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


def feature_stats_for(exp, task, sources) -> dict:
    """The statistics a new run normalises with: ``data.feature_stats``, or computed now from the
    same random sample the data stage draws."""
    from audiotext.data.feature_stats import compute_feature_stats, read_feature_stats

    if exp.data.feature_stats:
        return read_feature_stats(exp.data.feature_stats, exp.data.fbank)
    log.info("data.feature_stats not given: computing them from %d random clips", exp.data.feature_stats_clips)
    return compute_feature_stats(sources, exp.data.fbank, task.min_input_samples, exp.data.feature_stats_clips,
                                 seed=exp.trainer.seed)


def run(args) -> int:
    from audiotext.train import distributed

    device = distributed.init_from_env()
    setup_logging()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load_plugins(args)
    try:
        setup = _set_up(args, device)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:  # config, data, checkpoint errors
        print(f"error: {err}", file=sys.stderr)
        return 2
    trainer, data, valid_data = setup
    from audiotext.train.trainer import EmptyEpochError

    try:
        summary = trainer.fit(data, valid_data)
    except EmptyEpochError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    log.info("done: %s", {k: v for k, v in summary.items() if k != "skipped_audio"})
    if summary["skipped_audio"]["total"]:
        log.warning("skipped audio: %s", summary["skipped_audio"]["by_reason"])
    setup = trainer = data = valid_data = None  # DDP model and loader workers go before the process group
    distributed.shutdown()
    return 0


def _set_up(args, device):
    from audiotext.data.sources import SourceSet, index_manifest, make_stream, training_sources
    from audiotext.experiment import build_task, load_experiment, save_experiment
    from audiotext.train import distributed
    from audiotext.train.init import init_from_checkpoint
    from audiotext.train.trainer import Trainer

    exp = load_experiment(args.config, args.overrides)
    exp_dir = Path(args.exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    resume = args.resume or int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    latest = exp_dir / "checkpoints" / "LATEST"
    if latest.is_file() and not resume:
        raise ValueError(f"{exp_dir} already holds checkpoints ({latest} names {latest.read_text().strip()}): pass "
                         "--resume to continue that run, or give another --exp-dir")
    torch.manual_seed(exp.trainer.seed)  # the same initial weights on every rank and every start
    index_dir = exp_dir / "data_index"
    # rank 0 indexes the manifests (once per experiment); the others then read its index
    if distributed.is_main():
        train_sources = training_sources(exp.data, index_dir)
    distributed.barrier()
    if not distributed.is_main():
        train_sources = training_sources(exp.data, index_dir)
    valid_sources = None
    if exp.data.valid_cuts:
        if distributed.is_main():
            index_manifest("valid", exp.data.valid_cuts, index_dir)
        distributed.barrier()
        valid_sources = SourceSet([index_manifest("valid", exp.data.valid_cuts, index_dir)], [1.0])

    task = build_task(exp)
    files = {}
    if distributed.is_main():
        save_experiment(exp, str(exp_dir))
        files = checkpoint_config(exp, exp_dir)
    n_params = sum(p.numel() for p in task.parameters())
    log.info("task %s: %.2fM parameters, device %s, world size %d, strategy %s", exp.task, n_params / 1e6, device,
             distributed.world_size(), exp.trainer.strategy)
    if not (resume and latest.is_file()):
        task.prepare(feature_stats_for(exp, task, train_sources))  # before wrapping: FSDP2 shards buffers too
        # after prepare: init_from's feature_mean/feature_std, when listed, replace this run's statistics
        init_from_checkpoint(task, exp.init_from, exp)
    elif exp.init_from.checkpoint:
        log.info("init_from %s is not applied: the run resumes from its own checkpoint", exp.init_from.checkpoint)
    trainer = Trainer(task, str(exp_dir), exp, device, checkpoint_files=files)
    resumed = resume and trainer.resume()
    if args.resume and not resumed:
        log.warning("--resume: no checkpoint in %s, starting a new run", exp_dir / "checkpoints")
    rank, world = distributed.rank(), distributed.world_size()
    data = make_stream(train_sources, task.build_dataset(exp.data, train=True, seed=exp.trainer.seed, rank=rank),
                       exp.data, exp.trainer.seed, train=True, world_size=world, rank=rank)
    valid_data = None
    if valid_sources is not None:
        valid_data = make_stream(valid_sources, task.build_dataset(exp.data, train=False, rank=rank), exp.data,
                                 exp.trainer.seed, train=False, world_size=world, rank=rank)
    trainer.place_data(data)  # here, so a position of another data order is a setup error (exit 2)
    return trainer, data, valid_data


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

    try:
        return run(args)
    finally:
        if distributed.is_distributed():  # an error ended the run: the other ranks may be gone
            distributed.shutdown(barrier=False)


if __name__ == "__main__":
    sys.exit(main())
