"""Sweeps over (objective × data scale × initialisation): the plan, and the scaling table and plots.

A **plan** (YAML, e.g. ``egs/captionstew/conf/sweep_mini.yaml``) says which runs to make and how
to show them::

    name: mini                      # the sweep's folder: <exp_root>/sweep_<name>
    scales_config: conf/scales.yaml # where the scale names are defined
    recipe_args: [--eval_config, conf/eval_sweep.yaml]   # passed to every recipe call
    runs:                           # each entry: every objective × every scale, with one init
      - {objectives: [contrastive, captioning], scales: [mini_s, mini_m, mini_l], init: scratch}
      - {objectives: [contrastive], scales: [mini_s, mini_l], init: audioset}
    inits:                          # named initialisations: a checkpoint, and how to make it
      audioset: {checkpoint: exp/captionstew_tagger/checkpoints/best, make: [local/train_tagger.sh]}
    groups:                         # table columns and plot panels, grouped as the paper groups them
      sound: [probe.sound_effect.linear.pretrained]
      language: [retrieval.t2a.R@1, caption.cider_d]

The table has one row per run (objective, init, scale with its size) and one column per metric,
under its group; the plots draw each metric against the scale's size in captions (log axis), one
line per (objective, init): scratch solid, initialised dashed. A metric a run does not produce (a
captioning model has no retrieval space) is shown as a dash.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from audiotext.config import ConfigError, dataclass_from_dict, load_yaml

SCRATCH = "scratch"


@dataclass
class InitSpec:
    checkpoint: str = ""
    make: List[str] = field(default_factory=list)  # command (run in the recipe folder) that makes it


@dataclass
class RunGroup:
    objectives: List[str] = field(default_factory=list)
    scales: List[str] = field(default_factory=list)
    init: str = SCRATCH


@dataclass
class SweepPlan:
    name: str = "sweep"
    scales_config: str = "conf/scales.yaml"
    scale_dir: str = "data/scales"
    exp_root: str = "exp"
    recipe: str = "./run.sh"
    recipe_args: List[str] = field(default_factory=list)
    runs: List[RunGroup] = field(default_factory=list)
    inits: Dict[str, InitSpec] = field(default_factory=dict)
    groups: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        return Path(self.exp_root) / f"sweep_{self.name}"


@dataclass(frozen=True)
class Run:
    objective: str
    scale: str
    init: str

    @property
    def tag(self) -> str:
        return f"{self.objective}_{self.scale}_{self.init}"


_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def load_plan(path: str, scale_names: Optional[Sequence[str]] = None) -> SweepPlan:
    """Read and check a plan (ConfigError naming the entry): names are plain, every run's init is
    ``scratch`` or named under ``inits`` with a checkpoint, scales are those of ``scale_names``."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"sweep plan not found: {path}")
    plan = dataclass_from_dict(SweepPlan, load_yaml(path) or {}, str(path))
    if not _NAME.fullmatch(plan.name):
        raise ConfigError(f"{path}: name {plan.name!r} may hold only letters, digits, '_', '.' and '-'")
    if not plan.runs:
        raise ConfigError(f"{path}: runs is empty")
    for i, group in enumerate(plan.runs):
        where = f"{path}: runs[{i}]"
        if not group.objectives or not group.scales:
            raise ConfigError(f"{where}: needs objectives and scales")
        for value in group.objectives + group.scales + [group.init]:
            if not _NAME.fullmatch(value):
                raise ConfigError(f"{where}: {value!r} may hold only letters, digits, '_', '.' and '-'")
        if group.init != SCRATCH and group.init not in plan.inits:
            raise ConfigError(f"{where}: init {group.init!r} is neither scratch nor one of inits "
                              f"({', '.join(plan.inits) or 'none defined'})")
        if scale_names is not None:
            unknown = [s for s in group.scales if s not in scale_names]
            if unknown:
                raise ConfigError(f"{where}: scale(s) {unknown} are not in {plan.scales_config} "
                                  f"({', '.join(scale_names)})")
    for name, spec in plan.inits.items():
        if name == SCRATCH or not _NAME.fullmatch(name):
            raise ConfigError(f"{path}: inits.{name}: a plain name other than scratch is needed")
        if not spec.checkpoint:
            raise ConfigError(f"{path}: inits.{name}: checkpoint is missing")
    if not plan.groups:
        raise ConfigError(f"{path}: groups is empty (which metrics go in the table)")
    return plan


def plan_runs(plan: SweepPlan) -> List[Run]:
    """Every run of the plan once, in plan order (scratch runs of a group before later groups)."""
    seen, out = set(), []
    for group in plan.runs:
        for objective in group.objectives:
            for scale in group.scales:
                run = Run(objective, scale, group.init)
                if run not in seen:
                    seen.add(run)
                    out.append(run)
    return out


def read_results(path: Path) -> Dict[str, float]:
    data = json.loads(Path(path).read_text())
    results = data.get("results", data) if isinstance(data, dict) else {}
    return {k: float(v) for k, v in results.items() if isinstance(v, (int, float))}


def _metric_label(key: str) -> str:
    """``probe.sound_effect.linear.pretrained`` -> ``sound_effect``; ``retrieval.t2a.R@1`` -> ``t2a R@1``."""
    parts = key.split(".")
    if parts[0] in ("probe", "lowres") and len(parts) >= 2:
        return parts[1]
    if parts[0] == "retrieval":
        return " ".join(parts[1:])
    if parts[0] == "caption":
        return " ".join(parts[1:]).replace("cider_d", "CIDEr-D")
    return key


def scaling_rows(plan: SweepPlan, runs: Sequence[Run], results: Dict[Run, Dict[str, float]],
                 sizes: Dict[str, Dict[str, float]]) -> List[Dict[str, Any]]:
    """One row per finished run: objective, init, scale, its captions/hours, and every metric of
    ``plan.groups`` (None when the run lacks it). Sorted by objective, init, size."""
    rows = []
    for run in runs:
        if run not in results:
            continue
        row: Dict[str, Any] = {"objective": run.objective, "init": run.init, "scale": run.scale,
                               "captions": sizes.get(run.scale, {}).get("captions"),
                               "hours": sizes.get(run.scale, {}).get("hours")}
        for metrics in plan.groups.values():
            for key in metrics:
                row[key] = results[run].get(key)
        rows.append(row)
    rows.sort(key=lambda r: (r["objective"], r["init"] != SCRATCH, r["init"], r["captions"] or 0))
    return rows


def _fmt(value: Optional[float]) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def markdown_table(plan: SweepPlan, rows: List[Dict[str, Any]]) -> str:
    """The scaling table: a header row of groups, then one of metric names, then the runs."""
    metrics = [(g, k) for g, keys in plan.groups.items() for k in keys]
    head = ["objective", "init", "scale", "captions", "hours"] + [f"{g}: {_metric_label(k)}" for g, k in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["objective"], r["init"], r["scale"], f"{int(r['captions']):,}" if r["captions"] else "–",
                 f"{r['hours']:.2f}" if r["hours"] is not None else "–"] + [_fmt(r.get(k)) for _, k in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_scaling(plan: SweepPlan, rows: List[Dict[str, Any]], out_png: Path) -> Path:
    """Each metric against captions (log x), one panel per metric in group order, one line per
    (objective, init): scratch solid, initialised dashed, colour per objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [(g, k) for g, keys in plan.groups.items() for k in keys]
    cols = min(4, len(metrics))
    nrows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False)
    objectives = sorted({r["objective"] for r in rows})
    colors = {o: f"C{i}" for i, o in enumerate(objectives)}
    for ax, (group, key) in zip(axes.flat, metrics):
        drawn = False
        for (objective, init) in sorted({(r["objective"], r["init"]) for r in rows}):
            points = sorted((r["captions"], r[key]) for r in rows if r["objective"] == objective
                            and r["init"] == init and r.get(key) is not None and r["captions"])
            if not points:
                continue
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", color=colors[objective], linestyle="-" if init == SCRATCH else "--",
                    label=f"{objective}, {init}")
            drawn = True
        ax.set_xscale("log")
        ax.set_title(f"{group}: {_metric_label(key)}", fontsize=10)
        ax.set_xlabel("training captions")
        if drawn:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no run has this metric", ha="center", va="center", transform=ax.transAxes)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.suptitle(f"sweep {plan.name}: scores against data size")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return out_png
