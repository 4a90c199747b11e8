"""Build CaptionStew-mini: real and synthetic audio written in the official layouts of six caption
corpora, plus held-out probe sets (see audiotext/data/captionstew_mini/build.py).

``python -m audiotext.bin.build_captionstew_mini --out data/captionstew_mini [--seed 0] [--jobs 2] [--scale 1.0]``

Writes OUT/corpora/<corpus>/ (read by ``python -m audiotext.bin.prepare_corpus``), OUT/probes/<task>/
cuts_*.jsonl.gz and OUT/summary.json, and prints the summary.
"""
from __future__ import annotations

import argparse
import json
import sys

from audiotext.bin.common import setup_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every clip count (1.0: ~5,000 clips)")
    args = parser.parse_args(argv)
    setup_logging()
    if not 0 < args.scale <= 10:
        print(f"error: --scale must be in (0, 10], got {args.scale}", file=sys.stderr)
        return 2

    from audiotext.data.captionstew_mini import MissingToolError, build

    try:
        summary = build(args.out, seed=args.seed, jobs=args.jobs, scale=args.scale)
    except (MissingToolError, OSError) as err:  # OSError: an --out that cannot be written, a missing file
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
