"""The fbank mean and standard deviation of a random sample of training clips, as JSON.

``python -m audiotext.bin.feature_stats --cuts data/manifests/cuts_train.jsonl.gz --out data/manifests/feature_stats.json``

A data stage: training reads the file (``data.feature_stats``) instead of computing statistics
itself. The clips are drawn uniformly from the whole manifest (``--num-clips``, seeded), with the
fbank settings of ``--config`` (an experiment YAML; default: the default fbank). Unusable clips are
skipped and counted in the file. Exit status 0 on success, 2 on a usage or data error.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from audiotext.bin.common import setup_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", required=True, help="training cut manifest")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--num-clips", type=int, default=300, help="size of the random sample (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", help="experiment YAML whose data.fbank (and encoder's minimum input) to use")
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.config import ConfigError
    from audiotext.data.audio_checks import default_min_input_seconds, min_input_samples
    from audiotext.data.feature_stats import compute_feature_stats, write_feature_stats
    from audiotext.data.sources import SourceConfig, open_sources
    from audiotext.experiment import load_experiment, registry_of

    if args.num_clips < 1:
        print("error: --num-clips must be >= 1", file=sys.stderr)
        return 2
    try:
        exp = load_experiment(args.config)
        fbank = exp.data.fbank
        if args.config:
            min_samples = min_input_samples(registry_of("encoder").get(exp.encoder), fbank)
        else:
            min_samples = int(round(default_min_input_seconds(fbank) * fbank.sample_rate))
        with tempfile.TemporaryDirectory() as index_dir:
            sources = open_sources([SourceConfig("train", args.cuts)], Path(index_dir))
            stats = compute_feature_stats(sources, fbank, min_samples, args.num_clips, seed=args.seed)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_feature_stats(stats, Path(args.out))
    print(f"feature statistics of {stats['clips']} clips ({stats['frames']} frames) -> {args.out}"
          + (f"; skipped {stats['skipped']}" if stats["skipped"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
