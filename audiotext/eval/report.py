"""Markdown reports with PNG plots from results.json files.

Key scheme of results.json (flat metric -> number), written by audiotext.bin.evaluate:
  retrieval.{t2a,a2t}.{R@1,R@5,R@10,mAP@10}, retrieval.chance.R@1
  caption.{bleu_1..4,rouge_l,cider_d[,meteor]}, caption.baseline.<metric>
  zeroshot.<task>
  probe.<task>.{pretrained,random_init}                      linear probe, all labels
  probe.<task>.<kind>.{pretrained,random_init}               kind: linear | mlp | attention
  probe.<task>.<kind>.{gain,ci95_low,ci95_high}             pretrained minus random init, paired
                                                             bootstrap 95% interval over test clips
  lowres.<task>.<kind>.<percent>.{pretrained,random_init}    mean over seeds
  diag.<model>.{rankme,uniformity}, diag.alignment
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

MODELS = ("pretrained", "random_init")
_PROBE = re.compile(r"^probe\.([^.]+)\.([^.]+)\.(pretrained|random_init)$")
_LOWRES = re.compile(r"^lowres\.([^.]+)\.([^.]+)\.([0-9.]+)\.(pretrained|random_init)$")


def probe_scores(results: Dict[str, float]) -> Dict[Tuple[str, str], Dict[str, float]]:
    """(task, kind) -> {model: score}."""
    out: Dict[Tuple[str, str], Dict[str, float]] = {}
    for key, value in results.items():
        m = _PROBE.match(key)
        if m:
            out.setdefault((m.group(1), m.group(2)), {})[m.group(3)] = value
    return dict(sorted(out.items()))


def lowres_curves(results: Dict[str, float]) -> Dict[Tuple[str, str], Dict[str, Dict[float, float]]]:
    """(task, kind) -> {model: {label percent: score}}."""
    out: Dict[Tuple[str, str], Dict[str, Dict[float, float]]] = {}
    for key, value in results.items():
        m = _LOWRES.match(key)
        if m:
            out.setdefault((m.group(1), m.group(2)), {}).setdefault(m.group(4), {})[float(m.group(3))] = value
    return dict(sorted(out.items()))


def _fmt(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _gain_cell(results: Dict[str, float], task: str, kind: str, scores: Dict[str, float]) -> str:
    key = f"probe.{task}.{kind}"
    if f"{key}.gain" in results:
        return (f"{results[key + '.gain']:+.3f} [{results[key + '.ci95_low']:+.3f}, "
                f"{results[key + '.ci95_high']:+.3f}]")
    return f"{scores['pretrained'] - scores['random_init']:+.3f}" if len(scores) == 2 else "–"


def plot_probes(results: Dict[str, float], path: Path) -> bool:
    scores = probe_scores(results)
    if not scores:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{task}\n{kind}" for task, kind in scores]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(labels)), 4.0))
    x = range(len(labels))
    for offset, model, color in ((-0.2, "pretrained", "tab:blue"), (0.2, "random_init", "tab:gray")):
        ax.bar([i + offset for i in x], [v.get(model, 0.0) for v in scores.values()], width=0.4, label=model,
               color=color)
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("test score (accuracy or mAP)")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("Frozen-encoder probes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_lowres(results: Dict[str, float], path: Path) -> bool:
    curves = lowres_curves(results)
    if not curves:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({task for task, _ in curves})
    cols = min(3, len(tasks))
    rows = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colors = {"linear": "tab:blue", "mlp": "tab:orange", "attention": "tab:green"}
    for ax, task in zip(axes.flat, tasks):
        for (t, kind), by_model in curves.items():
            if t != task:
                continue
            for model, style in (("pretrained", "-o"), ("random_init", ":x")):
                points = sorted(by_model.get(model, {}).items())
                if points:
                    ax.plot([p for p, _ in points], [s for _, s in points], style, color=colors.get(kind),
                            label=f"{kind} ({model})", markersize=4)
        ax.set_xscale("log")
        ax.set_xlabel("% of training labels")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def experiment_report(results: Dict[str, float], name: str, out_dir: Path,
                      details: Optional[Dict] = None) -> Path:
    """Write ``report.md`` (+ ``probes.png``, ``lowres.png``) for one experiment into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {name}", ""]
    if "retrieval.t2a.R@1" in results:
        lines += ["## Retrieval (test split)", ""]
        rows = [[d] + [_fmt(results.get(f"retrieval.{d}.{m}")) for m in ("R@1", "R@5", "R@10", "mAP@10")]
                for d in ("t2a", "a2t")]
        lines += _table(["direction", "R@1", "R@5", "R@10", "mAP@10"], rows)
        lines += ["", f"Chance R@1: {_fmt(results.get('retrieval.chance.R@1'))}.", ""]
    if "caption.cider_d" in results:
        metrics = [m for m in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider_d", "meteor")
                   if f"caption.{m}" in results]
        lines += ["## Captioning (test split)", ""]
        lines += _table(["system"] + metrics, [
            ["model"] + [_fmt(results.get(f"caption.{m}")) for m in metrics],
            ["most frequent training caption"] + [_fmt(results.get(f"caption.baseline.{m}")) for m in metrics]])
        lines.append("")
    zeroshot = sorted(k for k in results if k.startswith("zeroshot."))
    if zeroshot:
        lines += ["## Zero-shot classification", ""]
        lines += _table(["task", "accuracy"], [[k.split(".", 1)[1], _fmt(results[k])] for k in zeroshot])
        lines.append("")
    scores = probe_scores(results)
    if scores:
        lines += ["## Frozen-encoder probes (all training labels)", ""]
        lines += _table(["task", "probe", "pretrained", "random init", "gain [95% CI]"], [
            [task, kind, _fmt(v.get("pretrained")), _fmt(v.get("random_init")), _gain_cell(results, task, kind, v)]
            for (task, kind), v in scores.items()])
        lines += ["", "Gain: pretrained minus random init; the interval is a paired bootstrap over the test clips "
                  "(accuracy tasks with a fixed test split).", ""]
        if plot_probes(results, out_dir / "probes.png"):
            lines += ["![probe scores](probes.png)", ""]
    curves = lowres_curves(results)
    if curves:
        percents = sorted({p for v in curves.values() for m in v.values() for p in m})
        lines += ["## Low-resource probes (mean over seeds; pretrained / random init)", ""]
        rows = []
        for (task, kind), by_model in curves.items():
            rows.append([task, kind] + [
                f"{_fmt(by_model.get('pretrained', {}).get(p))} / {_fmt(by_model.get('random_init', {}).get(p))}"
                for p in percents])
        lines += _table(["task", "probe"] + [f"{p:g}%" for p in percents], rows)
        lines.append("")
        if plot_lowres(results, out_dir / "lowres.png"):
            lines += ["![low-resource curves](lowres.png)", ""]
    diag = sorted(k for k in results if k.startswith("diag."))
    if diag:
        lines += ["## Label-free diagnostics (test split)", ""]
        lines += _table(["diagnostic", "value"], [[k[len("diag."):], _fmt(results[k])] for k in diag])
        lines.append("")
    if details and "wall_seconds" in details:
        lines += [f"Evaluation took {details['wall_seconds']:.0f} s.", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


HEADLINE = [
    ("retrieval t2a R@1", "retrieval.t2a.R@1"),
    ("retrieval a2t R@1", "retrieval.a2t.R@1"),
    ("CIDEr-D", "caption.cider_d"),
    ("CIDEr-D baseline", "caption.baseline.cider_d"),
    ("BLEU-4", "caption.bleu_4"),
    ("ROUGE-L", "caption.rouge_l"),
]


def comparison_report(named_results: Dict[str, Dict[str, float]], out_path: Path, title: str = "Comparison") -> Path:
    """One markdown table across experiments (objectives, scales): headline metrics,
    zero-shot, and every probe (pretrained score, random init in brackets)."""
    names = list(named_results)
    rows = []
    for label, key in HEADLINE:
        if any(key in r for r in named_results.values()):
            rows.append([label] + [_fmt(named_results[n].get(key)) for n in names])
    for key in sorted({k for r in named_results.values() for k in r if k.startswith("zeroshot.")}):
        rows.append([f"zero-shot {key.split('.', 1)[1]}"] + [_fmt(named_results[n].get(key)) for n in names])
    probe_keys = sorted({tk for r in named_results.values() for tk in probe_scores(r)})
    for task, kind in probe_keys:
        cells = []
        for n in names:
            v = probe_scores(named_results[n]).get((task, kind), {})
            cells.append(f"{_fmt(v.get('pretrained'))} ({_fmt(v.get('random_init'))})" if v else "–")
        rows.append([f"probe {task} {kind}"] + cells)
    for task, kind in probe_keys:
        if any(f"probe.{task}.{kind}.gain" in r for r in named_results.values()):
            rows.append([f"gain {task} {kind} [95% CI]"] + [
                _gain_cell(r, task, kind, {}) if f"probe.{task}.{kind}.gain" in r else "–"
                for r in named_results.values()])
    curve_keys = sorted({tk for r in named_results.values() for tk in lowres_curves(r) if tk[1] == "linear"})
    for task, kind in curve_keys:
        percents = sorted({p for r in named_results.values() for p in lowres_curves(r).get((task, kind), {})
                           .get("pretrained", {}) if p < 100})
        for pct in percents:
            cells = []
            for n in names:
                by_model = lowres_curves(named_results[n]).get((task, kind), {})
                pre, rnd = by_model.get("pretrained", {}).get(pct), by_model.get("random_init", {}).get(pct)
                cells.append(f"{_fmt(pre)} ({_fmt(rnd)})" if pre is not None else "–")
            rows.append([f"probe {task} {kind} {pct:g}% labels"] + cells)
    lines = [f"# {title}", "", "Probe cells: pretrained (random init of the same architecture). Gain rows: "
             "pretrained minus random init on the same test clips, with a paired bootstrap 95% interval.", ""]
    lines += _table(["metric"] + names, rows)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines) + "\n")
    return out_path
