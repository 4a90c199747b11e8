"""Offline audio-captioning metrics with several references per clip.

The metrics follow the coco-caption conventions that the audio-captioning
benchmarks (DCASE task 6, AudioCaps, Clotho) report:

* ``bleu``    -- corpus BLEU-1..4 as coco-caption's ``Bleu`` scorer (``closest``
  reference length for the brevity penalty, clipped counts summed over the
  corpus, the 1e-9 / 1e-15 smoothing of its ``compute_score``);
* ``rouge_l`` -- coco's ROUGE-L (LCS F-measure, beta = 1.2; precision and
  recall are each maximised over the references, then combined; mean over clips);
* ``cider_d`` -- coco's CIDEr-D (1..4-grams, TF-IDF with document frequencies
  taken over the reference sets of the scored corpus, clipped vectors, Gaussian
  length penalty, x10);
* ``meteor``  -- the METEOR 1.5 jar through Java, only when both are available.

Every metric first tokenizes captions with :func:`normalize_caption`, an
approximation of coco's PTB tokenizer (lowercase, punctuation dropped).
"""
from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
import unicodedata
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

Tokens = List[str]
NGramCounts = Counter  # Counter[tuple[str, ...]]

_MAX_N = 4  # BLEU-4 and CIDEr-D both use 1..4-grams
_ROUGE_BETA = 1.2
_CIDER_SCALE = 10.0
METEOR_JAR_ENV = "AUDIOTEXT_METEOR_JAR"

# ---------------------------------------------------------------------------
# tokenization
# ---------------------------------------------------------------------------

# Clitics the PTB tokenizer splits off as their own tokens ("dog's" -> "dog 's",
# "can't" -> "ca n't"); coco keeps them, as they are not in its punctuation list.
_CLITICS = ("'s", "'re", "'ve", "'ll", "'d", "'m", "n't")
_CLITIC_RE = re.compile(r"(?<=\w)('s|'re|'ve|'ll|'d|'m|n't)(?!\w)")
# a hyphen is kept only inside a word ("high-pitched"), as PTB does
_LOOSE_HYPHEN_RE = re.compile(r"(?<!\w)-|-(?!\w)")
_QUOTE_MAP = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def _is_dropped_char(ch: str) -> bool:
    if ch in "'-":
        return False  # handled separately (clitics, intra-word hyphens)
    return ch == "`" or unicodedata.category(ch).startswith("P")


def normalize_caption(text: str) -> List[str]:
    """Tokens of a caption: lowercase, punctuation removed, split on whitespace.

    Close to coco-caption's PTB tokenization: intra-word hyphens are kept and
    English clitics are split off ("a dog's bark" -> ["a", "dog", "'s", "bark"]).
    Every other Unicode punctuation character becomes a space.
    """
    if not isinstance(text, str):
        raise TypeError(f"caption must be a str, got {type(text).__name__}")
    text = text.lower().translate(_QUOTE_MAP)
    text = "".join(" " if _is_dropped_char(ch) else ch for ch in text)
    text = _LOOSE_HYPHEN_RE.sub(" ", text)
    text = _CLITIC_RE.sub(r" \1", text)
    tokens = []
    for token in text.split():
        if token not in _CLITICS:
            token = token.replace("'", "")  # quotes, plural possessives ("dogs'")
        if token:
            tokens.append(token)
    return tokens


# ---------------------------------------------------------------------------
# input checks and helpers
# ---------------------------------------------------------------------------


def _check_inputs(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if isinstance(candidates, str) or isinstance(references, str):
        raise ValueError("candidates must be a list of captions and references a list of lists of captions")
    if len(candidates) != len(references):
        raise ValueError(
            f"candidates and references differ in length: {len(candidates)} candidates "
            f"but {len(references)} reference lists (one list per clip expected)"
        )
    if len(candidates) == 0:
        raise ValueError("no clips to score: candidates and references are empty")
    for i, (cand, refs) in enumerate(zip(candidates, references)):
        if not isinstance(cand, str):
            raise ValueError(f"candidate {i} is a {type(cand).__name__}, expected a str")
        if isinstance(refs, str):
            raise ValueError(f"references[{i}] is a str; expected a list of reference captions for clip {i}")
        if len(refs) == 0:
            raise ValueError(f"clip {i} has no reference caption")
        for j, ref in enumerate(refs):
            if not isinstance(ref, str):
                raise ValueError(f"reference {j} of clip {i} is a {type(ref).__name__}, expected a str")


def _tokenize_all(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    tokenizer: Callable[[str], List[str]],
) -> Tuple[List[Tokens], List[List[Tokens]]]:
    _check_inputs(candidates, references)
    cands = [tokenizer(c) for c in candidates]
    refs = [[tokenizer(r) for r in rs] for rs in references]
    return cands, refs


def _ngram_counts(tokens: Tokens, max_n: int) -> NGramCounts:
    counts: NGramCounts = Counter()
    for n in range(1, max_n + 1):
        for start in range(len(tokens) - n + 1):
            counts[tuple(tokens[start:start + n])] += 1
    return counts


# ---------------------------------------------------------------------------
# BLEU
# ---------------------------------------------------------------------------


def bleu(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    max_n: int = 4,
    *,
    tokenizer: Callable[[str], List[str]] = normalize_caption,
) -> Dict[str, float]:
    """Corpus-level BLEU-1..max_n as coco-caption's Bleu scorer (option "closest").

    Matches of each n-gram order are clipped per clip by the maximum count in any
    one reference and summed over the corpus; the brevity penalty compares the
    total candidate length with the sum, over clips, of the reference length
    closest to the candidate's (the shorter one on a tie).
    """
    if max_n < 1:
        raise ValueError(f"max_n must be >= 1, got {max_n}")
    cands, refs = _tokenize_all(candidates, references, tokenizer)
    small, tiny = 1e-9, 1e-15  # coco: avoids 0/0 and keeps the score 0 with no match
    guess = [0] * max_n
    correct = [0] * max_n
    cand_len_total = 0
    ref_len_total = 0
    for cand, clip_refs in zip(cands, refs):
        max_ref_counts: NGramCounts = Counter()
        for ref in clip_refs:
            for ngram, count in _ngram_counts(ref, max_n).items():
                if count > max_ref_counts[ngram]:
                    max_ref_counts[ngram] = count
        cand_len = len(cand)
        cand_len_total += cand_len
        ref_len_total += min((abs(len(r) - cand_len), len(r)) for r in clip_refs)[1]
        for n in range(1, max_n + 1):
            guess[n - 1] += max(0, cand_len - n + 1)
        for ngram, count in _ngram_counts(cand, max_n).items():
            correct[len(ngram) - 1] += min(count, max_ref_counts.get(ngram, 0))

    scores: Dict[str, float] = {}
    product = 1.0
    ratio = (cand_len_total + tiny) / (ref_len_total + small)
    brevity = math.exp(1.0 - 1.0 / ratio) if ratio < 1.0 else 1.0
    for n in range(1, max_n + 1):
        product *= (correct[n - 1] + tiny) / (guess[n - 1] + small)
        scores[f"bleu_{n}"] = product ** (1.0 / n) * brevity
    return scores


# ---------------------------------------------------------------------------
# ROUGE-L
# ---------------------------------------------------------------------------


def _lcs_length(a: Tokens, b: Tokens) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token_a in a:
        current = [0] * (len(b) + 1)
        for j, token_b in enumerate(b, start=1):
            if token_a == token_b:
                current[j] = previous[j - 1] + 1
            else:
                current[j] = max(previous[j], current[j - 1])
        previous = current
    return previous[-1]


def _rouge_l_clip(cand: Tokens, clip_refs: List[Tokens], beta: float) -> float:
    if not cand:
        return 0.0  # coco would divide by zero here
    precision = 0.0
    recall = 0.0
    for ref in clip_refs:
        lcs = _lcs_length(cand, ref)
        precision = max(precision, lcs / len(cand))
        if ref:
            recall = max(recall, lcs / len(ref))
    if precision == 0.0 or recall == 0.0:
        return 0.0
    return (1 + beta ** 2) * precision * recall / (recall + beta ** 2 * precision)


def rouge_l_per_clip(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    beta: float = _ROUGE_BETA,
    *,
    tokenizer: Callable[[str], List[str]] = normalize_caption,
) -> List[float]:
    """coco ROUGE-L of each clip (max precision and max recall over its references)."""
    cands, refs = _tokenize_all(candidates, references, tokenizer)
    return [_rouge_l_clip(c, r, beta) for c, r in zip(cands, refs)]


def rouge_l(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    beta: float = _ROUGE_BETA,
    *,
    tokenizer: Callable[[str], List[str]] = normalize_caption,
) -> float:
    """coco ROUGE-L averaged over clips."""
    per_clip = rouge_l_per_clip(candidates, references, beta, tokenizer=tokenizer)
    return sum(per_clip) / len(per_clip)


# ---------------------------------------------------------------------------
# CIDEr-D
# ---------------------------------------------------------------------------


def _tfidf(counts: NGramCounts, doc_freq: Counter, log_num_docs: float):
    """Per-order TF-IDF vectors and their L2 norms, as coco's counts2vec."""
    vectors: List[Dict[tuple, float]] = [{} for _ in range(_MAX_N)]
    norms = [0.0] * _MAX_N
    for ngram, tf in counts.items():
        # an n-gram absent from every reference set gets df 1 (log df = 0)
        weight = tf * (log_num_docs - math.log(max(1.0, doc_freq.get(ngram, 0))))
        order = len(ngram) - 1
        vectors[order][ngram] = weight
        norms[order] += weight * weight
    return vectors, [math.sqrt(v) for v in norms]


def cider_d_per_clip(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    sigma: float = 6.0,
    *,
    tokenizer: Callable[[str], List[str]] = normalize_caption,
) -> List[float]:
    """CIDEr-D of each clip, as coco-caption's CiderD scorer (already x10).

    Document frequencies come from the references of the scored corpus, so a
    clip's score depends on the other clips; with a single clip every IDF
    weight is log(1) = 0 and the score is 0.
    """
    cands, refs = _tokenize_all(candidates, references, tokenizer)
    if len(cands) == 1:
        logger.warning("CIDEr-D over a single clip is 0 by construction (IDF = log(1) = 0)")
    cand_counts = [_ngram_counts(c, _MAX_N) for c in cands]
    ref_counts = [[_ngram_counts(r, _MAX_N) for r in rs] for rs in refs]

    doc_freq: Counter = Counter()
    for clip_counts in ref_counts:
        doc_freq.update(set().union(*(c.keys() for c in clip_counts)))
    log_num_docs = math.log(float(len(cands)))

    scores = []
    for cand, cand_ngrams, clip_refs, clip_ref_ngrams in zip(cands, cand_counts, refs, ref_counts):
        cand_vec, cand_norm = _tfidf(cand_ngrams, doc_freq, log_num_docs)
        per_order = [0.0] * _MAX_N
        for ref, ref_ngrams in zip(clip_refs, clip_ref_ngrams):
            ref_vec, ref_norm = _tfidf(ref_ngrams, doc_freq, log_num_docs)
            # coco measures length in bigrams; the difference equals the word-count
            # difference except for empty captions, whose similarity is 0 anyway
            delta = float(len(cand) - len(ref))
            penalty = math.exp(-(delta ** 2) / (2.0 * sigma ** 2))
            for order in range(_MAX_N):
                dot = 0.0
                for ngram, weight in cand_vec[order].items():
                    ref_weight = ref_vec[order].get(ngram, 0.0)
                    dot += min(weight, ref_weight) * ref_weight  # CIDEr-D clipping
                if cand_norm[order] != 0.0 and ref_norm[order] != 0.0:
                    dot /= cand_norm[order] * ref_norm[order]
                per_order[order] += dot * penalty
        # mean over n-gram orders, then over references
        scores.append(_CIDER_SCALE * sum(per_order) / _MAX_N / len(clip_refs))
    return scores


def cider_d(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    sigma: float = 6.0,
    *,
    tokenizer: Callable[[str], List[str]] = normalize_caption,
) -> float:
    """Corpus CIDEr-D: the mean of :func:`cider_d_per_clip`."""
    per_clip = cider_d_per_clip(candidates, references, sigma, tokenizer=tokenizer)
    return sum(per_clip) / len(per_clip)


# ---------------------------------------------------------------------------
# METEOR (optional, needs Java and the METEOR 1.5 jar)
# ---------------------------------------------------------------------------


def meteor(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    jar: Optional[str] = None,
    *,
    tokenizer: Callable[[str], List[str]] = normalize_caption,
    java_memory: str = "2G",
) -> Optional[float]:
    """Corpus METEOR 1.5 (``-l en -norm``), as coco-caption runs it.

    Runs only when ``java`` is on PATH and a jar is given (``jar`` or the
    ``AUDIOTEXT_METEOR_JAR`` environment variable); otherwise logs why and
    returns None.
    """
    cands, refs = _tokenize_all(candidates, references, tokenizer)
    jar = jar or os.environ.get(METEOR_JAR_ENV) or None
    java = shutil.which("java")
    reasons = []
    if java is None:
        reasons.append("java is not on PATH")
    if jar is None:
        reasons.append(f"no METEOR 1.5 jar given (pass jar= or set {METEOR_JAR_ENV})")
    elif not os.path.isfile(jar):
        reasons.append(f"METEOR jar not found at {jar!r}")
    if reasons:
        logger.warning("METEOR skipped: %s", "; ".join(reasons))
        return None

    cmd = [java, "-Duser.language=en", "-Duser.country=US", f"-Xmx{java_memory}",
           "-jar", jar, "-", "-", "-stdio", "-l", "en", "-norm"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
    try:
        # -stdio protocol: "SCORE ||| ref ... ||| hyp" answers one line of
        # statistics; "EVAL ||| stats ..." answers one score per segment, then
        # the corpus score.
        stats = []
        for cand, clip_refs in zip(cands, refs):
            fields = [" ".join(r).replace("|||", "") for r in clip_refs] + [" ".join(cand).replace("|||", "")]
            proc.stdin.write("SCORE ||| " + " ||| ".join(fields) + "\n")
            proc.stdin.flush()
            stats.append(proc.stdout.readline().strip())
        proc.stdin.write("EVAL ||| " + " ||| ".join(stats) + "\n")
        proc.stdin.flush()
        for _ in cands:
            proc.stdout.readline()  # per-segment scores
        line = proc.stdout.readline().strip()
        try:
            return float(line)
        except ValueError:
            raise RuntimeError(f"METEOR jar gave no corpus score (read {line!r})") from None
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------
# all together
# ---------------------------------------------------------------------------


def caption_scores(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    meteor_jar: Optional[str] = None,
) -> Dict[str, float]:
    """``bleu_1..bleu_4``, ``rouge_l``, ``cider_d`` (and ``meteor`` when it ran).

    ``references[i]`` lists the reference captions of clip ``i``; ValueError when
    the lengths differ or a clip has no reference.
    """
    _check_inputs(candidates, references)
    scores = dict(bleu(candidates, references, max_n=_MAX_N))
    scores["rouge_l"] = rouge_l(candidates, references)
    scores["cider_d"] = cider_d(candidates, references)
    meteor_score = meteor(candidates, references, jar=meteor_jar)
    if meteor_score is not None:
        scores["meteor"] = meteor_score
    return scores
