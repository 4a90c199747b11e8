"""Evaluate a checkpoint with the suite an evaluation YAML describes (audiotext/eval/suite.py):
retrieval, captioning and zero-shot on the test split, frozen-encoder probes
(linear / MLP / attention pooling; k-fold; low-resource label fractions) and
label-free diagnostics.

``python -m audiotext.bin.evaluate --model-dir EXP/checkpoints/best --cuts-dir data/manifests
--eval-config conf/eval.yaml --out EXP/results.json``

Each probe runs on the trained encoder and, in the same run, on the same
architecture at random initialisation, so the two numbers compare directly.
Writes results.json (flat metric -> number) and results_details.json beside it.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from audiotext.bin.common import add_plugin_args, load_plugins, setup_logging
from audiotext.config import ConfigError, dataclass_from_dict, load_yaml

log = logging.getLogger("audiotext.evaluate")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="checkpoint or exported model directory")
    parser.add_argument("--cuts-dir", required=True, help="directory holding the train/valid/test CutSets")
    parser.add_argument("--eval-config", required=True, help="YAML describing the evaluation suite")
    parser.add_argument("--out", required=True, help="results.json to write (flat metric -> number)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--audio-only", action="store_true",
                        help="load only the audio side (no text tower): probes and diagnostics, no retrieval, "
                             "captioning or zero-shot")
    add_plugin_args(parser)
    args = parser.parse_args(argv)
    setup_logging()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load_plugins(args)

    from audiotext.eval.suite import EvalConfig, resolve_tasks, run_suite
    from audiotext.embedding import AudioModel, load_audio_model
    from audiotext.experiment import experiment_from_dir, load_task_from_dir

    try:
        conf = dataclass_from_dict(EvalConfig, load_yaml(args.eval_config), args.eval_config)
        resolve_tasks(conf, args.cuts_dir)  # every task's files exist, before any compute
        if args.audio_only:
            task, exp = load_audio_model(args.model_dir), experiment_from_dir(args.model_dir)
        else:
            task, exp = load_task_from_dir(args.model_dir)
    except (ConfigError, FileNotFoundError, ValueError) as err:  # WeightsError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2

    def random_task():
        torch.manual_seed(conf.random_init_seed)
        model = AudioModel(exp)  # same audio architecture, untrained (probes need nothing else)
        model.feature_mean.copy_(task.feature_mean)  # same input normalisation: a fair baseline
        model.feature_std.copy_(task.feature_std)
        return model

    try:
        results, details = run_suite(task, conf, args.cuts_dir, random_task)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    details["model_dir"] = str(args.model_dir)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    out.with_name(out.stem + "_details.json").write_text(json.dumps(details, indent=2, sort_keys=True) + "\n")
    log.info("wrote %s (%d metrics) in %.0f s", out, len(results), details["wall_seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
