"""Generate the mini_stew corpus (speech, music, sound with captions) as Lhotse manifests + WAVs.

``python -m audiotext.bin.prepare_mini_stew --out data/mini_stew [--num-clips 3000] [--seed 0] [--jobs 2]``

Writes DIR/wav/<split>/<clip_id>.wav and DIR/manifests/mini_stew_{recordings,supervisions,cuts}_<split>.jsonl.gz
plus DIR/manifests/summary.json, and prints the summary.
"""
from __future__ import annotations

import argparse
import json
import sys

from audiotext.bin.common import setup_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--num-clips", type=int, default=3000, help="clips in all splits (40%% speech, 30%% music, 30%% sound)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--splits", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VALID", "TEST"),
                        help="split fractions")
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.data.mini_stew import MissingToolError, build

    try:
        summary = build(args.out, num_clips=args.num_clips, seed=args.seed, jobs=args.jobs, splits=tuple(args.splits))
    except (MissingToolError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
