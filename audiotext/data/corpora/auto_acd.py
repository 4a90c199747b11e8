"""Auto-ACD (Sun, Xu, Wu, Xie; ACM Multimedia 2024, arXiv 2309.11500): LLM captions of AudioSet and VGGSound clips.

Captions written by a language model from the clip's audio-visual cues (labels, image captions,
places, audio tags); the card counts over 1.9M audio-text pairs.

Layout as distributed (huggingface.co/datasets/Loie/Auto-ACD; code at github.com/LoieSun/Auto-ACD)::

    train.csv   (233 MB; 1,921,878 rows)
    test.csv    (88 kB)

The card: "For each data pair, we provide YouTube URLs and generated caption ... ``# YouTube ID,
caption``"; the header line is ``youtube_id,caption`` (as loaded in nttcslab/m2d's Auto-ACD
notebook). ``youtube_id`` comes in two forms: VGGSound's ``<ytid>_<start, 6 digits>``
(``oPRC3zComfA_000117``) and AudioSet's ``Y<ytid>`` (``YmAJAqzo-Y_Y``, **no start**; YouTube ids
hold ``_`` and ``-``, so ids are parsed from the right, see
:func:`~audiotext.data.corpora.youtube.parse_clip_id`). An id in neither form (nor the other
YouTube clip forms that function reads) is a LayoutError with file and line. An AudioSet id takes
its start from the AudioSet segment lists ``balanced_train_segments.csv``,
``unbalanced_train_segments.csv``, ``eval_segments.csv`` (research.google.com/audioset), which must
then sit in the corpus root; a video in none of them keeps ``origin_id`` ``yt:<ytid>`` (counted in
``self.without_start``, logged). test.csv is assumed to have the same columns (it could not be
inspected here; a different header is a LayoutError naming the file).

Splits: ``train.csv`` -> train, ``test.csv`` -> test. Captions are kept as distributed, including
the LLM preambles some rows carry (``The audio caption for the given information could be:
"..."``); style ``llm``, domain ``sound``. Rows naming the same clip (the same YouTube id and start,
whichever form names it: an AudioSet ``Y<ytid>`` and a VGGSound ``<ytid>_<start>`` of the same
segment are one clip) are one clip with their captions in file order; each file is read twice so
that this needs memory only for the repeated clips, which are yielded after the others.
``origin_id`` is ``yt:<ytid>:<start ms>``; the key ``<ytid>_<start ms>`` (cut ids
``auto_acd_oPRC3zComfA_117000``).

Audio is not distributed (Auto-ACD is built on VGGSound and AudioSet, downloaded separately): a
clip is looked up by its ``youtube_id`` (VGGSound files are ``<ytid>_<start:06d>``, PANNs-style
AudioSet files ``Y<ytid>``), then by the names other download tools use
(``Y<ytid>_<s>.000_<e>.000``, ``<ytid>_<start>``...), searched recursively; a bare ``<ytid>`` only
for the AudioSet ids.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Sequence

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.corpora.youtube import (
    AudioSetStarts, clip_audio_names, clip_key, clip_origin, group_by_key, parse_clip_id,
)
from audiotext.data.layout import LayoutError, iter_table, require_file

log = logging.getLogger(__name__)

SPLIT_FILES = (("train", "train.csv"), ("test", "test.csv"))
COLUMNS = ("youtube_id", "caption")


@register_corpus("auto_acd")
class AutoACD(CorpusPreparer):
    def __init__(self, conf: "CorpusPreparer.Config"):
        super().__init__(conf)
        self.without_start = 0

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        hint = "train.csv and test.csv of huggingface.co/datasets/Loie/Auto-ACD"
        paths = [(split, require_file(corpus_dir / name, f"Auto-ACD {split} captions", hint))
                 for split, name in SPLIT_FILES]
        starts = AudioSetStarts((corpus_dir,), "Auto-ACD")
        for split, path in paths:

            def read(path: Path = path):
                for line, row in iter_table(path, COLUMNS):
                    raw = row["youtube_id"].strip()
                    clip = parse_clip_id(raw)
                    if clip is None:
                        raise LayoutError(f"{path}:{line}: youtube_id {raw!r} is neither <ytid>_<start> (VGGSound) "
                                          f"nor Y<ytid> (AudioSet); a YouTube id is 11 characters of A-Z a-z 0-9 _ -")
                    start = clip.start if clip.start is not None else starts.start(clip.youtube_id)
                    yield (clip.youtube_id, start), (raw, row["caption"])

            without_start = 0
            for (youtube_id, start), rows in group_by_key(read):
                without_start += start is None
                yield ClipEntry(
                    split=split, key=clip_key(youtube_id, start), origin_id=clip_origin(youtube_id, start),
                    domain="sound", captions=[(caption, "llm") for _, caption in rows],
                    audio=clip_audio_names([raw for raw, _ in rows], youtube_id, start),
                )
            if without_start:
                self.without_start += without_start
                self.notes["origin_without_start"] += without_start
                log.warning("auto_acd: %d %s clips are in no AudioSet segment list (%s): origin_id yt:<ytid>",
                            without_start, split, ", ".join(str(p) for p in starts.paths))
