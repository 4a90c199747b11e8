"""Prepare a downstream probing data set from its official on-disk layout as Lhotse CutSets.

``python -m audiotext.bin.prepare_downstream NAME CORPUS_DIR OUT_DIR [--jobs N] [--sampling-rate SR]``

Writes OUT_DIR/cuts_<split>.jsonl.gz and OUT_DIR/prepare_summary.json, and prints the summary.
Data-set options: ``--top-k`` (mtat), ``--split-dir`` (gtzan: the fault-filtered split lists),
``--audio-dir`` (vggsound: where the clips are, default CORPUS_DIR), ``--splits`` (nsynth).
Exit status 2 on a missing or malformed input (the message names the path).
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys

from audiotext.data.downstream import PREPARERS, DownstreamError, read_summary

NAMES = tuple(PREPARERS)
# command-line flag destination -> preparer keyword, for the options only some preparers take
OPTIONAL = {"top_k": "top_k", "split_dir": "split_dir", "audio_dir": "audio_dir", "splits": "splits",
            "keep_untagged": "keep_untagged"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=NAMES, metavar="NAME", help="data set: " + ", ".join(NAMES))
    parser.add_argument("corpus_dir", metavar="CORPUS_DIR", help="the data set as distributed (unpacked)")
    parser.add_argument("output_dir", metavar="OUT_DIR", help="where the CutSets and the summary go")
    parser.add_argument("--jobs", type=int, default=1, help="threads reading audio headers")
    parser.add_argument("--sampling-rate", type=int, default=None,
                        help="add a lazy resampling transform to recordings at another rate")
    parser.add_argument("--top-k", type=int, default=None, help="mtat: number of most frequent tags (default 50)")
    parser.add_argument("--keep-untagged", action="store_true", default=None,
                        help="mtat: keep clips with none of the top-k tags")
    parser.add_argument("--split-dir", default=None,
                        help="gtzan: directory with {train,valid,test}_filtered.txt (default: 10 folds)")
    parser.add_argument("--audio-dir", default=None, help="vggsound: directory searched for the clips")
    parser.add_argument("--splits", nargs="+", default=None, help="nsynth: which of train valid test to read")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare = PREPARERS[args.name]
    accepted = inspect.signature(prepare).parameters
    options = {"num_jobs": args.jobs, "sampling_rate": args.sampling_rate}
    for dest, keyword in OPTIONAL.items():
        value = getattr(args, dest)
        if value is None:
            continue
        if keyword not in accepted:
            flag = "--" + dest.replace("_", "-")
            print(f"error: {flag} does not apply to {args.name}", file=sys.stderr)
            return 2
        options[keyword] = value
    try:
        paths = prepare(args.corpus_dir, args.output_dir, **options)
    except (DownstreamError, OSError, ValueError) as err:
        print(f"error: {args.name}: {err}", file=sys.stderr)
        return 2
    summary = read_summary(args.output_dir)
    summary.pop("skipped_examples", None)
    summary.pop("label_counts", None)
    print(json.dumps({"files": {split: str(path) for split, path in paths.items()}, **summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
