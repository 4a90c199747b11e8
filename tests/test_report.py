"""Markdown reports and comparisons from results.json files."""
import json

from audiotext.bin import report as report_cli
from audiotext.eval.report import comparison_report, experiment_report, lowres_curves, probe_scores

RESULTS = {
    "retrieval.t2a.R@1": 0.07, "retrieval.a2t.R@1": 0.06, "retrieval.chance.R@1": 0.0033,
    "caption.cider_d": 0.41, "caption.baseline.cider_d": 0.05, "caption.bleu_4": 0.1,
    "zeroshot.instrument": 0.31,
    "probe.instrument.pretrained": 0.9, "probe.instrument.random_init": 0.8,
    "probe.instrument.linear.pretrained": 0.9, "probe.instrument.linear.random_init": 0.8,
    "probe.instrument.mlp.pretrained": 0.92, "probe.instrument.mlp.random_init": 0.7,
    "probe.instrument.linear.gain": 0.1, "probe.instrument.linear.ci95_low": -0.02,
    "probe.instrument.linear.ci95_high": 0.21,
    "lowres.instrument.linear.1.pretrained": 0.2, "lowres.instrument.linear.1.random_init": 0.1,
    "lowres.instrument.linear.100.pretrained": 0.9, "lowres.instrument.linear.100.random_init": 0.8,
    "diag.pretrained.rankme": 40.5,
}


def test_key_parsing():
    scores = probe_scores(RESULTS)
    assert scores == {("instrument", "linear"): {"pretrained": 0.9, "random_init": 0.8},
                      ("instrument", "mlp"): {"pretrained": 0.92, "random_init": 0.7}}
    curves = lowres_curves(RESULTS)
    assert curves[("instrument", "linear")]["pretrained"] == {1.0: 0.2, 100.0: 0.9}


def test_experiment_report_has_tables_and_plots(tmp_path):
    path = experiment_report(RESULTS, "toy", tmp_path, {"wall_seconds": 12.0})
    text = path.read_text()
    assert "| t2a | 0.070 |" in text
    assert "| most frequent training caption |" in text and "0.050" in text
    assert "| instrument | mlp | 0.920 | 0.700 | +0.220 |" in text  # no interval given
    assert "| instrument | linear | 0.900 | 0.800 | +0.100 [-0.020, +0.210] |" in text
    assert "| instrument | linear | 0.200 / 0.100 | 0.900 / 0.800 |" in text
    assert "(probes.png)" in text and "(lowres.png)" in text
    for png in ("probes.png", "lowres.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_comparison_and_cli(tmp_path, capsys):
    other = {k: v for k, v in RESULTS.items() if not k.startswith("caption.")}
    for name, res in (("contrastive", other), ("captioning", RESULTS)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(res))
    out = tmp_path / "compare.md"
    files = [str(tmp_path / n / "results.json") for n in ("contrastive", "captioning")]
    assert report_cli.main([*files, "--compare", str(out)]) == 0
    text = out.read_text()
    assert "| metric | contrastive | captioning |" in text
    assert "| CIDEr-D | – | 0.410 |" in text
    assert "| probe instrument mlp | 0.920 (0.700) | 0.920 (0.700) |" in text
    assert "| gain instrument linear [95% CI] | +0.100 [-0.020, +0.210] | +0.100 [-0.020, +0.210] |" in text
    assert "gain instrument mlp" not in text  # no interval in these results
    assert report_cli.main([*files, "--markdown", str(tmp_path / "r")]) == 2
    assert comparison_report({"a": RESULTS}, tmp_path / "one.md").is_file()
