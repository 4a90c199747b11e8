"""The sweep: plan checks, run order, skipping finished runs, the scaling table and plots.

The recipe is replaced by a small script that writes a results.json per run: what is tested here
is the orchestration and the table; the real recipe's stages are tested in test_recipe_stages and
run for real by the documented sweep."""
import json
import sys
from pathlib import Path

import pytest

from audiotext.bin import sweep
from audiotext.config import ConfigError
from audiotext.eval.scaling import Run, load_plan, plan_runs

STAND_IN = r'''
import json, sys
from pathlib import Path
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
with open("calls.log", "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\n")
if args["--scale"] == "broken":
    sys.exit(3)
size = {"s": 100, "l": 400}[args["--scale"]]
init = 0.05 if "--init" in args else 0.0
results = {"probe.a.linear.pretrained": size / 1000 + init}
if args["--objective"] == "contrastive":
    results["retrieval.t2a.R@1"] = size / 2000
else:
    results["caption.cider_d"] = size / 4000
out = Path(args["--exp_root"]) / args["--exp_tag"]
out.mkdir(parents=True, exist_ok=True)
(out / "results.json").write_text(json.dumps(results))
'''

PLAN = """
name: t
scales_config: scales.yaml
scale_dir: scales
recipe: {recipe}
recipe_args: [--eval_config, e.yaml]
runs:
  - {{objectives: [contrastive, captioning], scales: [s, l], init: scratch}}
  - {{objectives: [contrastive], scales: [s, l], init: sup}}
inits:
  sup: {{checkpoint: tagger/best, make: [{python}, -c, "import os; os.makedirs('tagger/best')"]}}
groups:
  sound: [probe.a.linear.pretrained]
  language: [retrieval.t2a.R@1, caption.cider_d]
"""


@pytest.fixture
def recipe_dir(tmp_path, monkeypatch):
    script = tmp_path / "recipe.py"
    script.write_text(STAND_IN)
    launcher = tmp_path / "run.sh"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    launcher.chmod(0o755)
    (tmp_path / "scales.yaml").write_text("scales:\n  s: {captions: 100}\n  l: {all: true}\n  broken: {clips: 3}\n")
    (tmp_path / "scales").mkdir()
    (tmp_path / "scales" / "subsets.json").write_text(json.dumps(
        {"scales": {"s": {"captions": 100, "hours": 0.5}, "l": {"captions": 400, "hours": 2.0}}}))
    (tmp_path / "plan.yaml").write_text(PLAN.format(recipe="./run.sh", python=sys.executable))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_plan_runs_in_order_once(recipe_dir):
    plan = load_plan("plan.yaml", ["s", "l"])
    runs = plan_runs(plan)
    assert [r.tag for r in runs] == ["contrastive_s_scratch", "contrastive_l_scratch", "captioning_s_scratch",
                                     "captioning_l_scratch", "contrastive_s_sup", "contrastive_l_sup"]


@pytest.mark.parametrize("edit, message", [
    (("init: sup}", "init: other}"), "neither scratch nor one of inits"),
    (("scales: [s, l], init: scratch", "scales: [s, xl], init: scratch"), r"scale\(s\) \['xl'\]"),
    (("checkpoint: tagger/best, ", ""), "checkpoint is missing"),
])
def test_bad_plans_are_named(recipe_dir, edit, message):
    text = (recipe_dir / "plan.yaml").read_text().replace(*edit)
    (recipe_dir / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_plan("bad.yaml", ["s", "l"])
    assert sweep.main(["--plan", "bad.yaml"]) == 2


def test_sweep_runs_skips_and_tabulates(recipe_dir, capsys):
    assert sweep.main(["--plan", "plan.yaml"]) == 0
    calls = (recipe_dir / "calls.log").read_text().splitlines()
    assert len(calls) == 6
    assert calls[0].startswith("--stage 4 --stop_stage 5 --objective contrastive --scale s")
    assert calls[0].endswith("--exp_root exp/sweep_t --exp_tag contrastive_s_scratch --eval_config e.yaml")
    assert "--init tagger/best --init_tag sup" in calls[4]
    assert (recipe_dir / "tagger" / "best").is_dir()  # made by the init's make command
    rows = json.loads((recipe_dir / "exp/sweep_t/scaling.json").read_text())["rows"]
    assert [(r["objective"], r["init"], r["scale"]) for r in rows] == [
        ("captioning", "scratch", "s"), ("captioning", "scratch", "l"), ("contrastive", "scratch", "s"),
        ("contrastive", "scratch", "l"), ("contrastive", "sup", "s"), ("contrastive", "sup", "l")]
    assert rows[5]["probe.a.linear.pretrained"] == pytest.approx(0.45)
    assert rows[0]["retrieval.t2a.R@1"] is None and rows[0]["caption.cider_d"] == pytest.approx(0.025)
    table = (recipe_dir / "exp/sweep_t/scaling.md").read_text()
    assert "| contrastive | sup | l | 400 | 2.00 | 0.450 | 0.200 | – |" in table
    assert "| sound: a | language: t2a R@1 | language: CIDEr-D |" in table
    assert (recipe_dir / "exp/sweep_t/scaling.png").stat().st_size > 10_000
    log = json.loads((recipe_dir / "exp/sweep_t/sweep_log.json").read_text())
    assert sorted(log["runs"]) == sorted(r.tag for r in plan_runs(load_plan("plan.yaml")))
    # a second call finds every run finished: no recipe call
    assert sweep.main(["--plan", "plan.yaml"]) == 0
    assert len((recipe_dir / "calls.log").read_text().splitlines()) == 6


def test_a_failed_run_does_not_stop_the_others(recipe_dir, capsys):
    text = (recipe_dir / "plan.yaml").read_text().replace("scales: [s, l], init: scratch", "scales: [broken, s], init: scratch")
    (recipe_dir / "plan.yaml").write_text(text)
    assert sweep.main(["--plan", "plan.yaml"]) == 1
    err = capsys.readouterr().err
    assert "2 run(s) failed: contrastive_broken_scratch, captioning_broken_scratch" in err
    assert (recipe_dir / "exp/sweep_t/contrastive_s_scratch/results.json").is_file()
    assert "Not finished: contrastive_broken_scratch" in (recipe_dir / "exp/sweep_t/scaling.md").read_text()


def test_a_changed_plan_never_mixes_old_runs_in(recipe_dir, capsys, caplog):
    assert sweep.main(["--plan", "plan.yaml"]) == 0
    text = (recipe_dir / "plan.yaml").read_text().replace("[--eval_config, e.yaml]", "[--eval_config, other.yaml]")
    (recipe_dir / "plan.yaml").write_text(text)
    assert sweep.main(["--plan", "plan.yaml"]) == 1
    assert "no finished run to report" in capsys.readouterr().err  # the old runs are not tabulated as new ones
    assert len((recipe_dir / "calls.log").read_text().splitlines()) == 6  # nothing rerun over the old folders
    assert sum("was made by another recipe call" in r.getMessage() for r in caplog.records) == 6


def test_a_deleted_result_is_made_again_and_a_missing_recipe_is_a_failed_run(recipe_dir, capsys):
    assert sweep.main(["--plan", "plan.yaml"]) == 0
    run_dir = recipe_dir / "exp/sweep_t/captioning_l_scratch"
    (run_dir / "results.json").unlink()
    (run_dir / ".stage5_evaluate.done").touch()  # the recipe's marker would skip the evaluation
    assert sweep.main(["--plan", "plan.yaml"]) == 0
    assert len((recipe_dir / "calls.log").read_text().splitlines()) == 7
    assert not (run_dir / ".stage5_evaluate.done").exists()
    text = (recipe_dir / "plan.yaml").read_text().replace("recipe: ./run.sh", "recipe: ./missing.sh").replace(
        "name: t", "name: t2")
    (recipe_dir / "plan.yaml").write_text(text)
    assert sweep.main(["--plan", "plan.yaml"]) == 1
    assert "cannot run ./missing.sh" in (recipe_dir / "exp/sweep_t2/logs/contrastive_s_scratch.log").read_text()
