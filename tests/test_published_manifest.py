"""A manifest in the published CaptionStew format (caption lists, no tags, 44.1 kHz audio) trains as it is."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

from audiotext.data.dataset import clip_captions
from tests.corpus_fixtures import write_audio
from tests.fixtures import tiny_train_config

CAPTIONS = [["A dog barks twice.", "A dog is barking nearby."], ["Rain falls on a tin roof."],
            ["A man speaks calmly.", "Someone talks in a quiet room.", "Speech, indoors."]]


def _published_manifest(tmp_path, n=12):
    """As RayTzeng/CaptionStew-data-prep writes it: one supervision, custom {"caption": [...]}."""
    cuts = []
    for i in range(n):
        path = write_audio(tmp_path / "audio" / f"clip{i:02d}.flac", 1.5 + 0.1 * i, sample_rate=44100, seed=i)
        rec = Recording.from_file(path, recording_id=f"SoundBible_{i}")
        sup = SupervisionSegment(id=rec.id, recording_id=rec.id, start=0.0, duration=rec.duration, channel=0,
                                 custom={"caption": CAPTIONS[i % 3]})
        cuts.append(MonoCut(id=rec.id, start=0, duration=rec.duration, channel=0, recording=rec, supervisions=[sup]))
    path = tmp_path / "published.jsonl.gz"
    CutSet.from_cuts(cuts).to_file(path)
    return path


def test_caption_lists_are_read_as_captions(tmp_path):
    cuts = list(CutSet.from_file(_published_manifest(tmp_path, n=3)))
    assert [[c["caption"] for c in clip_captions(cut)] for cut in cuts] == CAPTIONS
    assert clip_captions(cuts[0])[0]["style"] == "unknown"


def test_published_manifest_trains(tmp_path):
    manifest = _published_manifest(tmp_path)
    config = tmp_path / "exp.yaml"
    config.write_text(tiny_train_config(manifest, max_steps=3, save_interval=3))
    exp = tmp_path / "exp"
    run = subprocess.run([sys.executable, "-m", "audiotext.bin.train", "--config", str(config), "--exp-dir", str(exp)],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((exp / "train_summary.json").read_text())
    assert summary["steps"] == 3
    assert summary["skipped_audio"]["total"] == 0  # 44.1 kHz files resampled on load, none skipped
