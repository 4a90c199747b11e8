"""Prepare one caption corpus, read as distributed, into Lhotse manifests.

``python -m audiotext.bin.prepare_corpus NAME CORPUS_DIR OUT_DIR [--jobs N] [--audio-dir DIR]
[--subsets a,b]`` writes ``OUT_DIR/cuts_<split>.jsonl.gz`` (split: train, valid, test) and
``OUT_DIR/prepare_summary.json`` (clips, missing audio, and every caption slot counted as empty,
duplicate, on missing audio or clean). A missing or malformed file stops the run with one
``error:`` line naming the file and line (exit status 2); audio listed but absent is counted.
"""
from __future__ import annotations

import argparse
import sys

from audiotext.bin.common import add_plugin_args, load_plugins, setup_logging


def main(argv=None) -> int:
    from audiotext.data.corpora import CORPORA

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help=f"corpus: {', '.join(CORPORA.names())}")
    parser.add_argument("corpus_dir", help="the corpus as downloaded (its metadata files, and audio unless --audio-dir)")
    parser.add_argument("out_dir")
    parser.add_argument("--jobs", type=int, default=1, help="processes reading audio headers")
    parser.add_argument("--audio-dir", action="append", default=[], metavar="DIR",
                        help="search audio here (recursively) instead of CORPUS_DIR; repeatable")
    parser.add_argument("--subsets", default="", help="comma-separated subsets, or 'all' (corpora that have subsets)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="a field of the preparer's Config (e.g. audiosetcaps captions=original); repeatable")
    add_plugin_args(parser)
    args = parser.parse_args(argv)
    setup_logging()
    load_plugins(args)

    from audiotext.data.corpora import prepare_corpus
    from audiotext.data.layout import DataLayoutError
    from audiotext.registry import RegistryError

    from audiotext.config import ConfigError

    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()] or None
    try:
        conf = {}
        for item in args.conf:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError(f"--conf {item!r} must look like KEY=VALUE")
            conf[key.strip()] = value
        summary = prepare_corpus(args.name, args.corpus_dir, args.out_dir, audio_dirs=args.audio_dir,
                                 subsets=subsets, jobs=max(1, args.jobs), conf=conf)
    except (DataLayoutError, RegistryError, ConfigError, ValueError, OSError) as err:
        print(f"error: {args.name}: {err}", file=sys.stderr)
        return 2
    total = summary["total"]
    print(f"{args.name}: {total['clips_written']} clips, {total['captions_clean'] + total['captions_derived']} "
          f"captions written ({total['hours']} h); {total['clips_missing_audio']} clips without audio; "
          f"summary in {args.out_dir}/prepare_summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
