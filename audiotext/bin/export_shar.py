"""Export a cut manifest with its audio as a Lhotse Shar directory, a training source of its own.

``python -m audiotext.bin.export_shar --cuts data/manifests/cuts_train.jsonl.gz --out data/shar/train``

Writes ``cuts.NNNNNN.jsonl.gz`` + ``recording.NNNNNN.tar`` per shard of ``--shard-size`` cuts and a
``shar_info.json`` (shards, cuts, hours, audio format, source manifest, unreadable cuts skipped).
Training reads it as ``data.sources: [{name: train, shar: data/shar/train}]``; each rank then reads
its own shards, so give at least as many shards as training processes. ``--audio original`` keeps
each file's format (re-encoded by lhotse as 16-bit PCM), ``flac`` / ``wav`` re-encode all to one.
A cut whose audio cannot be read is skipped, counted and logged. Exit status 0 on success, 2 on a
usage or data error (a missing manifest, an output directory that already holds shards).
"""
from __future__ import annotations

import argparse
import sys

from audiotext.bin.common import setup_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", required=True, help="cut manifest (.jsonl or .jsonl.gz)")
    parser.add_argument("--out", required=True, help="Shar directory to create (must hold no shards yet)")
    parser.add_argument("--audio", default="original", choices=["original", "flac", "wav"],
                        help="audio format in the tars (default: original)")
    parser.add_argument("--shard-size", type=int, default=1000, help="cuts per shard (default 1000)")
    parser.add_argument("--jobs", type=int, default=1, help="processes writing shards (default 1)")
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.data.shar import export_shar

    try:
        info = export_shar(args.cuts, args.out, audio=args.audio, shard_size=args.shard_size, jobs=args.jobs)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{info['cuts']} cuts ({info['hours']:.2f} h) in {info['shards']} shards -> {args.out}"
          + (f"; skipped {info['skipped_unreadable']} with unreadable audio" if info["skipped_unreadable"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
