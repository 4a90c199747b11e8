"""Nested data-scale subsets of a curated training split (audiotext/data/subsets.py).

``python -m audiotext.bin.make_subsets --cuts data/manifests/cuts_train.jsonl.gz --scales conf/scales.yaml --out-dir data/scales [--only mini_s,mini_m]``

writes ``<out-dir>/<scale>/cuts_train.jsonl.gz`` for each scale of the file (or those named by
``--only``), ``<out-dir>/subsets.json`` (per scale: clips, captions, hours, and the same per source,
domain and style) and ``<out-dir>/<scale>/subset.png``, and prints a table; with ``--reuse`` a scale already made from the same
manifest file, seed, weights and size is kept. Every smaller scale is
inside every larger one; the selection hashes origin ids, so it is the same on every machine.
Exit status 0 on success, 2 on a usage or data error (one ``error:`` line).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audiotext.bin.common import setup_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", required=True, help="the curated training manifest")
    parser.add_argument("--scales", required=True, help="scales YAML (e.g. egs/captionstew/conf/scales.yaml)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--only", default="", help="comma-separated scale names to make (default: all of the file)")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a scale whose subset was made from the same manifest file (path, size, mtime), "
                             "seed, weights and size; remake the others")
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.config import ConfigError
    from audiotext.data.layout import LayoutError
    from audiotext.data.subsets import format_report, load_scales, make_subsets

    try:
        conf, scales = load_scales(args.scales)
        if args.only:
            wanted = [s for s in args.only.split(",") if s]
            unknown = sorted(set(wanted) - {s.name for s in scales})
            if unknown:
                raise ValueError(f"scale(s) {', '.join(unknown)} not in {args.scales} "
                                 f"(its scales: {', '.join(s.name for s in scales)})")
            scales = [s for s in scales if s.name in wanted]
        if Path(args.out_dir).exists() and not Path(args.out_dir).is_dir():
            raise ValueError(f"--out-dir {args.out_dir} exists and is not a directory")
        if Path(args.cuts).is_dir():
            raise ValueError(f"--cuts {args.cuts} is a directory; give the curated manifest (cuts_train.jsonl.gz)")
        report = make_subsets(args.cuts, Path(args.out_dir), scales, seed=conf.seed,
                              source_weights=conf.source_weights, plots=not args.no_plots, reuse=args.reuse)
    except UnicodeDecodeError:
        print(f"error: --scales {args.scales} is not a YAML text file", file=sys.stderr)
        return 2
    except (ConfigError, FileNotFoundError, LayoutError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
