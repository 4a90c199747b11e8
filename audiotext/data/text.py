"""Caption text normalisation (a text-side option of the data pipeline and the evaluation)."""
from __future__ import annotations

import unicodedata


def normalize_caption(text: str, lowercase: bool, strip_punctuation: bool) -> str:
    """Normalise one caption; whitespace is always collapsed.

    ``lowercase``: Unicode lower-casing (``str.lower``: "ÉCHO" -> "écho").
    ``strip_punctuation``: every character whose Unicode category starts with "P"
    (connector, dash, open/close, quote and other punctuation: ``. , ! ? ' " - _ ( ) « » ¿ 、 。``)
    becomes a space, so "high-pitched" -> "high pitched" rather than "highpitched" (the
    DCASE/WavCaps caption preprocessing also replaces punctuation by spaces). Symbols (category
    "S": ``$ + < = > ^ ` | ~ °``) and digits are kept.
    Then every run of whitespace becomes one space and the ends are trimmed.

    Returns the normalised string ("" when nothing is left). Raises TypeError when ``text``
    is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize_caption expects a str, got {type(text).__name__}")
    if lowercase:
        text = text.lower()
    if strip_punctuation:
        text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())
