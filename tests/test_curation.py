"""The stew: streaming curation of prepared manifests (audiotext.data.curation, bin/make_stew)."""
from __future__ import annotations

import gzip
import json

import pytest
from lhotse import AudioSource, CutSet, MonoCut, Recording, SupervisionSegment

from audiotext.bin import make_stew
from audiotext.data.curation import CurationConfig, curate_split, dedup_key, normalize_text
from audiotext.data.schema import caption_records


def _cut(cut_id, origin, duration, captions, source="src", domain="sound", style="human", custom_extra=None):
    """A cut as a preparer writes it; curation never opens the audio, so the file need not exist."""
    rec = Recording(id=cut_id, sources=[AudioSource(type="file", channels=[0], source=f"/nowhere/{cut_id}.wav")],
                    sampling_rate=16000, num_samples=int(duration * 16000), duration=duration)
    sups = [SupervisionSegment(id=f"{cut_id}-{i}", recording_id=cut_id, start=0.0, duration=duration, channel=0,
                               custom={"caption": c, "style": style, "domain": domain, "source": source,
                                       **(custom_extra or {})})
            for i, c in enumerate(captions)]
    custom = {"origin_id": origin} if origin else None
    return MonoCut(id=cut_id, start=0.0, duration=duration, channel=0, recording=rec, supervisions=sups, custom=custom)


def _write(path, cuts):
    CutSet.from_cuts(cuts).to_file(path)
    return str(path)


def _read(path):
    return {c.id: c for c in CutSet.from_file(path)}


@pytest.fixture()
def two_sources(tmp_path):
    a = _write(tmp_path / "a.jsonl.gz", [
        _cut("a1", "yt:shared:30000", 10.0, ["A dog barks.", "a dog barks", "A dog barks loudly nearby"], source="a"),
        _cut("a2", "yt:short:0", 0.5, ["Too short a clip", "its second caption"], source="a"),
        _cut("a3", "yt:long:0", 75.0, ["Too long a clip"], source="a"),
        _cut("a4", "yt:evalclip:0", 10.0, ["Appears in the test set"], source="a"),
        _cut("a5", "yt:fine:0", 10.0, ["  ", "ok", "Wind\tblows\u00a0 hard"], source="a"),
    ])
    b = _write(tmp_path / "b.jsonl.gz", [
        _cut("b1", "yt:shared:30000", 10.0, ["Loudly a dog barks nearby", "Rain falls"], source="b", style="llm"),
        _cut("b2", "freesound:1", 5.0, ["A bell rings"], source="b", style="llm"),
    ])
    test = _write(tmp_path / "test.jsonl.gz", [_cut("t1", "yt:evalclip:0", 10.0, ["x y z"], source="a")])
    return tmp_path, a, b, test


def test_accounting_merge_and_overlap(two_sources):
    tmp, a, b, test = two_sources
    assert make_stew.main(["--out-dir", str(tmp / "stew"), "--split", f"train={a},{b}", "--split", f"test={test}",
                           "--jobs", "2"]) == 0
    report = json.loads((tmp / "stew" / "curation.json").read_text())["train"]
    assert report["captions_in"] == 13 and report["clips_in"] == 7
    assert report["dropped_captions"] == {"empty": 1, "caption_too_short": 1, "clip_too_short": 2, "clip_too_long": 1,
                                          "eval_overlap": 1, "duplicate_exact": 1, "duplicate_near": 1}
    assert report["dropped_clips"] == {"clip_too_short": 1, "clip_too_long": 1, "eval_overlap": 1}
    assert report["merged_clips"] == 1 and report["clips"] == 3 and report["captions"] == 5
    cuts = _read(tmp / "stew" / "cuts_train.jsonl.gz")
    assert sorted(cuts) == ["a1", "a5", "b2"]
    merged = cuts["a1"]  # the first input's recording, with the other source's new caption
    assert merged.custom == {"origin_id": "yt:shared:30000", "merged_ids": ["b1"]}
    assert [(c.text, c.source, c.style) for c in caption_records(merged)] == [
        ("A dog barks.", "a", "human"), ("A dog barks loudly nearby", "a", "human"), ("Rain falls", "b", "llm")]
    assert [c.text for c in caption_records(cuts["a5"])] == ["Wind blows hard"]
    assert report["by_source"] == {"a": {"clips": 2, "captions": 3, "hours": round(20 / 3600, 4)},
                                   "b": {"clips": 1, "captions": 2, "hours": round(5 / 3600, 4)}}
    assert report["by_style"]["llm"]["captions"] == 2 and report["vocabulary_size"] == 12
    assert report["eval_origins"] == 1
    assert (tmp / "stew" / "curation_train.png").stat().st_size > 10_000
    test_cuts = _read(tmp / "stew" / "cuts_test.jsonl.gz")
    assert list(test_cuts) == ["t1"]  # evaluation splits are never overlap-filtered


def test_output_is_the_same_for_any_number_of_jobs(two_sources, tmp_path):
    _, a, b, test = two_sources
    outs = []
    for jobs in (1, 2):
        conf = CurationConfig(seed=3, jobs=jobs, num_partitions=4)
        curate_split([a, b], tmp_path / f"out{jobs}.jsonl.gz", conf, train=True, eval_origins=set())
        outs.append(gzip.decompress((tmp_path / f"out{jobs}.jsonl.gz").read_bytes()))
    assert outs[0] == outs[1]
    # more partitions: the same clips, another order
    curate_split([a, b], tmp_path / "p1.jsonl.gz", CurationConfig(seed=3, num_partitions=1), train=True)
    assert sorted(_read(tmp_path / "p1.jsonl.gz")) == sorted(_read(tmp_path / "out1.jsonl.gz"))


def test_shuffle_is_seeded_and_global(tmp_path):
    cuts = [_cut(f"c{i:03d}", f"o:{i}", 2.0, [f"caption number {i}"]) for i in range(200)]
    path = _write(tmp_path / "in.jsonl.gz", cuts)
    orders = {}
    for seed in (0, 0, 1):
        curate_split([path], tmp_path / f"s{seed}.jsonl.gz", CurationConfig(seed=seed, num_partitions=8), train=True)
        orders.setdefault(seed, []).append(list(_read(tmp_path / f"s{seed}.jsonl.gz")))
    assert orders[0][0] == orders[0][1] and orders[0][0] != orders[1][0]
    assert sorted(orders[0][0]) == [c.id for c in cuts]
    # not sorted, and the first 100 inputs do not stay in the first half
    first_half = set(orders[0][0][:100])
    assert 30 <= len(first_half & {c.id for c in cuts[:100]}) <= 70


def test_source_caps_are_nested(tmp_path):
    cuts = [_cut(f"c{i:03d}", f"o:{i}", 2.0, [f"caption number {i}"], source="big") for i in range(120)]
    cuts += [_cut(f"d{i:03d}", f"p:{i}", 2.0, [f"other caption {i}"], source="small") for i in range(5)]
    path = _write(tmp_path / "in.jsonl.gz", cuts)
    kept = {}
    for cap in (10, 40, 200):
        report = curate_split([path], tmp_path / f"cap{cap}.jsonl.gz",
                              CurationConfig(source_caps={"big": cap}, num_partitions=5, jobs=2), train=True)
        kept[cap] = set(_read(tmp_path / f"cap{cap}.jsonl.gz"))
        assert report["by_source"]["big"]["clips"] == min(cap, 120) and report["by_source"]["small"]["clips"] == 5
        assert report["dropped_clips"].get("source_cap", 0) == max(0, 120 - cap)
    assert kept[10] < kept[40] < kept[200]


def test_published_caption_lists_and_label_fields_survive(tmp_path):
    cut = _cut("v1", None, 3.0, ["unused"], custom_extra={"voice": "en-us+m3"})
    cut.supervisions = [SupervisionSegment(id="v1", recording_id="v1", start=0.0, duration=3.0, channel=0,
                                           custom={"caption": ["First caption.", "Second one.", "first caption"]})]
    lab = _cut("l1", "o:l1", 3.0, ["A man speaks"], domain="speech", style="speaking_style",
               custom_extra={"voice": "en-us+m3"})
    lab.supervisions[0].speaker = "spk1"
    path = _write(tmp_path / "in.jsonl.gz", [cut, lab])
    report = curate_split([path], tmp_path / "out.jsonl.gz", CurationConfig(), train=True)
    cuts = _read(tmp_path / "out.jsonl.gz")
    assert [(c.text, c.style, c.source) for c in caption_records(cuts["v1"])] == [
        ("First caption.", "unknown", "unknown"), ("Second one.", "unknown", "unknown")]
    assert cuts["v1"].custom["origin_id"] == "cut:v1"
    assert cuts["l1"].supervisions[0].speaker == "spk1" and cuts["l1"].supervisions[0].custom["voice"] == "en-us+m3"
    assert report["dropped_captions"] == {"duplicate_exact": 1}


def test_text_normalisation():
    assert normalize_text(" A\u00a0dog\tbarks\x07 ") == "A dog barks"
    assert normalize_text("\uff21\uff22") == "AB"  # NFKC folds full-width letters
    assert normalize_text("\u200b\ufeff\u200b") == "" and normalize_text("\ufeffcaf\u00e9\u200b") == "caf\u00e9"
    assert dedup_key("A dog, barking!") == dedup_key("a dog barking") == "a dog barking"


def test_bad_manifest_is_named(tmp_path, capsys):
    good = _write(tmp_path / "good.jsonl.gz", [_cut("g", "o:g", 2.0, ["fine caption"])])
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as f:
        f.write(json.dumps(_cut("x", "o:x", 2.0, ["ok caption"]).to_dict()) + "\n{not json\n")
    assert make_stew.main(["--out-dir", str(tmp_path / "o"), "--split", f"train={good},{bad}"]) == 2
    assert f"{bad}:2: not a JSON line" in capsys.readouterr().err
    assert make_stew.main(["--out-dir", str(tmp_path / "o"), "--split", f"train={tmp_path / 'none.jsonl.gz'}"]) == 2
    assert "manifest not found" in capsys.readouterr().err
    assert not (tmp_path / "o" / "cuts_train.jsonl.gz").exists()


@pytest.mark.parametrize("field, value, message", [
    ("caption", 5, ":1: malformed cut (TypeError"),
    ("custom", "abc", ":1: malformed cut (AttributeError"),
    ("origin", 7, ":1: malformed cut (TypeError: origin_id must be a string, got 7)"),
    ("duration", None, ":1: expected a Lhotse cut with a string id and a finite duration"),
    ("duration", "abc", ":1: expected a Lhotse cut with a string id and a finite duration"),
])
def test_malformed_cut_fields_are_named_and_nothing_is_written(tmp_path, capsys, field, value, message):
    cut = _cut("x", "o:x", 2.0, ["a caption"]).to_dict()
    if field == "caption":
        cut["supervisions"][0]["custom"]["caption"] = value
    elif field == "custom":
        cut["custom"] = value
    elif field == "origin":
        cut["custom"] = {"origin_id": value}
    else:
        cut[field] = value
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress((json.dumps(cut) + "\n").encode()))
    assert make_stew.main(["--out-dir", str(tmp_path / "o"), "--no-plots", "--split", f"train={bad}"]) == 2
    assert f"error: make_stew: {bad}{message}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_truncated_or_plain_file_is_named(tmp_path, capsys):
    lines = "".join(json.dumps(_cut(f"c{i}", f"o:{i}", 2.0, [f"caption {i}"]).to_dict()) + "\n" for i in range(2000))
    data = gzip.compress(lines.encode())
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(data[: len(data) // 2])
    assert make_stew.main(["--out-dir", str(tmp_path / "o"), "--no-plots", "--split", f"train={truncated}"]) == 2
    err = capsys.readouterr().err
    assert f"error: make_stew: {truncated}:" in err and "cannot be read (Compressed file ended" in err
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text(lines)
    assert make_stew.main(["--out-dir", str(tmp_path / "o"), "--no-plots", "--split", f"train={plain}"]) == 2
    assert f"error: make_stew: {plain}:1: cannot be read (Not a gzipped file" in capsys.readouterr().err


def test_failed_run_keeps_the_earlier_output_and_a_new_run_replaces_all_of_it(tmp_path, capsys):
    a = _write(tmp_path / "a.jsonl.gz", [_cut("a1", "o:a1", 2.0, ["first clip"])])
    b = _write(tmp_path / "b.jsonl.gz", [_cut("b1", "o:b1", 2.0, ["second clip"])])
    out = tmp_path / "o"
    assert make_stew.main(["--out-dir", str(out), "--split", f"train={a}", "--split", f"valid={b}"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b"{not json\n"))
    # valid is curated first and succeeds; train fails: nothing of this run may land
    assert make_stew.main(["--out-dir", str(out), "--split", f"valid={b}", "--split", f"train={bad}"]) == 2
    capsys.readouterr()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert make_stew.main(["--out-dir", str(out), "--split", f"train={a}"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["curation.json", "curation_train.png", "cuts_train.jsonl.gz"]


def test_refused_runs(tmp_path, capsys):
    a = _write(tmp_path / "a.jsonl.gz", [_cut("a1", "o:a1", 2.0, ["first clip"], source="src")])
    out = tmp_path / "o"
    cases = [
        (["--split", f"train={a}", "--split", f"train={a}"], "--split train is given twice"),
        (["--split", f"train={a}", "--source-cap", "wavcaps=1"],
         "--source-cap names source(s) wavcaps that no training manifest has; the sources are src"),
        (["--split", f"train={a}", "--min-clip-duration", "5"], "no training clip is left"),
        (["--split", f"train={a}", "--near-duplicate-jaccard", "2"], "0 < --near-duplicate-jaccard <= 1"),
    ]
    for args, message in cases:
        assert make_stew.main(["--out-dir", str(out), "--no-plots", *args]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists() or not list(out.glob("cuts_*"))
    assert make_stew.main(["--out-dir", str(tmp_path), "--split", f"train={a}"]) == 2
    assert "is in --out-dir" in capsys.readouterr().err
