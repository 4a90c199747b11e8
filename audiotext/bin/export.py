"""Export a training checkpoint as a self-contained model directory with a model card.

``python -m audiotext.bin.export --checkpoint EXP/checkpoints/best --out models/NAME [--results EXP/results.json]``

The directory holds model.safetensors (weights only), config.yaml, tokenizer.model
and README.md; load it with ``audiotext.load_pretrained(DIR)`` or ``audiotext.hear.load_model(DIR)``.
``--results`` / ``--train-summary`` default to results.json / train_summary.json of
the experiment directory (EXP of EXP/checkpoints/NAME) where those exist.
"""
from __future__ import annotations

import argparse
import sys

from audiotext.bin.common import add_plugin_args, load_plugins, setup_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory (config.yaml + model.safetensors)")
    parser.add_argument("--out", required=True, help="export directory to create")
    parser.add_argument("--results", default=None, help="results.json of the evaluation, for the model card")
    parser.add_argument("--train-summary", default=None, help="train_summary.json, for the model card")
    parser.add_argument("--force", action="store_true", help="replace an existing --out directory")
    add_plugin_args(parser)
    args = parser.parse_args(argv)
    setup_logging()
    load_plugins(args)

    from audiotext.export import ExportError, export_model

    try:
        out = export_model(args.checkpoint, args.out, results_json=args.results,
                           train_summary=args.train_summary, overwrite=args.force)
    except (ExportError, ValueError, FileNotFoundError) as err:  # ConfigError, WeightsError are ValueErrors
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported {args.checkpoint} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
