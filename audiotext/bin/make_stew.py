"""Curate per-corpus CutSets into the training manifests the recipe stages read.

``python -m audiotext.bin.make_stew --out-dir data/manifests --split train=a_train.jsonl.gz,b_train.jsonl.gz
--split valid=... --split test=...`` writes ``cuts_<split>.jsonl.gz`` and ``curation.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from audiotext.bin.common import setup_logging

log = logging.getLogger("audiotext.make_stew")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--split", action="append", required=True, metavar="NAME=CUTS[,CUTS...]",
                        help="a split and the CutSet manifests it merges; repeatable")
    parser.add_argument("--max-clip-duration", type=float, default=30.0)
    parser.add_argument("--min-clip-duration", type=float, default=0.5)
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.data.curation import CurationConfig, curate
    from audiotext.data.dataset import load_cuts

    conf = CurationConfig(min_clip_duration=args.min_clip_duration, max_clip_duration=args.max_clip_duration)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = {}
    for spec in args.split:
        if "=" not in spec:
            print(f"error: --split {spec!r} must look like NAME=CUTS[,CUTS...]", file=sys.stderr)
            return 2
        name, paths = spec.split("=", 1)
        try:
            sources = [load_cuts(p, f"split {name}") for p in paths.split(",") if p]
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        cuts, report = curate(sources, conf, where=name)
        out = out_dir / f"cuts_{name}.jsonl.gz"
        tmp = out.with_name("tmp_" + out.name)  # lhotse picks the format from the suffix
        cuts.to_file(tmp)
        tmp.replace(out)
        reports[name] = report
        log.info("%s: %d clips, %d captions, %.2f h -> %s", name, report["clips"], report["captions"],
                 report["hours"], out)
    (out_dir / "curation.json").write_text(json.dumps(reports, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
