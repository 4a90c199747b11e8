"""Caption normalisation: lower-casing, Unicode punctuation stripping, whitespace."""
import pytest

from audiotext.data.text import normalize_caption


def test_lowercase_and_strip_punctuation():
    text = "A dog barks, then   a CAR passes by!"
    assert normalize_caption(text, lowercase=True, strip_punctuation=True) == "a dog barks then a car passes by"
    assert normalize_caption(text, lowercase=False, strip_punctuation=True) == "A dog barks then a CAR passes by"
    assert normalize_caption(text, lowercase=True, strip_punctuation=False) == "a dog barks, then a car passes by!"
    assert normalize_caption(text, lowercase=False, strip_punctuation=False) == "A dog barks, then a CAR passes by!"


def test_punctuation_becomes_a_space_and_symbols_and_digits_stay():
    assert normalize_caption("high-pitched (loud) beep's", True, True) == "high pitched loud beep s"
    assert normalize_caption("a_b--c...d", False, True) == "a b c d"
    # category S (symbols) and N (digits) are not punctuation
    assert normalize_caption("3 + 4 = 7 $ 20°C", False, True) == "3 + 4 = 7 $ 20°C"


def test_unicode_punctuation_and_case():
    # guillemets (Pi/Pf), inverted marks (Po), em dash (Pd), CJK comma and full stop (Po), curly quotes
    assert normalize_caption("«Bonjour» — ¿QUÉ? “Ça”", True, True) == "bonjour qué ça"
    assert normalize_caption("鸟叫、风声。", False, True) == "鸟叫 风声"
    assert normalize_caption("ÉCHO İ", True, False) == "écho i̇"  # str.lower: dotted capital I keeps its dot


def test_whitespace_collapsed_and_empty_results():
    assert normalize_caption("  tabs\tand\nnewlines\u00a0here  ", False, False) == "tabs and newlines here"
    assert normalize_caption("?!...", True, True) == ""
    assert normalize_caption("", True, True) == ""
    with pytest.raises(TypeError, match="expects a str, got NoneType"):
        normalize_caption(None, True, True)
