"""Curate prepared per-corpus CutSets into the training stew and its evaluation splits.

``python -m audiotext.bin.make_stew --out-dir data/manifests --split train=a/cuts_train.jsonl.gz,b/cuts_train.jsonl.gz
--split valid=... --split test=... [--eval-manifest data/downstream/esc50/cuts_test.jsonl.gz ...]``
writes ``cuts_<split>.jsonl.gz``, ``curation.json`` (every input caption kept or dropped with its
reason, statistics per domain, style and source) and ``curation_<split>.png``. The training split
is streamed through hash partitions (bounded memory at 10M captions), merged across sources by
``origin_id``, and kept away from every origin in the other splits and the ``--eval-manifest`` files.
A missing manifest or a malformed line stops with one ``error:`` line naming it (exit status 2) and
leaves the output folder as it was; a successful run replaces all of it (a split the earlier run
had and this one has not is removed).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from audiotext.bin.common import setup_logging

log = logging.getLogger("audiotext.make_stew")


def _source_caps(specs) -> dict:
    caps = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        if not name or not value.strip().isdigit():
            raise ValueError(f"--source-cap {spec!r} must look like SOURCE=MAX_CLIPS")
        caps[name] = int(value)
    return caps


def downstream_manifests(eval_config: Path, out_dir: Path) -> list:
    """The CutSets of every probe task of an evaluation config that names its own ``cuts_dir``
    (all of its splits or folds: probe training data is evaluation data too). A cuts_dir not
    prepared yet is reported, since its overlap cannot be checked; the curated output folder
    itself is never an evaluation set."""
    import yaml

    from audiotext.config import expand_path

    if not eval_config.is_file():
        raise FileNotFoundError(f"--eval-config: not found: {eval_config}")
    try:
        conf = yaml.safe_load(eval_config.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"--eval-config {eval_config}: not valid YAML: {err}") from None
    found = []
    for probe in conf.get("probes") or []:
        cuts_dir = (probe or {}).get("cuts_dir")
        if not cuts_dir:
            continue  # the run's own manifests
        directory = expand_path(cuts_dir, f"{eval_config}: probe {(probe or {}).get('name', '?')} cuts_dir")
        if directory.resolve() == out_dir.resolve():
            continue
        manifests = sorted(directory.glob("cuts_*.jsonl.gz"))
        if not manifests:
            log.warning("%s: probe %s has no manifests in %s yet (prepared by local/prepare_downstream.sh, or "
                        "by stage 0 for CaptionStew-mini's probes): training data is NOT checked for overlap "
                        "with it", eval_config, probe.get("name"), directory)
        found += [str(m) for m in manifests]
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--split", action="append", required=True, metavar="NAME=CUTS[,CUTS...]",
                        help="a split and the CutSet manifests it merges, in priority order; repeatable")
    parser.add_argument("--train-split", default="train", help="the split curated as training data")
    parser.add_argument("--eval-manifest", action="append", default=[], metavar="CUTS",
                        help="an evaluation set whose origins the training split must not contain; repeatable")
    parser.add_argument("--eval-config", default="", metavar="YAML",
                        help="an evaluation suite config: every manifest in the cuts_dir of its probes is an "
                             "evaluation set too (downstream data sets such as ESC-50, VoxCeleb1)")
    parser.add_argument("--min-clip-duration", type=float, default=1.0)
    parser.add_argument("--max-clip-duration", type=float, default=60.0)
    parser.add_argument("--min-caption-chars", type=int, default=3)
    parser.add_argument("--max-caption-chars", type=int, default=2000)
    parser.add_argument("--near-duplicate-jaccard", type=float, default=0.9,
                        help="captions of one clip this similar (word sets) are near duplicates; 1.0 keeps them")
    parser.add_argument("--source-cap", action="append", default=[], metavar="SOURCE=MAX_CLIPS",
                        help="at most this many training clips from a source; repeatable")
    parser.add_argument("--seed", type=int, default=0, help="seeds the shuffle and the cap selection")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=0, help="hash partitions (0: from the input size)")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.data.curation import CurationConfig, curate_splits, plot_statistics
    from audiotext.data.layout import DataLayoutError

    try:
        splits = {}
        for spec in args.split:
            if "=" not in spec:
                raise ValueError(f"--split {spec!r} must look like NAME=CUTS[,CUTS...]")
            name, paths = spec.split("=", 1)
            if name in splits:
                raise ValueError(f"--split {name} is given twice; list all its manifests in one --split")
            splits[name] = [p for p in paths.split(",") if p]
        if args.jobs < 1 or args.partitions < 0 or not 0.0 < args.near_duplicate_jaccard <= 1.0 \
                or args.min_clip_duration > args.max_clip_duration or args.min_caption_chars > args.max_caption_chars:
            raise ValueError("need --jobs >= 1, --partitions >= 0, 0 < --near-duplicate-jaccard <= 1, and each "
                             "minimum no larger than its maximum")
        out_resolved = Path(args.out_dir).resolve()
        for path in [p for paths in splits.values() for p in paths] + args.eval_manifest:
            if Path(path).resolve().parent == out_resolved:
                raise ValueError(f"input {path} is in --out-dir {args.out_dir}, which curation replaces; "
                                 "write the stew to another folder")
        conf = CurationConfig(min_clip_duration=args.min_clip_duration, max_clip_duration=args.max_clip_duration,
                              min_caption_chars=args.min_caption_chars, max_caption_chars=args.max_caption_chars,
                              near_duplicate_jaccard=args.near_duplicate_jaccard,
                              source_caps=_source_caps(args.source_cap), seed=args.seed,
                              num_partitions=args.partitions, jobs=args.jobs)
        out_dir = Path(args.out_dir)
        eval_manifests = list(args.eval_manifest)
        if args.eval_config:
            eval_manifests += downstream_manifests(Path(args.eval_config), out_dir)
        reports = curate_splits(splits, out_dir, conf, train_split=args.train_split,
                                eval_manifests=eval_manifests)
    except (DataLayoutError, ValueError, OSError) as err:
        print(f"error: make_stew: {err}", file=sys.stderr)
        return 2
    (out_dir / "curation.json").write_text(json.dumps(reports, indent=2) + "\n")
    for stale in out_dir.glob("curation_*.png"):  # an earlier run's splits
        stale.unlink()
    for name, report in reports.items():
        if not args.no_plots:
            plot_statistics(report, out_dir / f"curation_{name}.png")
        log.info("%s: %d clips, %d captions, %.2f h -> %s", name, report["clips"], report["captions"],
                 report["hours"], report["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
