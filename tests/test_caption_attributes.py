import json

import numpy as np
import pytest

from audiotext.data.captionstew_mini.caption_attributes import ATTRIBUTES, main, mentioned_classes, score_captions
from audiotext.data.captionstew_mini.speech import VOICES, speaking_style_caption


def said(attribute, text):
    _, phrases, blank = ATTRIBUTES[attribute]
    return mentioned_classes(text, phrases, blank)


def test_whole_words_only_female_is_not_male():
    assert said("gender", "A woman with a French accent speaks slowly.") == {"female"}
    assert said("gender", "A female speaker talks.") == {"female"}
    assert said("gender", "A man and a feminine voice.") == {"male", "female"}


def test_longest_phrase_first_and_context_for_moderate():
    text = "A male speaker with a Dutch accent. The pitch is neither high nor low and the pace is moderate."
    assert said("pitch", text) == {"medium"}
    assert said("pace", text) == {"medium"}
    text = "A male speaker with a Dutch accent. The pitch is moderate and the pace is fast."
    assert said("pitch", text) == {"medium"}
    assert said("pace", text) == {"fast"}
    # "slowly" is a pace word, "low" inside it is not a pitch word
    assert said("pitch", "A woman speaks slowly.") == set()
    assert said("accent", "A New York accent, not an American one.") == {"new_york", "american"}


def test_every_generated_style_caption_names_exactly_its_own_labels():
    rng = np.random.default_rng(0)
    accents = {label: adj for label, adj in VOICES.values()}
    for i in range(300):
        gender = ["male", "female"][i % 2]
        accent = list(accents)[i % len(accents)]
        pitch = ["low", "medium", "high"][i % 3]
        pace = ["slow", "medium", "fast"][(i // 3) % 3]
        variant = ["m1", "m4", "m6"][i % 3] if gender == "male" else ["f2", "f3", "f5"][i % 3]
        text = speaking_style_caption(gender, accents[accent], pitch, pace, rng, variant)
        truth = {"gender": gender, "accent": accent, "pitch": pitch, "pace": pace}
        for name, value in truth.items():
            assert said(name, text) == {value}, (name, text)


def test_score_counts_right_named_and_clips():
    labels = {"a": {"gender": "male", "accent": "french", "pitch_bucket": "low", "speaking_rate": "fast"},
              "b": {"gender": "female", "accent": "german", "pitch_bucket": "high", "speaking_rate": "slow"},
              "c": {"gender": "female", "accent": "polish", "pitch_bucket": "low", "speaking_rate": "slow"}}
    captions = {"a": "A man with a French accent speaks quickly in a deep, plain voice.",
                "b": "A woman with a Polish accent speaks slowly in a high, thin voice.",
                "music-1": "piano, slow"}  # "c" has no caption: not counted
    scores = score_captions(captions, labels)
    assert scores["gender"] == pytest.approx({"right": 2, "named": 2, "clips": 2, "accuracy": 1.0, "chance": 0.5})
    assert scores["accent"]["right"] == 1 and scores["accent"]["chance"] == pytest.approx(1 / 15)
    assert scores["pitch"]["accuracy"] == 1.0 and scores["pace"]["accuracy"] == 1.0


def test_cli_refuses_details_without_captions(tmp_path, capsys):
    details = tmp_path / "results_details.json"
    details.write_text(json.dumps({"probe.voice.linear.pretrained": 0.5}))
    assert main([str(details), str(tmp_path / "cuts.jsonl.gz")]) == 2
    assert "no 'captions'" in capsys.readouterr().err


def test_cli_names_a_missing_manifest(tmp_path):
    details = tmp_path / "results_details.json"
    details.write_text(json.dumps({"captions": {"speech-1": {"generated": "A man.", "references": []}}}))
    with pytest.raises(FileNotFoundError, match="manifest not found: .*nope.jsonl.gz"):
        main([str(details), str(tmp_path / "nope.jsonl.gz")])
