"""The evaluation suite from YAML on a toy corpus: splits, k-fold, held-out valid,
multi-label, zero-shot, diagnostics and clear errors."""
from __future__ import annotations

import json

import pytest
import torch
from lhotse import CutSet

from audiotext.bin import evaluate as evaluate_cli
from audiotext.bin.train import checkpoint_config
from audiotext.experiment import build_task, resolve
from audiotext.tokenizers.sentencepiece import train_sentencepiece
from audiotext.train.checkpoint import save_checkpoint
from fixtures import KINDS, make_corpus


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("suite")
    cuts_dir = root / "cuts"
    cuts_dir.mkdir()
    for split, n, seed in (("train", 32, 0), ("valid", 12, 1), ("test", 12, 2)):
        path = make_corpus(root / split, num_clips=n, seed=seed, name=split)
        cuts = CutSet.from_file(path)
        # a multi-label field too: the clip's kind plus "tonal" for the sine kinds
        cuts = cuts.map(_with_tags)
        cuts.to_file(cuts_dir / f"cuts_{split}.jsonl.gz")
    # four folds for a k-fold task
    folds = CutSet.from_file(cuts_dir / "cuts_train.jsonl.gz").split(4)
    for k, part in enumerate(folds, 1):
        part.to_file(cuts_dir / f"cuts_fold{k}.jsonl.gz")
    sp = train_sentencepiece([f"{c} {i}" for c in KINDS.values() for i in range(5)] + ["This is a sound of"] * 3,
                             str(root / "sp"), vocab_size=40)
    exp = resolve({
        "tokenizer": "sentencepiece", "tokenizer_conf": {"model": str(sp)},
        "encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "subsampling_channels": 8},
        "text_encoder_conf": {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64},
        "objective_conf": {"embed_dim": 16},
    })
    torch.manual_seed(0)
    ckpt = save_checkpoint(root / "exp" / "checkpoints" / "best", build_task(exp), {"step": 0},
                           checkpoint_config(exp, root / "exp"))
    return root, cuts_dir, ckpt


def _with_tags(cut):
    sup = cut.supervisions[0]
    kind = sup.custom["label"]
    sup.custom["tags"] = [kind] + (["tonal"] if kind in ("low", "high") else [])
    return cut


def _write(root, text):
    path = root / "eval.yaml"
    path.write_text(text)
    return path


def test_suite_runs_every_kind_of_task(setup, tmp_path):
    root, cuts_dir, ckpt = setup
    conf = _write(tmp_path, """
probe_settings: {seeds: [0, 1], max_epochs: 5, patience: 2, frame_stride: 2}
probes:
  - {name: kind, label: label, kinds: [linear, mlp, attention], fractions: [0.25, 1.0],
     zeroshot_template: "This is a sound of {label}."}
  - {name: kind_kfold, label: label, kinds: [linear], folds: [cuts_fold1.jsonl.gz, cuts_fold2.jsonl.gz,
     cuts_fold3.jsonl.gz, cuts_fold4.jsonl.gz]}
  - {name: kind_heldout, label: label, kinds: [linear], valid_from_train: 0.25}
  - {name: tags, label: tags, multilabel: true, kinds: [linear]}
""")
    out = tmp_path / "results.json"
    assert evaluate_cli.main(["--model-dir", str(ckpt), "--cuts-dir", str(cuts_dir), "--eval-config", str(conf),
                              "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    details = json.loads((tmp_path / "results_details.json").read_text())
    assert res["retrieval.num_clips"] == 12
    for model in ("pretrained", "random_init"):
        for kind in ("linear", "mlp", "attention"):
            assert 0.0 <= res[f"probe.kind.{kind}.{model}"] <= 1.0
            assert f"lowres.kind.{kind}.25.{model}" in res and f"lowres.kind.{kind}.100.{model}" in res
        assert res[f"probe.kind.{model}"] == res[f"probe.kind.linear.{model}"]
        fold = details[f"probe.kind_kfold.linear.{model}"]
        assert len(fold["scores"]) == 4 and fold["mean"] == pytest.approx(sum(fold["scores"]) / 4)
        assert details[f"probe.tags.linear.{model}"]["metric"] == "mAP"
        assert details[f"probe.kind_heldout.linear.{model}"]["num_train"] == 24  # 32 minus 8 held out
        assert details[f"lowres.kind.linear.25.{model}"]["num_train"] == 8
        assert res[f"diag.{model}.rankme"] >= 1.0
    for name, kind in (("kind", "linear"), ("kind", "mlp"), ("kind", "attention"), ("kind_heldout", "linear")):
        gain = res[f"probe.{name}.{kind}.gain"]  # paired on the same 12 test clips
        assert gain == pytest.approx(res[f"probe.{name}.{kind}.pretrained"] - res[f"probe.{name}.{kind}.random_init"])
        assert res[f"probe.{name}.{kind}.ci95_low"] <= gain <= res[f"probe.{name}.{kind}.ci95_high"]
        assert details[f"probe.{name}.{kind}.gain"]["num_clips"] == 12
    # k-fold: every clip is tested once, in its own fold; the paired gain pools them all (32 clips in
    # four folds of 8, so it equals the difference of the fold means)
    assert details["probe.kind_kfold.linear.gain"]["num_clips"] == 32
    assert res["probe.kind_kfold.linear.gain"] == pytest.approx(
        res["probe.kind_kfold.linear.pretrained"] - res["probe.kind_kfold.linear.random_init"])
    assert "probe.tags.linear.gain" not in res  # mAP: no per-clip correctness to pair
    assert 0.0 <= res["zeroshot.kind"] <= 1.0
    assert res["diag.alignment"] >= 0.0


def test_suite_errors_name_the_problem(setup, tmp_path, capsys):
    root, cuts_dir, ckpt = setup
    cases = [
        ("probes: [{name: x, folds: [a.jsonl.gz, b.jsonl.gz, c.jsonl.gz]}]", "no CutSet file"),
        ("probes: [{name: x, kinds: [svm]}]", "unknown probe kind"),
        ("probes: [{name: x, fractions: [0]}]", "fractions"),
        ("probes: [{name: x, no_such_field: 1}]", "no_such_field"),
        ("probes: [{name: x, label: nothing_here}]", "no train clip has label 'nothing_here'"),
    ]
    for text, message in cases:
        conf = _write(tmp_path, text)
        code = evaluate_cli.main(["--model-dir", str(ckpt), "--cuts-dir", str(cuts_dir), "--eval-config", str(conf),
                                  "--out", str(tmp_path / "r.json")])
        assert code == 2, text
        assert message in capsys.readouterr().err, text


def test_audio_only_evaluation_gives_the_same_probes_without_the_text_side(setup, tmp_path):
    """--audio-only loads the audio side alone (load_audio_model): the probes and diagnostics of the
    full load, to the digit, and nothing that needs the objective."""
    root, cuts_dir, ckpt = setup
    conf = _write(tmp_path, "probe_settings: {max_epochs: 3, patience: 1}\n"
                            "probes: [{name: kind, label: label, kinds: [linear]}]\n")
    runs = {}
    for flag in ([], ["--audio-only"]):
        out = tmp_path / f"results{len(flag)}.json"
        assert evaluate_cli.main(["--model-dir", str(ckpt), "--cuts-dir", str(cuts_dir), "--eval-config", str(conf),
                                  "--out", str(out), *flag]) == 0
        runs[bool(flag)] = json.loads(out.read_text())
    full, audio_only = runs[False], runs[True]
    shared = {k for k in full if k.startswith(("probe.", "diag.pretrained", "diag.random_init"))}
    assert shared and {k: audio_only[k] for k in shared} == {k: full[k] for k in shared}
    assert set(audio_only) == shared
    assert "retrieval.t2a.R@1" in full and "diag.alignment" in full
