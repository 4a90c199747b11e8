"""Shared command-line plumbing: logging and plugin flags."""
from __future__ import annotations

import argparse
import logging
import os
import sys


def setup_logging(verbose: bool = False) -> None:
    rank = os.environ.get("RANK", "0")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=f"%(asctime)s [rank{rank}] %(levelname)s %(name)s: %(message)s",
    )
    if "torch" in sys.modules:  # a data tool never imports torch just to learn its rank
        from audiotext.train import distributed

        if distributed.rank() != 0:
            rank = "1"
    if rank != "0":
        logging.getLogger().setLevel(logging.WARNING)


def add_plugin_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user-dir", action="append", default=[], metavar="PATH",
                        help="import user plugins (components registered by decorator) from this directory; repeatable")


def load_plugins(args) -> None:
    from audiotext.plugins import load_plugins as _load

    _load(args.user_dir)
