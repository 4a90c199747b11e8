"""Run every (objective × scale × init) of a sweep plan through the recipe, then build the scaling
table and plots (audiotext/eval/scaling.py describes the plan).

``cd egs/captionstew && python -m audiotext.bin.sweep --plan conf/sweep_mini.yaml``
(or ``./run.sh --sweep_plan conf/sweep_mini.yaml``, which prepares the data first)

For each run it calls the recipe's training and evaluation stages
(``./run.sh --stage 4 --stop_stage 5 --objective O --scale S [--init CHECKPOINT]`` plus the plan's
``recipe_args``) into ``<exp_root>/sweep_<name>/<objective>_<scale>_<init>``, logging to
``logs/<run>.log`` there, and records the call in the run's ``sweep_run.json``. A run whose
``results.json`` exists is finished and skipped; an interrupted one resumes from its last checkpoint
(the recipe's stage 4 does); a run folder made by another call (the plan changed: steps, data, init)
is refused, never mixed into the table. A named init that an unfinished run needs is made first by
its ``make`` command, unless its training finished (``train_summary.json`` beside ``checkpoints/``). The sweep folder gets
``scaling.md`` (table and plot), ``scaling.json``, ``scaling.png`` and ``sweep_log.json`` (wall
time of every run). A failed run is reported with the end of its log; the others still run, and
the exit status is 1. Usage and plan errors: exit status 2 with one ``error:`` line.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path

from audiotext.bin.common import setup_logging

log = logging.getLogger("audiotext.sweep")


def recipe_command(plan, run) -> list:
    cmd = [plan.recipe, "--stage", "4", "--stop_stage", "5", "--objective", run.objective, "--scale", run.scale,
           "--scales_config", plan.scales_config, "--scale_dir", plan.scale_dir,
           "--exp_root", str(plan.out_dir), "--exp_tag", run.tag]
    if run.init != "scratch":
        cmd += ["--init", plan.inits[run.init].checkpoint, "--init_tag", run.init]
    return cmd + list(plan.recipe_args)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _call(cmd: list, log_path: Path) -> tuple:
    """Run ``cmd`` with its output into ``log_path``: (exit status, seconds); 127 when the command
    cannot be started (named in the log)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log_path, "a") as f:
        f.write(f"$ {shlex.join(cmd)}\n")
        f.flush()
        try:
            code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
        except OSError as err:
            f.write(f"cannot run {cmd[0]}: {err}\n")
            code = 127
    return code, time.time() - start


def init_ready(checkpoint: str) -> bool:
    """A named init is made when its checkpoint exists and, for ``<exp>/checkpoints/<name>``, its
    training finished (``<exp>/train_summary.json``): ``best`` is written at the first validation,
    long before an interrupted run's end."""
    path = Path(checkpoint)
    if not path.exists():
        return False
    if path.parent.name == "checkpoints":
        return (path.parent.parent / "train_summary.json").is_file()
    return True


RUN_RECORD = "sweep_run.json"  # in each run's folder: the recipe call that made it


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", required=True, help="sweep plan YAML (paths in it are relative to the recipe folder)")
    parser.add_argument("--dry-run", action="store_true", help="print the recipe calls and exit")
    parser.add_argument("--report-only", action="store_true", help="build the table and plots from finished runs")
    parser.add_argument("--recipe-arg", action="append", default=[], metavar="ARG",
                        help="appended to every recipe call, before the plan's recipe_args (repeatable; the stage "
                             "template passes its data and launcher options so)")
    args = parser.parse_args(argv)
    setup_logging()

    from audiotext.config import ConfigError
    from audiotext.data.subsets import load_scales
    from audiotext.eval.scaling import load_plan, markdown_table, plan_runs, plot_scaling, read_results, scaling_rows

    try:
        plan = load_plan(args.plan)
        _, scales = load_scales(plan.scales_config)
        plan = load_plan(args.plan, [s.name for s in scales])
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    runs = plan_runs(plan)
    out_dir = plan.out_dir
    plan.recipe_args = list(args.recipe_arg) + list(plan.recipe_args)
    if args.dry_run:
        for name in sorted({r.init for r in runs if r.init != "scratch"}):
            spec = plan.inits[name]
            if not init_ready(spec.checkpoint) and spec.make:
                print(f"{shlex.join(spec.make)}    # makes init {name}: {spec.checkpoint}")
        for run in runs:
            print(shlex.join(recipe_command(plan, run)))
        return 0

    sweep_log_path = out_dir / "sweep_log.json"
    sweep_log = json.loads(sweep_log_path.read_text()) if sweep_log_path.is_file() else {"runs": {}, "inits": {}}
    failed = []
    started = time.time()
    if not args.report_only:
        pending = [r for r in runs if not (out_dir / r.tag / "results.json").is_file()]
        for name in sorted({r.init for r in pending if r.init != "scratch"}):
            spec = plan.inits[name]
            if init_ready(spec.checkpoint):
                continue
            if not spec.make:
                print(f"error: init {name}: {spec.checkpoint} does not exist and the plan gives no make command",
                      file=sys.stderr)
                return 2
            log.info("init %s: making %s (%s)", name, spec.checkpoint, " ".join(spec.make))
            code, seconds = _call(list(spec.make), out_dir / "logs" / f"init_{name}.log")
            sweep_log["inits"][name] = {"seconds": round(seconds, 1), "status": code}
            if code != 0 or not init_ready(spec.checkpoint):
                print(f"error: init {name}: {' '.join(spec.make)} failed (status {code}); the end of "
                      f"{out_dir / 'logs' / f'init_{name}.log'}:\n{_tail(out_dir / 'logs' / f'init_{name}.log')}",
                      file=sys.stderr)
                failed += [r.tag for r in runs if r.init == name]
        for i, run in enumerate(runs, 1):
            exp_dir = out_dir / run.tag
            command = recipe_command(plan, run)
            record = exp_dir / RUN_RECORD
            made_by = json.loads(record.read_text()).get("command") if record.is_file() else None
            if made_by is not None and made_by != command:
                # a finished or half-made run of another plan (other steps, data, init): never mixed in
                log.error("run %s: %s was made by another recipe call:\n  %s\nnow:\n  %s\nremove the folder "
                          "to make it again, or give the changed plan another name", run.tag, exp_dir,
                          shlex.join(made_by), shlex.join(command))
                failed.append(run.tag)
                continue
            if (exp_dir / "results.json").is_file():
                log.info("run %d/%d %s: finished earlier, skipped", i, len(runs), run.tag)
                continue
            if run.tag in failed:
                continue
            exp_dir.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps({"command": command}, indent=1))
            # an evaluation marker without its results.json (deleted by hand) would skip stage 5
            (exp_dir / ".stage5_evaluate.done").unlink(missing_ok=True)
            log_path = out_dir / "logs" / f"{run.tag}.log"
            log.info("run %d/%d %s: started (log %s)", i, len(runs), run.tag, log_path)
            code, seconds = _call(command, log_path)
            sweep_log["runs"][run.tag] = {"seconds": round(seconds, 1), "status": code}
            if code != 0 or not (exp_dir / "results.json").is_file():
                log.error("run %s failed (status %d); the end of %s:\n%s", run.tag, code, log_path, _tail(log_path))
                failed.append(run.tag)
            else:
                log.info("run %d/%d %s: done in %.0f s", i, len(runs), run.tag, seconds)
            out_dir.mkdir(parents=True, exist_ok=True)
            sweep_log_path.write_text(json.dumps(sweep_log, indent=1))
        sweep_log["last_call_seconds"] = round(time.time() - started, 1)
        out_dir.mkdir(parents=True, exist_ok=True)
        sweep_log_path.write_text(json.dumps(sweep_log, indent=1))

    results = {r: read_results(out_dir / r.tag / "results.json") for r in runs
               if (out_dir / r.tag / "results.json").is_file() and r.tag not in failed}
    subsets = Path(plan.scale_dir) / "subsets.json"
    sizes = json.loads(subsets.read_text())["scales"] if subsets.is_file() else {}
    rows = scaling_rows(plan, runs, results, sizes)
    if not rows:
        print("error: no finished run to report", file=sys.stderr)
        return 1
    table = markdown_table(plan, rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = plot_scaling(plan, rows, out_dir / "scaling.png")
    (out_dir / "scaling.json").write_text(json.dumps({"plan": args.plan, "rows": rows}, indent=1))
    missing = [r.tag for r in runs if r not in results]
    (out_dir / "scaling.md").write_text(
        f"# Sweep {plan.name}\n\n`python -m audiotext.bin.sweep --plan {args.plan}`\n\n{table}\n\n"
        + (f"Not finished: {', '.join(missing)}\n\n" if missing else "") + f"![scaling]({png.name})\n")
    print(table)
    print(f"\ntable: {out_dir / 'scaling.md'}  plots: {png}")
    if failed:
        print(f"error: {len(failed)} run(s) failed: {', '.join(failed)} (logs in {out_dir / 'logs'})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
