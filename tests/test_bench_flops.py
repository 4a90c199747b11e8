"""The explicit FLOP count behind the benchmark's MFU, and the encoder benchmark on CPU."""
import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from flops import counted_forward_flops, transformer_encoder_forward_flops  # noqa: E402

from audiotext.models.encoders import ENCODERS  # noqa: E402


@pytest.fixture(scope="module")
def encoder():
    conf = {"d_model": 64, "num_layers": 2, "num_heads": 4, "d_ff": 96, "subsampling_channels": 8,
            "attention_backend": "math", "dropout": 0.0}
    return ENCODERS.build("transformer", conf).eval()


@pytest.mark.parametrize("frames", [7, 8, 100, 333])
def test_transformer_count_equals_torch_flop_counter(encoder, frames):
    x, lens = torch.randn(1, frames, 80), torch.tensor([frames])
    assert transformer_encoder_forward_flops(encoder.conf, [frames]) == counted_forward_flops(encoder, x, lens)


def test_transformer_count_by_hand(encoder):
    # 100 frames -> convs 49 x 39, then 24 x 19; d 64, d_ff 96, 8 channels, 2 layers
    front = 49 * 39 * 8 * 9 + 24 * 19 * 8 * 8 * 9 + 24 * 8 * 19 * 64
    block = 24 * (4 * 64 * 64 + 2 * 64 * 96) + 2 * 24 * 24 * 64
    assert transformer_encoder_forward_flops(encoder.conf, [100]) == 2 * (front + 2 * block)


def test_count_leaves_padding_out(encoder):
    # a padded batch of two clips costs what the two clips cost alone, not 2 x the longer one
    assert (transformer_encoder_forward_flops(encoder.conf, [100, 333])
            == counted_forward_flops(encoder, torch.randn(1, 100, 80), torch.tensor([100]))
            + counted_forward_flops(encoder, torch.randn(1, 333, 80), torch.tensor([333])))
    padded = counted_forward_flops(encoder, torch.randn(2, 333, 80), torch.tensor([100, 333]))
    assert padded == 2 * transformer_encoder_forward_flops(encoder.conf, [333])


def test_encoder_benchmark_runs_on_cpu_and_reports_ratios(tmp_path, capsys):
    import encoder_speed

    rc = encoder_speed.main(["--device", "cpu", "--batch-seconds", "8", "--steps", "1", "--out", str(tmp_path)])
    assert rc == 0
    report = json.loads((tmp_path / "encoder_speed.json").read_text())
    paths = report["attention.paths"]
    assert set(paths) == {"sdpa", "math"}  # no flash-attn on a CPU: said so, not faked
    assert report["attention.flash.skipped"]
    assert paths["math"]["speedup_vs_math"] == 1.0
    assert paths["sdpa"]["speedup_vs_math"] == pytest.approx(paths["math"]["step_seconds"] / paths["sdpa"]["step_seconds"])
    assert "mfu" not in paths["sdpa"]  # no peak is claimed for a CPU
    batch_seconds = report["attention.batch"]["audio_seconds"]
    assert batch_seconds >= 8
    assert paths["sdpa"]["audio_seconds_per_second"] == pytest.approx(batch_seconds / paths["sdpa"]["step_seconds"])
    printed = capsys.readouterr().out
    assert "| sdpa |" in printed and "| math |" in printed
    assert (tmp_path / "encoder_speed.md").read_text().strip() == printed.strip()
