"""AudioSet: Google's segment lists and class_labels_indices.csv -> cuts whose supervisions carry the
labels (display names), the vocabulary file, unknown MIDs counted, the audio found by download names."""
from __future__ import annotations

import pytest
from lhotse import CutSet

from audiotext.bin import prepare_corpus as cli
from audiotext.data.corpora import prepare_corpus
from audiotext.data.corpora.audioset import read_class_labels
from audiotext.data.layout import LayoutError
from tests.corpus_fixtures.audioset import HEADER
from tests.corpus_fixtures.audioset import build as make_audioset

def test_prepare_audioset_labels_origin_and_vocabulary(tmp_path, caplog):
    corpus = tmp_path / "AudioSet"
    make_audioset(corpus)
    summary = prepare_corpus("audioset", corpus, tmp_path / "out", subsets=["all"])
    assert (tmp_path / "out" / "labels.txt").read_text() == "Speech\nMale speech, man speaking\nMusic\nGuitar\n"
    assert summary["extra_files"] == [str(tmp_path / "out" / "labels.txt")]
    assert summary["notes"] == {"labels_unknown_mid": 2}
    assert "/m/0zzzzz" in caplog.text and "balanced_train_segments.csv:5" in caplog.text
    train = {c.id: c for c in CutSet.from_file(tmp_path / "out" / "cuts_train.jsonl.gz")}
    test = {c.id: c for c in CutSet.from_file(tmp_path / "out" / "cuts_test.jsonl.gz")}
    assert sorted(train) == ["audioset_--0w1YA1Hm4_30000", "audioset_--aE2O5G5WE_0", "audioset_MuSiCsHaRe1_0"]
    assert sorted(test) == ["audioset_-1nilez17Dg_30000"]
    cut = train["audioset_--0w1YA1Hm4_30000"]
    assert cut.custom == {"origin_id": "yt:--0w1YA1Hm4:30000", "audioset_subset": "balanced_train"}
    [sup] = cut.supervisions
    assert sup.custom == {"caption": "Speech, Male speech, man speaking", "style": "tags", "domain": "sound",
                          "source": "audioset", "derived": True, "labels": ["Speech", "Male speech, man speaking"]}
    assert train["audioset_MuSiCsHaRe1_0"].supervisions[0].custom["labels"] == ["Music"]
    assert train["audioset_--aE2O5G5WE_0"].custom["audioset_subset"] == "unbalanced_train"
    assert test["audioset_-1nilez17Dg_30000"].supervisions[0].custom["labels"] == ["Music", "Guitar"]
    assert summary["splits"]["train"]["clips"] == 4 and summary["splits"]["train"]["clips_without_caption"] == 1
    assert summary["splits"]["test"]["clips_missing_audio"] == 1
    assert summary["total"]["clips_written"] == 4
    # the default subsets: balanced_train and eval
    summary = prepare_corpus("audioset", corpus, tmp_path / "out2")
    assert summary["subsets"] == ["balanced_train", "eval"] and summary["splits"]["train"]["clips_written"] == 2


def test_tagging_task_reads_the_prepared_labels(tmp_path):
    from audiotext.experiment import build_task, resolve

    corpus = tmp_path / "AudioSet"
    make_audioset(corpus)
    prepare_corpus("audioset", corpus, tmp_path / "out", subsets=["all"])
    exp = resolve({"task": "tagging", "task_conf": {"label_file": str(tmp_path / "out" / "labels.txt")},
                   "tokenizer": "byte", "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32,
                                                         "subsampling_channels": 4}})
    task = build_task(exp)
    cuts = sorted(CutSet.from_file(tmp_path / "out" / "cuts_train.jsonl.gz"), key=lambda c: c.id)
    batch = task.build_dataset(exp.data, train=False).make_batch(cuts)
    rows = {cid: row.tolist() for cid, row in zip(batch.cut_ids, batch.labels)}
    assert rows == {"audioset_--0w1YA1Hm4_30000": [1.0, 1.0, 0.0, 0.0], "audioset_--aE2O5G5WE_0": [0.0, 0.0, 0.0, 1.0],
                    "audioset_MuSiCsHaRe1_0": [0.0, 0.0, 1.0, 0.0]}


def test_bad_files_are_named(tmp_path, capsys):
    corpus = tmp_path / "AudioSet"
    make_audioset(corpus)
    bad = tmp_path / "bad.csv"
    bad.write_text('index,mid,display_name\n0,/m/09x0r,"Speech"\n2,/m/04rlf,"Music"\n')
    with pytest.raises(LayoutError, match=r"bad\.csv:3: index 2, expected 1"):
        read_class_labels(bad)
    bad.write_text('index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/09x0r,"Talk"\n')
    with pytest.raises(LayoutError, match=r"bad\.csv:3: mid '/m/09x0r' is also on line 2"):
        read_class_labels(bad)
    (corpus / "eval_segments.csv").write_text(HEADER + '-1nilez17Dg, thirty, 40.000, "/m/04rlf"\n')
    assert cli.main(["audioset", str(corpus), str(tmp_path / "out"), "--subsets", "eval"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: audioset: {corpus / 'eval_segments.csv'}:4: start_seconds should be a number of "
                   "seconds, got 'thirty'")
    (corpus / "eval_segments.csv").unlink()
    assert cli.main(["audioset", str(corpus), str(tmp_path / "out"), "--subsets", "eval"]) == 2
    assert "AudioSet file not found" in capsys.readouterr().err
