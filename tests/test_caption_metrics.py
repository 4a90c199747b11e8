"""Captioning metrics (coco-caption conventions) on hand-computed and reference values."""
from __future__ import annotations

import logging
import math
import sys
import textwrap

import pytest

from audiotext.eval import caption_metrics as cm
from audiotext.eval.caption_metrics import (
    bleu,
    caption_scores,
    cider_d,
    cider_d_per_clip,
    meteor,
    normalize_caption,
    rouge_l,
    rouge_l_per_clip,
)

# ---------------------------------------------------------------------------
# tokenization
# ---------------------------------------------------------------------------


def test_normalize_caption_lowercases_and_drops_punctuation():
    assert normalize_caption("A Dog barks, LOUDLY!  (Then stops.)") == ["a", "dog", "barks", "loudly", "then", "stops"]
    assert normalize_caption("Rain -- on the roof; \"heavy\"...") == ["rain", "on", "the", "roof", "heavy"]
    assert normalize_caption("   ") == []


def test_normalize_caption_keeps_ptb_clitics_and_word_hyphens():
    # as coco's PTB tokenizer: clitics split off and kept, intra-word hyphens kept
    assert normalize_caption("A dog's high-pitched bark") == ["a", "dog", "'s", "high-pitched", "bark"]
    assert normalize_caption("It can\u2019t stop; the dogs' toys") == ["it", "ca", "n't", "stop", "the", "dogs", "toys"]


# ---------------------------------------------------------------------------
# BLEU
# ---------------------------------------------------------------------------


def test_bleu_identical_candidate_and_reference_is_one():
    cands = ["a dog barks loudly in the distance", "rain falls on a metal roof"]
    refs = [["a dog barks loudly in the distance"], ["rain falls on a metal roof", "heavy rain"]]
    scores = bleu(cands, refs)
    assert set(scores) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4"}
    for value in scores.values():
        assert value == pytest.approx(1.0, abs=1e-6)


def test_bleu_hand_computed_with_brevity_penalty():
    # candidate "the dog barks" (3 tokens); reference lengths 6 and 5:
    # closest to 3 is 5 (|5-3| = 2 < |6-3| = 3), so BP = exp(1 - 5/3) = exp(-2/3).
    # unigrams: the, dog, barks all occur in a reference -> 3/3
    # bigrams: "the dog" in neither, "dog barks" in ref 1 -> 1/2
    # BLEU-1 = 1 * BP = 0.513417...; BLEU-2 = sqrt(1 * 1/2) * BP = 0.363041...
    scores = bleu(["The dog barks."], [["A dog barks at the mailman.", "The big dog is barking."]], max_n=2)
    bp = math.exp(-2.0 / 3.0)
    assert scores["bleu_1"] == pytest.approx(bp, abs=1e-8)
    assert scores["bleu_2"] == pytest.approx(math.sqrt(0.5) * bp, abs=1e-8)
    assert set(scores) == {"bleu_1", "bleu_2"}


def test_bleu_clips_counts_and_sums_them_over_the_corpus():
    # clip 1: "the the the" vs "the cat": "the" clipped to 1 -> 1/3 unigrams;
    #         bigrams "the the" x2 -> 0/2
    # clip 2: "a cat" vs "a cat sits": 2/2 unigrams, "a cat" 1/1 bigram
    # corpus: unigrams 3/5, bigrams 1/3; lengths 5 vs closest refs 2 + 3 = 5 -> BP = 1
    # BLEU-1 = 0.6; BLEU-2 = sqrt(0.6 * 1/3) = sqrt(0.2) = 0.447213...
    scores = bleu(["the the the", "a cat"], [["the cat"], ["a cat sits"]], max_n=2)
    assert scores["bleu_1"] == pytest.approx(0.6, abs=1e-8)
    assert scores["bleu_2"] == pytest.approx(math.sqrt(0.2), abs=1e-8)


def test_bleu_without_any_match_is_zero():
    scores = bleu(["zzz yyy"], [["a dog barks"]])
    assert all(v < 1e-6 for v in scores.values())


# ---------------------------------------------------------------------------
# ROUGE-L
# ---------------------------------------------------------------------------


def test_lcs_by_hand():
    cand = "a dog barks at a cat".split()
    # "a small dog barks at night outside": LCS = "a dog barks at" -> 4
    assert cm._lcs_length(cand, "a small dog barks at night outside".split()) == 4
    # "the cat sees a dog": "a dog" -> 2 ("cat" comes before "a" there)
    assert cm._lcs_length(cand, "the cat sees a dog".split()) == 2
    assert cm._lcs_length(cand, []) == 0


def test_rouge_l_hand_computed_max_precision_and_recall_over_references():
    # candidate "a dog barks at a cat" (6 tokens)
    # ref 1 "a small dog barks at night outside" (7): LCS 4 -> P = 4/6, R = 4/7
    # ref 2 "a dog" (2): LCS 2 ("a dog") -> P = 2/6, R = 2/2
    # coco maximises precision and recall separately: P = 2/3, R = 1
    # F = (1 + 1.2^2) P R / (R + 1.2^2 P) = 2.44 * 2/3 / (1 + 1.44 * 2/3) = 1.62667 / 1.96 = 0.829932
    score = rouge_l(["A dog barks at a cat."], [["A small dog barks at night, outside.", "A dog"]])
    p, r, b2 = 2 / 3, 1.0, 1.2 ** 2
    assert score == pytest.approx((1 + b2) * p * r / (r + b2 * p), abs=1e-10)
    assert score == pytest.approx(0.829932, abs=1e-6)


def test_rouge_l_averages_clips_and_empty_candidate_scores_zero():
    # clip 1: identical -> 1; clip 2: empty candidate -> 0 (coco divides by zero here)
    per_clip = rouge_l_per_clip(["a dog barks", "..."], [["a dog barks"], ["rain"]])
    assert per_clip == [1.0, 0.0]
    assert rouge_l(["a dog barks", "..."], [["a dog barks"], ["rain"]]) == 0.5


# ---------------------------------------------------------------------------
# CIDEr-D
# ---------------------------------------------------------------------------


def test_cider_d_hand_computed_two_clips():
    # N = 2 clips, log N = ln 2; every reference n-gram has df 1 -> idf ln 2;
    # n-grams in no reference get df max(1, 0) = 1 -> idf ln 2 as well.
    # clip 1 "dog barks" vs "dog barks": orders 1 and 2 cosine 1, orders 3, 4 empty -> 0
    #   score = 10 * (1 + 1 + 0 + 0) / 4 = 5
    # clip 2 "cat meows" vs "cat sleeps": unigram vectors (l, l) and (l, l) sharing "cat":
    #   dot = l^2, norms sqrt(2) l each -> 0.5; bigrams share nothing -> 0
    #   score = 10 * 0.5 / 4 = 1.25
    # corpus = (5 + 1.25) / 2 = 3.125
    cands, refs = ["dog barks", "cat meows"], [["dog barks"], ["cat sleeps"]]
    assert cider_d_per_clip(cands, refs) == pytest.approx([5.0, 1.25], abs=1e-10)
    assert cider_d(cands, refs) == pytest.approx(3.125, abs=1e-10)


def test_cider_d_hand_computed_with_df_clipping_and_length_penalty():
    # N = 3, L = ln 3 (idf of a df-1 n-gram), D = ln 3 - ln 2 (idf of "dog", in 2 reference sets).
    # Every clip differs by one word from its reference -> penalty g = exp(-1 / (2 * 6^2)).
    L, D = math.log(3), math.log(3) - math.log(2)
    g = math.exp(-1.0 / 72.0)
    # clip 1 "dog dog barks" vs "dog barks":
    #   unigrams cand (2D, L), ref (D, L); clipped dot = min(2D, D) D + L^2 = D^2 + L^2
    #   cosine = (D^2 + L^2) / (sqrt(4D^2 + L^2) sqrt(D^2 + L^2))
    #   bigrams cand {dog dog: L (unseen), dog barks: L}, ref {dog barks: L}: L^2 / (sqrt2 L * L)
    #   trigram: the reference has none -> 0
    s1 = 10 * g * (math.sqrt(D**2 + L**2) / math.sqrt(4 * D**2 + L**2) + 1 / math.sqrt(2)) / 4
    # clip 2 "dog runs" vs "a dog runs":
    #   unigrams cand (D, L), ref (L, D, L): dot D^2 + L^2 -> sqrt(D^2 + L^2) / sqrt(D^2 + 2L^2)
    #   bigrams cand {dog runs}, ref {a dog, dog runs}: 1 / sqrt2; no candidate trigram
    s2 = 10 * g * (math.sqrt(D**2 + L**2) / math.sqrt(D**2 + 2 * L**2) + 1 / math.sqrt(2)) / 4
    # clip 3 "rain" vs "rain falls": unigram cosine 1/sqrt2, nothing else
    s3 = 10 * g * (1 / math.sqrt(2)) / 4
    cands = ["dog dog barks", "dog runs", "rain"]
    refs = [["dog barks"], ["a dog runs"], ["rain falls"]]
    assert cider_d_per_clip(cands, refs) == pytest.approx([s1, s2, s3], abs=1e-10)
    assert [round(s, 4) for s in (s1, s2, s3)] == [3.8578, 3.5415, 1.7434]
    assert cider_d(cands, refs) == pytest.approx((s1 + s2 + s3) / 3, abs=1e-10)


def test_cider_d_sigma_only_changes_the_length_penalty():
    cands, refs = ["dog dog barks", "dog runs", "rain"], [["dog barks"], ["a dog runs"], ["rain falls"]]
    wide = cider_d_per_clip(cands, refs, sigma=1e6)
    default = cider_d_per_clip(cands, refs)
    for w, d in zip(wide, default):  # each clip is off by one word: penalty exp(-1/72)
        assert d == pytest.approx(w * math.exp(-1.0 / 72.0), abs=1e-10)


# ---------------------------------------------------------------------------
# reference values from aac-metrics 0.6.0 (a port of coco-caption's scorers).
# Obtained by running its functional bleu(n=4, return_1_to_n=True), rouge_l and
# cider_d (src/aac_metrics/functional/{bleu,rouge_l,cider_d}.py, tokenizer=str.split,
# package imports stubbed) on exactly these pre-normalized sentences.
# ---------------------------------------------------------------------------

AAC_CASES = {
    "A": dict(
        cands=["a dog barks loudly in the distance", "rain falls on a metal roof", "a man speaks", "birds chirp"],
        refs=[
            ["a dog is barking in the distance", "a dog barks while birds chirp", "dog barking loudly far away"],
            ["rain is falling on a tin roof", "heavy rain hits the roof", "water drips onto a metal surface"],
            ["a man is speaking to a crowd", "a man talks while people murmur"],
            ["birds are chirping in the trees", "many birds chirp and sing"],
        ],
        bleu=[0.6369167204, 0.5106694611, 0.3343348493, 0.0000442253],
        rouge_l=0.5677324143,
        rouge_l_clips=[0.7142857143, 0.6069651741, 0.4192439863, 0.5304347826],
        cider_d=1.5099326250,
        cider_d_clips=[2.3852040289, 1.3468904865, 1.3967412656, 0.9108947190],
    ),
    "B": dict(
        cands=["the the the the car", "a car engine idles then revs up", "people talk and laugh in a busy room"],
        refs=[
            ["a car engine is running", "the car engine idles", "an engine revs"],
            ["a car engine idles then revs up", "an engine is revving"],
            ["people are talking in a crowded room", "a crowd of people chatting and laughing",
             "several people talk loudly", "voices in a busy restaurant"],
        ],
        bleu=[0.8000000000, 0.6859943405, 0.5864370856, 0.5203947381],
        rouge_l=0.6693590177,
        rouge_l_clips=[0.4535315985, 1.0000000000, 0.5545454545],
        cider_d=2.3151304165,
        cider_d_clips=[0.4500625770, 5.0793615746, 1.4159670979],
    ),
    "C": dict(
        cands=["water flows in a stream", "a bell rings twice"],
        refs=[
            ["water flows in a stream", "a stream of water trickles"],
            ["a church bell rings", "bells ring in the distance", "a bell is ringing twice"],
        ],
        bleu=[0.9999999998, 0.9258200996, 0.8011887088, 0.7652058830],
        rouge_l=0.8750000000,
        rouge_l_clips=[1.0, 0.75],
        cider_d=3.7896274251,
        cider_d_clips=[6.0341878365, 1.5450670137],
    ),
}


@pytest.mark.parametrize("name", sorted(AAC_CASES))
def test_matches_aac_metrics_reference_values(name):
    case = AAC_CASES[name]
    cands, refs = case["cands"], case["refs"]
    scores = bleu(cands, refs)
    assert [scores[f"bleu_{n}"] for n in range(1, 5)] == pytest.approx(case["bleu"], abs=1e-6)
    assert rouge_l(cands, refs) == pytest.approx(case["rouge_l"], abs=1e-6)
    assert rouge_l_per_clip(cands, refs) == pytest.approx(case["rouge_l_clips"], abs=1e-6)
    assert cider_d(cands, refs) == pytest.approx(case["cider_d"], abs=1e-6)
    assert cider_d_per_clip(cands, refs) == pytest.approx(case["cider_d_clips"], abs=1e-6)


def test_raw_captions_are_normalized_before_scoring():
    case = AAC_CASES["A"]
    raw_cands = ["A dog barks loudly, in the distance.", "Rain falls on a metal roof!", "A man speaks.", "Birds chirp"]
    raw_refs = [[r.capitalize() + "." for r in rs] for rs in case["refs"]]
    scores = caption_scores(raw_cands, raw_refs)
    assert scores["cider_d"] == pytest.approx(case["cider_d"], abs=1e-6)
    assert scores["rouge_l"] == pytest.approx(case["rouge_l"], abs=1e-6)
    assert scores["bleu_3"] == pytest.approx(case["bleu"][2], abs=1e-6)


# ---------------------------------------------------------------------------
# caption_scores and input checks
# ---------------------------------------------------------------------------


def test_caption_scores_keys_and_values(monkeypatch):
    monkeypatch.setattr(cm.shutil, "which", lambda name: None)
    case = AAC_CASES["B"]
    scores = caption_scores(case["cands"], case["refs"])
    assert set(scores) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider_d"}
    assert scores["cider_d"] == pytest.approx(case["cider_d"], abs=1e-6)
    assert scores["bleu_4"] == pytest.approx(case["bleu"][3], abs=1e-6)


@pytest.mark.parametrize("fn", [bleu, rouge_l, cider_d, caption_scores, meteor])
def test_length_mismatch_raises(fn):
    with pytest.raises(ValueError, match="differ in length: 2 candidates but 1 reference"):
        fn(["a dog", "a cat"], [["a dog"]])


@pytest.mark.parametrize("fn", [bleu, rouge_l, cider_d, caption_scores, meteor])
def test_clip_without_reference_raises(fn):
    with pytest.raises(ValueError, match="clip 1 has no reference caption"):
        fn(["a dog", "a cat"], [["a dog"], []])


def test_flat_reference_list_raises():
    with pytest.raises(ValueError, match=r"references\[0\] is a str"):
        caption_scores(["a dog", "a cat"], ["a dog", "a cat"])
    with pytest.raises(ValueError, match="no clips"):
        caption_scores([], [])


# ---------------------------------------------------------------------------
# METEOR: skipped without java or jar
# ---------------------------------------------------------------------------


def _meteor_messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == cm.__name__ and "METEOR" in r.getMessage()]


def test_meteor_skipped_without_java(monkeypatch, caplog, tmp_path):
    jar = tmp_path / "meteor-1.5.jar"
    jar.write_bytes(b"")
    monkeypatch.setattr(cm.shutil, "which", lambda name: None)
    with caplog.at_level(logging.INFO, logger=cm.__name__):
        assert meteor(["a dog"], [["a dog"]], jar=str(jar)) is None
    assert _meteor_messages(caplog) == ["METEOR skipped: java is not on PATH"]


def test_meteor_skipped_without_jar(monkeypatch, caplog):
    monkeypatch.setattr(cm.shutil, "which", lambda name: "/usr/bin/java")
    monkeypatch.delenv(cm.METEOR_JAR_ENV, raising=False)
    with caplog.at_level(logging.INFO, logger=cm.__name__):
        assert meteor(["a dog"], [["a dog"]]) is None
    messages = _meteor_messages(caplog)
    assert len(messages) == 1
    assert "no METEOR 1.5 jar given" in messages[0] and "AUDIOTEXT_METEOR_JAR" in messages[0]
    assert "java is not on PATH" not in messages[0]


def test_meteor_skipped_with_missing_jar_file_and_no_java(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(cm.shutil, "which", lambda name: None)
    monkeypatch.setenv(cm.METEOR_JAR_ENV, str(tmp_path / "absent.jar"))
    with caplog.at_level(logging.INFO, logger=cm.__name__):
        scores = caption_scores(["a dog", "a cat"], [["a dog"], ["a cat"]])
    assert "meteor" not in scores
    messages = _meteor_messages(caplog)
    assert len(messages) == 1
    assert "java is not on PATH" in messages[0] and "METEOR jar not found" in messages[0]


def test_meteor_stdio_protocol_with_a_fake_java(monkeypatch, tmp_path):
    # no METEOR jar here: a stand-in "java" speaks the -stdio protocol so the plumbing is exercised
    fake_java = tmp_path / "java"
    fake_java.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        n = 0
        for line in sys.stdin:
            fields = line.rstrip("\\n").split(" ||| ")
            if fields[0] == "SCORE":
                n += 1
                print("stats", len(fields) - 2, len(fields[-1].split()), flush=True)
            elif fields[0] == "EVAL":
                assert fields[1:] == ["stats 2 3", "stats 1 1"], fields  # the SCORE answers, in order
                for i in range(n):
                    print(0.1 * (i + 1), flush=True)
                print(0.25, flush=True)
        """))
    fake_java.chmod(0o755)
    jar = tmp_path / "meteor-1.5.jar"
    jar.write_bytes(b"")
    monkeypatch.setattr(cm.shutil, "which", lambda name: str(fake_java))
    monkeypatch.setenv(cm.METEOR_JAR_ENV, str(jar))
    scores = caption_scores(["A dog barks.", "rain"], [["a dog", "dogs bark"], ["rain falls"]])
    assert scores["meteor"] == 0.25  # the corpus line, after one line per clip
