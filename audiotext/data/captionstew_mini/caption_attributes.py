"""Which speaker attributes a generated caption gets right, on the mini corpus' speech clips.

The speaking-style captions name gender, accent, pitch and pace with a fixed vocabulary
(speech.py). A caption counts as right on an attribute when the true class is the only one it
names; naming none or several is wrong. This reads what the captioning model learnt to hear,
next to the probes that read what its encoder keeps.

    python -m audiotext.data.captionstew_mini.caption_attributes \
        exp/captionstew_captioning/results_details.json data/manifests/cuts_test.jsonl.gz
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Dict, Iterable, List, Mapping, Sequence, Set

from .speech import GENDER_WORDS, PACE_WORDS, PITCH_WORDS, VOICES


def _phrases(words: Mapping[str, Sequence[str]]) -> List[str]:
    return sorted({w for group in words.values() for w in group})


# attribute -> (label key in the cut's supervision, class -> phrases, phrases blanked out first).
# "moderate" names a medium pitch ("the pitch is moderate") and a medium pace ("the pace is
# moderate", "at a moderate pace"): each attribute blanks the other's use of it before matching.
ATTRIBUTES: Dict[str, tuple] = {
    "gender": ("gender", {g: _phrases(w) for g, w in GENDER_WORDS.items()}, []),
    "accent": ("accent", {label: [adj] for label, adj in VOICES.values()}, []),
    "pitch": ("pitch_bucket", {b: _phrases(w) for b, w in PITCH_WORDS.items()}, [r"pace is \w+", r"moderate pace"]),
    "pace": ("speaking_rate", {b: _phrases(w) for b, w in PACE_WORDS.items()},
             [r"pitch is (neither high nor low|\w+)", r"voice is \w+"]),
}


def mentioned_classes(text: str, phrases_by_class: Mapping[str, Sequence[str]], blank: Iterable[str] = ()) -> Set[str]:
    """Classes whose phrases occur in ``text`` as whole words. Longer phrases are matched and
    removed first, so "neither high nor low" is not also read as "high" and "low"."""
    text = text.lower()
    for pattern in blank:
        text = re.sub(pattern, " ", text)
    by_length = sorted(((p.lower(), c) for c, ps in phrases_by_class.items() for p in ps), key=lambda x: -len(x[0]))
    found = set()
    for phrase, cls in by_length:
        pattern = r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])"
        if re.search(pattern, text):
            found.add(cls)
            text = re.sub(pattern, " ", text)
    return found


def score_captions(captions: Mapping[str, str], labels: Mapping[str, Mapping[str, str]]) -> Dict[str, dict]:
    """Per attribute: right (only the true class named), named (any class named), clips, accuracy, chance.
    ``labels`` holds the speech clips only; captions of other clips are ignored."""
    out = {}
    for name, (key, phrases, blank) in ATTRIBUTES.items():
        right = named = clips = 0
        for cut_id, clip_labels in labels.items():
            if cut_id not in captions or key not in clip_labels:
                continue
            clips += 1
            said = mentioned_classes(captions[cut_id], phrases, blank)
            named += bool(said)
            right += said == {clip_labels[key]}
        out[name] = {"right": right, "named": named, "clips": clips,
                     "accuracy": right / clips if clips else float("nan"), "chance": 1.0 / len(phrases)}
    return out


def speech_labels(cuts_path: str) -> Dict[str, Dict[str, str]]:
    from audiotext.data.dataset import load_cuts  # lhotse only when the CLI reads a manifest

    out = {}
    for cut in load_cuts(cuts_path, "test cuts"):
        for sup in cut.supervisions:
            custom = sup.custom or {}
            if custom.get("domain") == "speech" and "gender" in custom:
                out[cut.id] = {k: custom[k] for k, *_ in ATTRIBUTES.values() if k in custom}
                break
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("details", help="results_details.json of a captioning or joint evaluation")
    parser.add_argument("cuts", help="the test cuts (their supervisions carry the labels)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    with open(args.details, encoding="utf-8") as f:
        details = json.load(f)
    if "captions" not in details:
        print(f"{args.details}: no 'captions' (not a captioning or joint evaluation)", file=sys.stderr)
        return 2
    captions = {cid: c["generated"] for cid, c in details["captions"].items()}
    scores = score_captions(captions, speech_labels(args.cuts))
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    print("| attribute | right | named | clips | accuracy | chance |\n|---|---|---|---|---|---|")
    for name, s in scores.items():
        print(f"| {name} | {s['right']} | {s['named']} | {s['clips']} | {s['accuracy']:.3f} | {s['chance']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
