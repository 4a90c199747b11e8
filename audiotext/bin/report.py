"""Print one or more results.json files as a table, and write markdown reports.

    python -m audiotext.bin.report EXP/results.json                  # print
    python -m audiotext.bin.report EXP/results.json --markdown EXP/report   # report.md + PNG plots
    python -m audiotext.bin.report A/results.json B/results.json --compare docs/compare.md

Experiments are named after the directory holding their results.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def format_table(results: dict, names: list) -> str:
    keys = sorted(set().union(*[r.keys() for r in results.values()]))
    header = ["metric"] + names
    rows = [[k] + [_fmt(results[n].get(k)) for n in names] for k in keys]
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) and abs(v) < 100 else str(v)


def probe_summary(results: dict) -> list:
    lines = []
    tasks = sorted({k.split(".")[1] for k in results if k.startswith("probe.")})
    for t in tasks:
        pre, rnd = results.get(f"probe.{t}.pretrained"), results.get(f"probe.{t}.random_init")
        if pre is not None and rnd is not None:
            lines.append(f"probe {t}: pretrained {pre:.3f} vs random init {rnd:.3f} "
                         f"({'better' if pre > rnd else 'NOT better'})")
    if "retrieval.t2a.R@1" in results:
        ratio = results["retrieval.t2a.R@1"] / results["retrieval.chance.R@1"]
        lines.append(f"retrieval t2a R@1 = {ratio:.1f} x chance")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="+", help="results.json files")
    parser.add_argument("--markdown", help="directory for report.md and plots (one results file only)")
    parser.add_argument("--compare", help="markdown file comparing all the given experiments")
    parser.add_argument("--title", default="Comparison", help="title of the --compare report")
    args = parser.parse_args(argv)
    if args.markdown and len(args.results) != 1:
        print("error: --markdown takes exactly one results.json", file=sys.stderr)
        return 2
    loaded = {}
    for path in args.results:
        p = Path(path)
        if not p.is_file():
            print(f"error: no results file {p}", file=sys.stderr)
            return 2
        loaded[p.parent.name or str(p)] = json.loads(p.read_text())
    names = list(loaded)
    print(format_table(loaded, names))
    for name in names:
        for line in probe_summary(loaded[name]):
            print(f"[{name}] {line}")
    from audiotext.eval.report import comparison_report, experiment_report

    if args.markdown:
        results_path = Path(args.results[0])
        details_path = results_path.with_name(results_path.stem + "_details.json")
        details = json.loads(details_path.read_text()) if details_path.is_file() else None
        print(f"wrote {experiment_report(loaded[names[0]], names[0], Path(args.markdown), details)}")
    if args.compare:
        print(f"wrote {comparison_report(loaded, Path(args.compare), args.title)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
