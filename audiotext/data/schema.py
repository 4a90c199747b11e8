"""The manifest schema: every custom field the framework writes into or reads from a CutSet.

One **clip** is one Lhotse ``MonoCut`` (its recording is the audio file as distributed; the
training dataset resamples on load). One **caption** is one ``SupervisionSegment`` spanning the
whole cut, so a clip with five human captions, a tag list and a transcript has seven
supervisions. The custom fields are:

``cut.custom``
    ``origin_id`` (str): the identity of the underlying audio, the same in every corpus that
    redistributes it, so one recording is recognised across sources and kept out of evaluation
    splits. Forms (built by the helpers below): ``yt:<youtube id>:<start ms>`` (AudioSet,
    AudioCaps, VGGSound, MusicCaps, YouTube-8M clips), ``freesound:<sound id>``,
    ``bbc:<id>``, ``soundbible:<id>``, ``jamendo:<track id>``, ``mtt:<clip id>``,
    ``voxceleb:<speaker>/<video>/<utterance>``, and ``<corpus>:<path without extension>``
    for corpora without a public id (Expresso, EARS, Emilia).

``supervision.custom`` (one caption)
    ``caption`` (str): the text as distributed (stripped of surrounding white space).
    ``style`` (str): how it was written; the standard values are in :data:`STYLES`.
    ``domain`` (str): ``speech``, ``music`` or ``sound`` (:data:`DOMAINS`).
    ``source`` (str): the corpus name the caption came from (its preparer's registry name,
    with a subset where the corpus has several, e.g. ``wavcaps_bbc``).
    ``derived`` (bool, optional): true for a caption a preparer made from another field
    (MusicCaps' aspect list, a transcript), so the accounting of official caption slots
    stays separate.

The published CaptionStew manifests store ``supervisions[0].custom["caption"]`` as a **list**
of strings with no style/domain/source; :func:`caption_records` reads that form, a single
string, and ours alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

ORIGIN_ID = "origin_id"
CAPTION, STYLE, DOMAIN, SOURCE, DERIVED = "caption", "style", "domain", "source", "derived"
CAPTION_FIELDS = (CAPTION, STYLE, DOMAIN, SOURCE)

DOMAINS = ("speech", "music", "sound")
STYLES = {
    "human": "a description written by a person (AudioCaps, Clotho, MusicCaps)",
    "llm": "a description written or rewritten by a language model (WavCaps, AudioSetCaps, FusionAudio, "
           "JamendoMaxCaps, Auto-ACD)",
    "tags": "a comma-separated list of labels or keywords (MusicCaps aspect list, Clotho keywords)",
    "transcript": "the words spoken (ParaSpeechCaps transcription)",
    "speaking_style": "a description of how something is said (ParaSpeechCaps, SpeechCraft)",
    "description": "a description generated from a template (the synthetic mini corpus)",
    "llm_writing": "LP-MusicCaps caption_writing",
    "llm_summary": "LP-MusicCaps summary",
    "llm_paraphrase": "LP-MusicCaps paraphrase",
    "llm_attribute": "LP-MusicCaps attribute_prediction",
}
UNKNOWN = "unknown"  # style/domain/source of a caption whose manifest does not say


@dataclass(frozen=True)
class Caption:
    """One caption of a clip, with its provenance."""

    text: str
    style: str = UNKNOWN
    domain: str = UNKNOWN
    source: str = UNKNOWN
    derived: bool = False

    def custom(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {CAPTION: self.text, STYLE: self.style, DOMAIN: self.domain, SOURCE: self.source}
        if self.derived:
            out[DERIVED] = True
        return out


def caption_records(cut) -> List[Caption]:
    """All captions of a clip, in supervision order.

    A supervision's ``custom["caption"]`` may be a string (ours), a list of strings (the
    published CaptionStew manifests: each string one caption, sharing the supervision's
    style/domain/source if it has them), or absent (not a caption: skipped). Empty strings
    are left out.
    """
    out: List[Caption] = []
    for sup in cut.supervisions:
        fields = supervision_captions(sup.custom or {})
        if fields is None:
            continue
        texts, style, domain, source, derived = fields
        for text in texts:
            if isinstance(text, str) and text.strip():
                out.append(Caption(text.strip(), style, domain, source, derived))
    return out


def supervision_captions(custom: Dict[str, Any]) -> Optional[Tuple[list, str, str, str, bool]]:
    """(caption texts, style, domain, source, derived) of one supervision's ``custom`` dict, or None
    when it holds no caption. The texts are as written (a string becomes a one-item list); missing
    style/domain/source read as ``unknown``."""
    value = custom.get(CAPTION)
    if value is None:
        return None
    texts = [value] if isinstance(value, str) else list(value)
    return (texts, str(custom.get(STYLE) or UNKNOWN), str(custom.get(DOMAIN) or UNKNOWN),
            str(custom.get(SOURCE) or UNKNOWN), bool(custom.get(DERIVED, False)))


def origin_id(cut) -> Optional[str]:
    """The clip's ``origin_id``, or None when its manifest has none."""
    return (cut.custom or {}).get(ORIGIN_ID)


def youtube_origin(youtube_id: str, start_seconds: float) -> str:
    """``yt:<id>:<start in integer milliseconds>``: AudioSet-derived corpora give starts as
    ``30``, ``30.0`` or ``30.000``; milliseconds make all of them one key."""
    start = float(start_seconds)
    if not math.isfinite(start) or start < 0:
        raise ValueError(f"YouTube clip {youtube_id}: start must be a finite number of seconds >= 0, got {start_seconds!r}")
    return f"yt:{youtube_id}:{int(round(start * 1000))}"


def id_origin(namespace: str, identifier: str) -> str:
    """``<namespace>:<identifier>`` for corpora with their own stable ids (``freesound:1234``)."""
    return f"{namespace}:{identifier}"
