"""Recipe shell scripts: shellcheck-clean, and the option parser rejects typos."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in [*ROOT.glob("egs/**/*.sh"), *ROOT.glob("tools/*.sh"), ROOT / ".ci" / "run"]
                 if "/data/" not in str(p) and "/exp/" not in str(p))


def test_scripts_found():
    names = {p.name for p in SCRIPTS}
    assert {"run.sh", "pretrain.sh", "parse_options.sh", "data.sh", "install.sh"} <= names


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (tools/install.sh)")
def test_shellcheck_clean():
    result = subprocess.run(["shellcheck", "-x", *map(str, SCRIPTS)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def run_parser(args, tmp_path):
    script = tmp_path / "opts.sh"
    script.write_text(
        "set -euo pipefail\nstage=1\nexp_tag=default\n"
        f". {ROOT}/egs/TEMPLATE/utils/parse_options.sh\n"
        'echo "stage=${stage} exp_tag=${exp_tag} rest=$*"\n'
    )
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_parse_options_sets_known_variables(tmp_path):
    out = run_parser(["--stage", "3", "--exp-tag=my_exp", "pos1"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stage=3 exp_tag=my_exp rest=pos1"


def test_parse_options_rejects_unknown_option(tmp_path):
    out = run_parser(["--stagee", "3"], tmp_path)
    assert out.returncode != 0
    assert "unknown option --stagee" in out.stderr


def test_template_rejects_a_non_integer_stage_and_stray_arguments(tmp_path):
    template = ROOT / "egs" / "TEMPLATE" / "pretrain.sh"
    for args, message in ((["--stage", "abc"], "take integers, got 'abc'"), (["--stage", "7", "foo"],
                                                                              "unexpected arguments: foo")):
        out = subprocess.run(["bash", str(template), "--data_dir", str(tmp_path / "d"), "--exp_root",
                              str(tmp_path / "e"), *args], cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 2 and message in out.stderr
        assert not (tmp_path / "d").exists()  # refused before any stage ran


def test_failed_rerun_of_a_stage_leaves_it_not_done(tmp_path):
    recipe = tmp_path / "recipe"
    (recipe / "local").mkdir(parents=True)
    data_sh = recipe / "local" / "data.sh"
    data_sh.write_text("#!/usr/bin/env bash\n[ ! -f ../fail ]\n")
    data_sh.chmod(0o755)
    template = ROOT / "egs" / "TEMPLATE" / "pretrain.sh"
    run = ["bash", str(template), "--stop_stage", "1", "--exp_root", str(tmp_path / "e")]
    assert subprocess.run(run, cwd=recipe, capture_output=True, text=True).returncode == 0
    assert (recipe / "data" / ".stage1_data.done").is_file()
    (tmp_path / "fail").write_text("")
    assert subprocess.run(run + ["--force", "true"], cwd=recipe, capture_output=True, text=True).returncode != 0
    again = subprocess.run(run, cwd=recipe, capture_output=True, text=True)
    assert again.returncode != 0 and "stage 1 (data): already done" not in again.stdout


@pytest.mark.parametrize("tokenizer", ["byte", "sentencepiece"])
def test_template_trains_the_tokenizer_only_for_sentencepiece(tmp_path, tokenizer):
    """Stages 3-4 on a tiny corpus: byte gets no sentencepiece stage and no tokenizer_conf.model."""
    import os
    import sys

    import yaml

    from tests.fixtures import make_corpus, tiny_train_config

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    cuts = make_corpus(tmp_path / "corpus", num_clips=16)
    for split in ("train", "valid"):
        shutil.copy(cuts, manifests / f"cuts_{split}.jsonl.gz")
    config = tmp_path / "train.yaml"
    config.write_text(tiny_train_config(cuts, max_steps=2, save_interval=2).replace("tokenizer: byte", f"tokenizer: {tokenizer}"))
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        ["bash", str(ROOT / "egs" / "TEMPLATE" / "pretrain.sh"), "--stage", "3", "--stop_stage", "4",
         "--data_dir", str(tmp_path / "data"), "--manifest_dir", str(manifests), "--exp_root", str(tmp_path / "exp"),
         "--exp_tag", "tiny", "--train_config", str(config), "--vocab_size", "40"],
        cwd=recipe, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    exp = tmp_path / "exp" / "tiny"
    assert (exp / ".stage4_train.done").is_file()
    saved = yaml.safe_load((exp / "checkpoints" / "config.yaml").read_text())
    assert saved["tokenizer"] == tokenizer
    trained = tmp_path / "data" / "tokenizer" / "sp40.model"
    if tokenizer == "byte":
        assert f"{config} uses the byte tokenizer: no sentencepiece model to train" in run.stdout
        assert saved["tokenizer_conf"] == {}
        assert not trained.exists() and not (tmp_path / "data" / ".stage3_tokenizer.done").exists()
        assert not (exp / "checkpoints" / "best" / "tokenizer.model").exists()
    else:
        assert "stage 3: tokenizer" in run.stdout and (tmp_path / "data" / ".stage3_tokenizer.done").is_file()
        assert saved["tokenizer_conf"] == {"model": "tokenizer.model"}
        assert (exp / "checkpoints" / "best" / "tokenizer.model").read_bytes() == trained.read_bytes()
