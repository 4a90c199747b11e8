"""Nested data-scale subsets: nesting, determinism, captions kept together, sizes, weights."""
import gzip
import json
import random

import pytest

from audiotext.bin import make_subsets as cli
from audiotext.data.subsets import ScalesConfig, Scale, make_subsets, parse_scales


def _cut(i, origin, source, n_captions, duration):
    sups = [{"id": f"c{i}-{k}", "recording_id": f"r{i}", "start": 0.0, "duration": duration, "channel": 0,
             "custom": {"caption": f"clip {i} caption {k} words here", "style": "human",
                        "domain": "sound" if source != "music_src" else "music", "source": source}}
            for k in range(n_captions)]
    return {"id": f"c{i}", "start": 0.0, "duration": duration, "channel": 0, "supervisions": sups,
            "custom": {"origin_id": origin}, "type": "MonoCut"}


def _manifest(path, cuts):
    with gzip.open(path, "wt") as f:
        for c in cuts:
            f.write(json.dumps(c) + "\n")
    return str(path)


def _cuts(n=300, seed=0):
    rng = random.Random(seed)
    cuts = []
    for i in range(n):
        source = "music_src" if i % 3 == 0 else "sound_src"
        # cuts 0..9 share their origin with cuts 10..19 (one clip in two sources)
        origin = f"yt:{i - 10 if 10 <= i < 20 else i}"
        cuts.append(_cut(i, origin, source, 1 + i % 3, 2.0 + (i % 7)))
    return cuts


def _ids(path):
    with gzip.open(path, "rt") as f:
        return [json.loads(line)["id"] for line in f]


SCALES = [Scale("s", captions=60), Scale("m", captions=150), Scale("l", captions=400), Scale("all", all=True)]


def test_nested_deterministic_and_order_free(tmp_path):
    cuts = _cuts()
    a = make_subsets(_manifest(tmp_path / "a.jsonl.gz", cuts), tmp_path / "a", SCALES, plots=False)
    b = make_subsets(_manifest(tmp_path / "b.jsonl.gz", cuts), tmp_path / "b", SCALES, plots=False)
    shuffled = list(cuts)
    random.Random(1).shuffle(shuffled)
    c = make_subsets(_manifest(tmp_path / "c.jsonl.gz", shuffled), tmp_path / "c", SCALES[:2], plots=False)
    sets = {s.name: set(_ids(tmp_path / "a" / s.name / "cuts_train.jsonl.gz")) for s in SCALES}
    assert sets["s"] < sets["m"] < sets["l"] < sets["all"]
    assert len(sets["all"]) == 300
    for s in SCALES:  # byte-identical on a rerun
        assert (tmp_path / "a" / s.name / "cuts_train.jsonl.gz").read_bytes() == \
            (tmp_path / "b" / s.name / "cuts_train.jsonl.gz").read_bytes()
        assert a["scales"][s.name]["captions"] == b["scales"][s.name]["captions"]
    # the manifest's order does not change the selection
    for name in ("s", "m"):
        assert set(_ids(tmp_path / "c" / name / "cuts_train.jsonl.gz")) == sets[name]
    assert c["scales"]["s"]["captions"] == a["scales"]["s"]["captions"]


def test_sizes_are_the_shortest_prefix_and_origins_stay_together(tmp_path):
    cuts = _cuts()
    report = make_subsets(_manifest(tmp_path / "a.jsonl.gz", cuts), tmp_path / "a", SCALES, plots=False)
    by_id = {c["id"]: c for c in cuts}
    for s in SCALES[:3]:
        ids = set(_ids(tmp_path / "a" / s.name / "cuts_train.jsonl.gz"))
        captions = sum(len(by_id[i]["supervisions"]) for i in ids)
        assert captions == report["scales"][s.name]["captions"] >= s.captions
        origins = {by_id[i]["custom"]["origin_id"] for i in ids}
        # every cut of a chosen origin is chosen (cuts 0-9 and 10-19 share origins)
        assert ids == {c["id"] for c in cuts if c["custom"]["origin_id"] in origins}
        # shortest: without any one of its origins, the subset would be below the target
        per_origin = {}
        for i in ids:
            o = by_id[i]["custom"]["origin_id"]
            per_origin[o] = per_origin.get(o, 0) + len(by_id[i]["supervisions"])
        assert min(captions - n for n in per_origin.values()) < s.captions
    # proportional by source without weights: music is a third of the cuts in every scale
    full = report["scales"]["all"]["by_source"]
    assert full["music_src"]["clips"] == 100 and full["sound_src"]["clips"] == 200
    assert report["scales"]["all"]["whole_split"] is False


def test_units_whole_split_and_source_weights(tmp_path):
    cuts = _cuts()
    manifest = _manifest(tmp_path / "a.jsonl.gz", cuts)
    report = make_subsets(manifest, tmp_path / "u", [Scale("c", clips=40), Scale("h", hours=0.1),
                                                     Scale("big", captions=10_000)], plots=False)
    assert report["scales"]["c"]["clips"] in (40, 41)  # 41 when the 40th cut's origin has a second cut
    assert report["scales"]["h"]["hours"] >= 0.1
    assert report["scales"]["big"]["whole_split"] is True and report["scales"]["big"]["clips"] == 300
    plain = make_subsets(manifest, tmp_path / "p", [Scale("s", clips=60)], plots=False)
    weighted = make_subsets(manifest, tmp_path / "w", [Scale("s", clips=60)], source_weights={"music_src": 8.0},
                            plots=False)
    share = lambda r: r["scales"]["s"]["by_source"]["music_src"]["clips"] / r["scales"]["s"]["clips"]
    assert share(weighted) > share(plain) + 0.2


@pytest.mark.parametrize("spec, message", [
    ({"x": {"captions": 10, "hours": 1}}, "exactly one"),
    ({"x": {"captions": -5}}, "positive"),
    ({"x": {"clips": 2.5}}, "positive integer"),
    ({"x": {"size": 3}}, "unknown key"),
    ({"bad name": {"all": True}}, "scale name"),
])
def test_bad_scales_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_scales(ScalesConfig(scales=spec), "scales.yaml")


def test_cli(tmp_path, capsys):
    manifest = _manifest(tmp_path / "a.jsonl.gz", _cuts())
    scales = tmp_path / "scales.yaml"
    scales.write_text("scales:\n  s: {captions: 60}\n  all: {all: true}\n")
    assert cli.main(["--cuts", manifest, "--scales", str(scales), "--out-dir", str(tmp_path / "o"),
                     "--only", "s"]) == 0
    assert (tmp_path / "o" / "s" / "cuts_train.jsonl.gz").is_file() and (tmp_path / "o" / "s" / "subset.png").is_file()
    assert not (tmp_path / "o" / "all").exists()
    assert cli.main(["--cuts", manifest, "--scales", str(scales), "--out-dir", str(tmp_path / "o"),
                     "--only", "all", "--no-plots"]) == 0
    # scales made one at a time: subsets.json holds both; each scale has its own report
    combined = json.loads((tmp_path / "o" / "subsets.json").read_text())
    assert sorted(combined["scales"]) == ["all", "s"] and combined["scales"]["all"]["captions"] == 600
    assert json.loads((tmp_path / "o" / "s" / "subset.json").read_text())["captions"] == \
        combined["scales"]["s"]["captions"]
    assert cli.main(["--cuts", manifest, "--scales", str(scales), "--out-dir", str(tmp_path / "o"),
                     "--only", "nope"]) == 2
    assert "nope not in" in capsys.readouterr().err
    assert cli.main(["--cuts", str(tmp_path / "missing.jsonl.gz"), "--scales", str(scales),
                     "--out-dir", str(tmp_path / "o")]) == 2


def test_reuse_keeps_an_unchanged_scale_and_remakes_a_changed_one(tmp_path):
    manifest = _manifest(tmp_path / "a.jsonl.gz", _cuts())
    make_subsets(manifest, tmp_path / "o", [Scale("s", captions=60)], plots=False)
    made = tmp_path / "o" / "s" / "cuts_train.jsonl.gz"
    before = made.stat().st_mtime_ns
    again = make_subsets(manifest, tmp_path / "o", [Scale("s", captions=60)], plots=False, reuse=True)
    assert made.stat().st_mtime_ns == before and again["scales"]["s"]["captions"] >= 60
    smaller = make_subsets(manifest, tmp_path / "o", [Scale("s", captions=20)], plots=False, reuse=True)
    assert made.stat().st_mtime_ns != before and 20 <= smaller["scales"]["s"]["captions"] < 60
    # a re-curated split (the manifest rewritten) is a new subset too
    _manifest(tmp_path / "a.jsonl.gz", _cuts()[:100])
    shrunk = make_subsets(manifest, tmp_path / "o", [Scale("s", captions=20)], plots=False, reuse=True)
    assert shrunk["split"]["clips"] == 100


def test_captions_in_lists_and_without_fields_are_counted_per_caption(tmp_path):
    cuts = []
    for i in range(4):
        sup = {"id": f"c{i}", "recording_id": f"r{i}", "start": 0.0, "duration": 2.0, "channel": 0,
               "custom": {"caption": [f"a {i}", f"b {i}", f"c {i}"]}}  # the published form: a list, no style
        cuts.append({"id": f"c{i}", "start": 0.0, "duration": 2.0, "channel": 0, "supervisions": [sup],
                     "custom": {"origin_id": f"o{i}"}, "type": "MonoCut"})
    report = make_subsets(_manifest(tmp_path / "a.jsonl.gz", cuts), tmp_path / "o",
                          [Scale("s", captions=5), Scale("all", all=True)], plots=False)
    assert report["scales"]["s"]["captions"] == 6 and report["scales"]["s"]["clips"] == 2
    assert report["scales"]["all"]["captions"] == 12
    assert report["scales"]["all"]["by_source"] == {"unknown": {"clips": 4, "captions": 12, "hours": 0.0022}}


def test_weights_for_unknown_sources_and_dot_names_are_refused(tmp_path):
    manifest = _manifest(tmp_path / "a.jsonl.gz", _cuts())
    with pytest.raises(ValueError, match="music_scr.*the sources are music_src, sound_src"):
        make_subsets(manifest, tmp_path / "o", [Scale("s", clips=10)], source_weights={"music_scr": 2.0}, plots=False)
    assert not list((tmp_path / "o").glob("**/tmp_*"))
    for name in ("..", ".hidden"):
        with pytest.raises(ValueError, match="may not start with"):
            parse_scales(ScalesConfig(scales={name: {"all": True}}))
