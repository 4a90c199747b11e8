"""Stages 1-2 of egs/captionstew on every source at once: each corpus in its official layout
(tests/corpus_fixtures), two downstream evaluation sets, preparation, then the curated stew."""
from __future__ import annotations

import csv
import importlib
import json
import os
import pkgutil
import re
import subprocess
from pathlib import Path

from lhotse import CutSet

import tests.corpus_fixtures as fixtures_pkg
from audiotext.data.downstream import PREPARERS
from audiotext.data.schema import caption_records
from tests.downstream_fixtures import tone

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "egs" / "captionstew" / "run.sh"


def _downstream(tmp_path: Path) -> Path:
    """ESC-50 with the Freesound sounds of a Clotho clip (80399) and a WavCaps FreeSound clip (180913),
    and VoxCeleb1 with the utterance ParaSpeechCaps also captions; an eval config naming both."""
    esc = tmp_path / "ESC-50-master"
    (esc / "meta").mkdir(parents=True)
    with open(esc / "meta" / "esc50.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerow(["1-80399-A-0.wav", 1, 0, "dog", "True", 80399, "A"])
        writer.writerow(["2-180913-A-1.wav", 2, 1, "rooster", "False", 180913, "A"])
    for name in ("1-80399-A-0.wav", "2-180913-A-1.wav"):
        tone(esc / "audio" / name, 1.0, sr=44100)
    vox = tmp_path / "voxceleb1"
    (vox / "iden_split.txt").parent.mkdir(parents=True, exist_ok=True)
    (vox / "iden_split.txt").write_text("1 id10001/1zcIwhmdeo4/00001.wav\n3 id10270/5r0dWxy17C8/00001.wav\n")
    tone(vox / "wav" / "id10001" / "1zcIwhmdeo4" / "00001.wav", 1.0)
    tone(vox / "wav" / "id10270" / "5r0dWxy17C8" / "00001.wav", 1.0)
    down = tmp_path / "downstream"
    PREPARERS["esc50"](esc, down / "esc50")
    PREPARERS["voxceleb1"](vox, down / "voxceleb1")
    config = tmp_path / "eval.yaml"
    config.write_text(f"probes:\n  - {{name: esc50, cuts_dir: {down / 'esc50'}, label: label}}\n"
                      f"  - {{name: voxceleb1, cuts_dir: {down / 'voxceleb1'}, label: label}}\n"
                      f"  - {{name: gtzan, cuts_dir: {down / 'gtzan'}, label: label}}\n")  # not prepared
    return config


def test_all_sources_through_preparation_and_curation(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    expected = {}
    for module_info in pkgutil.iter_modules(fixtures_pkg.__path__):
        name = module_info.name
        corpus = tmp_path / "corpora" / name
        expected[name] = importlib.import_module(f"tests.corpus_fixtures.{name}").build(corpus)
        env[name.upper()] = str(corpus)
        env[f"{name.upper()}_AUDIO"] = ":".join(str(corpus / d) for d in expected[name].get("audio_dirs", []))
        env[f"{name.upper()}_SUBSETS"] = ",".join(expected[name].get("subsets", []))
    env["WAVCAPS_SUBSETS"] = "all"  # AudioSet_SL and FreeSound take part in the merge and the overlap
    eval_config = _downstream(tmp_path)
    data = tmp_path / "data"
    run = subprocess.run([str(RUN), "--stage", "1", "--stop_stage", "2", "--data_dir", str(data),
                          "--eval_config", str(eval_config), "--stew_opts", "--min-clip-duration 0.5 --jobs 2"],
                         capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "training data is NOT checked for overlap" in run.stderr  # the gtzan set is not prepared

    # stage 1: every source prepared, listed in the db.sh priority order
    train_list = (data / "splits" / "train.list").read_text().split()
    assert [Path(p).parent.name for p in train_list] == [
        "audiocaps", "clotho", "musiccaps", "wavcaps", "audiosetcaps", "fusionaudio", "jamendomaxcaps",
        "paraspeechcaps", "lp_musiccaps", "auto_acd", "speechcraft", "captionstew_manifest"]
    prepared_train = 0
    for path in train_list:
        summary = json.loads((Path(path).parent / "prepare_summary.json").read_text())["splits"]["train"]
        prepared_train += summary["captions_clean"] + summary["captions_derived"]

    # stage 2: every input caption accounted for, clips merged by origin, evaluation origins removed
    report = json.loads((data / "manifests" / "curation.json").read_text())
    train = report["train"]
    assert train["captions_in"] == prepared_train
    assert train["captions_in"] == train["captions"] + sum(train["dropped_captions"].values())
    assert train["clips_in"] == train["clips"] + train["merged_clips"] + sum(train["dropped_clips"].values())
    cuts = {c.id: c for c in CutSet.from_file(data / "manifests" / "cuts_train.jsonl.gz")}
    assert len(cuts) == train["clips"]

    # the AudioSet clip of AudioCaps, AudioSetCaps, FusionAudio, WavCaps AudioSet_SL and a published VGGSound
    # manifest: one clip, on AudioCaps' audio (first in db.sh), with the captions of all five
    shared = cuts["audiocaps_AsEtShArEd1_30000"]
    assert shared.custom["origin_id"] == "yt:AsEtShArEd1:30000"
    merged_sources = {cid.split("_AsEtShArEd1")[0] for cid in shared.custom["merged_ids"]}
    assert merged_sources == {"audiosetcaps_audioset", "fusionaudio", "wavcaps_audioset_sl", "vggsound"}
    assert not set(shared.custom["merged_ids"]) & set(cuts)
    assert {c.source for c in caption_records(shared)} == {"audiocaps", "audiosetcaps_audioset", "fusionaudio",
                                                          "wavcaps_audioset_sl", "vggsound"}
    assert shared.recording.sources[0].source.endswith("AsEtShArEd1.wav")
    # the MusicCaps clip LP-MusicCaps re-captions
    music = cuts["musiccaps_MuSiCsHaRe1_0"]
    assert music.custom["merged_ids"] == ["lp_musiccaps_mc_MuSiCsHaRe1_0"]
    assert {c.style for c in caption_records(music)} >= {"human", "tags", "llm_writing"}

    # evaluation overlap: ESC-50's Freesound sounds, VoxCeleb1's utterance, AudioCaps/Clotho test clips
    # (VoxCeleb1's training utterance counts too: probe training data is evaluation data)
    prepared_ids = {c.id: c.custom["origin_id"] for path in train_list for c in CutSet.from_file(path)}
    merged = {m for c in cuts.values() for m in c.custom.get("merged_ids", [])}
    gone = {cid: origin for cid, origin in prepared_ids.items() if cid not in cuts and cid not in merged}
    assert gone == {"clotho_Radio Garble": "freesound:80399", "wavcaps_freesound_180913": "freesound:180913",
                    "paraspeechcaps_voxceleb_id10001_1zcIwhmdeo4_00001": "voxceleb:id10001/1zcIwhmdeo4/00001",
                    "paraspeechcaps_voxceleb_id10270_5r0dWxy17C8_00001": "voxceleb:id10270/5r0dWxy17C8/00001"}
    assert train["dropped_clips"] == {"eval_overlap": 4} and train["dropped_captions"] == {"eval_overlap": 11}
    assert train["merged_clips"] == len(merged) == 5
    assert all(c.custom["origin_id"] not in {"freesound:80399", "freesound:180913"} for c in cuts.values())
    valid = {c.id for c in CutSet.from_file(data / "manifests" / "cuts_valid.jsonl.gz")}
    test = {c.id for c in CutSet.from_file(data / "manifests" / "cuts_test.jsonl.gz")}
    assert "audiocaps_rqfQRErjfk8_170000" in valid and "audiocaps_tEsTcLiP001_60000" in test
    assert (data / "manifests" / "curation_train.png").is_file()


def _named_configs(text: str) -> set:
    """``conf/*.yaml`` names in ``text``: literal, brace lists (``conf/train_{a,b}.yaml``) and ``--objective X``
    (``X`` may be ``{a,b}`` or ``a\\|b``), which picks ``conf/train_X.yaml``; ``<placeholders>`` are skipped."""
    names = set()
    for head, alternatives, tail in re.findall(r"(conf/\w*)(?:\{([\w,]+)\})?(\w*\.yaml)", text):
        names.update(f"{head}{alt}{tail}" for alt in (alternatives.split(",") if alternatives else [""]))
    for objectives in re.findall(r"--objective \{?((?:\w|,|\\\||\|)+)", text):
        names.update(f"conf/train_{name}.yaml" for name in re.split(r",|\\?\|", objectives) if name)
    return names


def test_every_documented_config_exists():
    """The commands in run.sh's header and the docs about this recipe name configs that are in conf/."""
    header = "\n".join(line for line in RUN.read_text().splitlines() if line.startswith("#"))
    docs = [ROOT / "docs" / "recipes.md", ROOT / "README.md", ROOT / "docs" / "results" / "captionstew_mini.md"]
    named = {"run.sh": _named_configs(header), **{path.name: _named_configs(path.read_text()) for path in docs}}
    missing = {where: sorted(n for n in names if not (RUN.parent / n).is_file()) for where, names in named.items()}
    assert missing == {where: [] for where in named}
    # the parser saw the commands (a pattern that matched nothing would pass above)
    assert named["run.sh"] == {"conf/train_captioning.yaml", "conf/train_joint.yaml", "conf/eval_downstream.yaml"}
    assert {"conf/train_contrastive_scratch.yaml", "conf/train_joint_scratch.yaml", "conf/eval.yaml"} <= named["recipes.md"]


def test_named_configs_parser():
    text = ("./run.sh --objective joint --stage 4; `conf/train_{a,b_c}.yaml` and conf/eval.yaml, "
            "`--objective x\\|y` or --objective {p,q}; conf/train_<objective>.yaml and conf/*.yaml are patterns")
    assert _named_configs(text) == {"conf/train_joint.yaml", "conf/train_a.yaml", "conf/train_b_c.yaml",
                                    "conf/eval.yaml", "conf/train_x.yaml", "conf/train_y.yaml", "conf/train_p.yaml",
                                    "conf/train_q.yaml"}
