"""AudioSetCaps (Bai et al., NeurIPS 2024 Audio Imagination workshop; IEEE/ACM TASLP 2025, arXiv 2411.18953):
LLM captions of 10-second YouTube clips from AudioSet, VGGSound and YouTube-8M.

Layout as distributed (huggingface.co/datasets/baijs/AudioSetCaps, folder ``Dataset/``)::

    Dataset/AudioSetCaps_caption.csv           AudioSet     1,910,920 captions  (374 MB)
    Dataset/VGGSound_AudioSetCaps_caption.csv  VGGSound       182,189 captions  (35.9 MB)
    Dataset/YouTube-8M_AudioSetCaps_caption.csv YouTube-8M  4,023,990 captions  (828 MB)
    Dataset/*_Qwen-Audio_Q&A.csv               the intermediate Q&A the captions were written from (not read)

Each caption CSV has the columns ``id, caption``, one row per clip (the CaptionStew data-prep
scripts and other loaders read ``row['id']``, ``row['caption']``). The dataset card warns that
AudioCaps and VGGSound evaluation clips are among them. The CaptionStew recipe
(github.com/RayTzeng/CaptionStew-data-prep, release v1.0.0) publishes pre-filtered copies with
the same columns: ``VGGSound_AudioSetCaps_caption.filtered.csv`` (AudioCaps val/test and
MusicCaps eval clips removed) and ``YouTube-8M_AudioSetCaps_caption.filtered.csv`` (also VGGSound
test removed); no filtered AudioSet file is known, but ``AudioSetCaps_caption.filtered.csv`` is
read the same way if present. Every file is looked for in the corpus root, then in ``Dataset/``.

Which file is read, per subset: with ``captions = auto`` (the default) the ``.filtered.csv`` when
it exists, else the original; ``filtered`` or ``original`` insist on one (a missing file is an
error). The choice is the Config field ``captions`` (``prepare_corpus ... --conf captions=original``).
The file read is logged and kept in ``self.files_read``. The
recipe's choice is the filtered VGGSound and YouTube-8M files and the full AudioSet file (its
1.91M AudioSet captions); the curation step removes the remaining evaluation overlaps by origin.

Ids (as seen in third-party loaders of these files; the card shows ``_7Xe9vD3Hpg_4_10``,
``-TL8Mp3xcUM_0_10``): AudioSet ``Y<ytid>`` (``Y---1_cCGK4M``, the PANNs file name, **no
start**), VGGSound ``<ytid>_<start, 6 digits>`` (``OxPnZzn1_L8_000883``), YouTube-8M
``<ytid>_<start>_<length>`` (``9eUrEyAR3xk_84_10``; assumed: the middle number is the start in
seconds, the last the length, always 10). Every form is accepted in every file
(:func:`~audiotext.data.corpora.youtube.parse_clip_id`, parsed from the right since YouTube ids
hold ``_`` and ``-``); an id in none of them is a LayoutError naming the file and line. An id
without a start takes it from the AudioSet segment lists ``balanced_train_segments.csv``,
``unbalanced_train_segments.csv``, ``eval_segments.csv`` (research.google.com/audioset), which
must then be in the corpus root or ``Dataset/``; a video in none of them keeps no start
(``origin_id`` ``yt:<ytid>``, key ``<ytid>``), counted in ``self.without_start`` and logged.

Rows with the same clip (same YouTube id and start) in one file are one clip with their captions
in file order (a file is read twice so this needs no more memory than the repeated clips; they
are yielded after the others). Every slot is style ``llm``, domain ``sound``; every clip is
``train`` (the release has no split). ``origin_id`` is ``yt:<ytid>:<start ms>``, the key shared
with AudioCaps and the other AudioSet-derived corpora; the cut key is ``<ytid>_<start ms>`` and
the source ``audiosetcaps_<subset>``, so cut ids read ``audiosetcaps_audioset_--0w1YA1Hm4_30000``.

Audio is not distributed. It is looked up by the id itself (``Y<ytid>.wav`` from PANNs-style
AudioSet downloads, ``<ytid>_<start>.wav`` from the 16 kHz VGGSound on Hugging Face,
``batchN/<category>/<id>.mp3`` from the YouTube-8M archive the recipe links), then by the names
AudioSet/VGGSound download tools use (``Y<ytid>_<s>.000_<e>.000``, ``<ytid>_<start:06d>``...),
searched recursively; a name without the start (``<ytid>``) only for the AudioSet ids, since
VGGSound and YouTube-8M take several segments of one video.

Subsets (``--subsets``): ``audioset``, ``vggsound``, ``youtube8m`` (all three by default, as in the
paper); they are prepared in that order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.corpora.youtube import (
    AudioSetStarts, clip_audio_names, clip_key, clip_origin, group_by_key, parse_clip_id,
)
from audiotext.data.layout import LayoutError, MissingFileError, iter_table

log = logging.getLogger(__name__)

SUBSET_FILES = (
    ("audioset", "AudioSetCaps_caption"),
    ("vggsound", "VGGSound_AudioSetCaps_caption"),
    ("youtube8m", "YouTube-8M_AudioSetCaps_caption"),
)
COLUMNS = ("id", "caption")
CAPTION_CHOICES = ("auto", "filtered", "original")
ID_FORMS = "Y<ytid>, <ytid>_<start>, <ytid>_<start>_<length>"


@register_corpus("audiosetcaps")
class AudioSetCaps(CorpusPreparer):
    @dataclass
    class Config:
        captions: str = "auto"  # auto | filtered | original (see the module docstring)

    subsets = tuple(name for name, _ in SUBSET_FILES)
    default_subsets = subsets

    def __init__(self, conf: "AudioSetCaps.Config"):
        super().__init__(conf)
        self.without_start = 0
        self.files_read: Dict[str, str] = {}

    def caption_choice(self) -> str:
        choice = (self.conf.captions or "auto").strip().lower()
        if choice not in CAPTION_CHOICES:
            raise ValueError(f"audiosetcaps: captions must be one of {', '.join(CAPTION_CHOICES)}, got {choice!r}")
        return choice

    def caption_file(self, corpus_dir: Path, subset: str) -> Path:
        """The caption CSV read for ``subset`` (see the module docstring for the choice)."""
        stem = dict(SUBSET_FILES)[subset]
        dirs = (corpus_dir, corpus_dir / "Dataset")

        def find(name: str) -> Optional[Path]:
            return next((d / name for d in dirs if (d / name).is_file()), None)

        original, filtered = find(f"{stem}.csv"), find(f"{stem}.filtered.csv")
        choice = self.caption_choice()
        wanted = {"auto": (f"{stem}.filtered.csv", f"{stem}.csv"), "filtered": (f"{stem}.filtered.csv",),
                  "original": (f"{stem}.csv",)}[choice]
        found = {f"{stem}.filtered.csv": filtered, f"{stem}.csv": original}
        for name in wanted:
            if found[name] is not None:
                return found[name]
        where = " or ".join(str(d / name) for name in wanted for d in dirs)
        raise MissingFileError(f"AudioSetCaps {subset} captions not found: {where} (the Dataset/ folder of "
                               f"huggingface.co/datasets/baijs/AudioSetCaps, or the CaptionStew .filtered.csv; "
                               f"--subsets chooses among {', '.join(self.subsets)})")

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        starts = AudioSetStarts((corpus_dir, corpus_dir / "Dataset"), "AudioSetCaps")
        # every file is found before the first clip, so a missing one stops the run at once
        paths = [(subset, self.caption_file(corpus_dir, subset)) for subset in self.subsets if subset in subsets]
        for subset, path in paths:
            self.files_read[subset] = str(path)
            log.info("audiosetcaps: %s captions from %s", subset, path)
            without_start, examples = 0, []

            def read(path: Path = path):
                for line, row in iter_table(path, COLUMNS):
                    raw = row["id"].strip()
                    clip = parse_clip_id(raw)
                    if clip is None:
                        raise LayoutError(f"{path}:{line}: id {raw!r} is in no known AudioSetCaps form ({ID_FORMS}; "
                                          f"a YouTube id is 11 characters of A-Z a-z 0-9 _ -)")
                    start = clip.start if clip.start is not None else starts.start(clip.youtube_id)
                    yield (clip.youtube_id, start), (raw, row["caption"])

            for (youtube_id, start), rows in group_by_key(read):
                if start is None:
                    without_start += 1
                    if len(examples) < 5:
                        examples.append(youtube_id)
                yield ClipEntry(
                    split="train", key=clip_key(youtube_id, start), origin_id=clip_origin(youtube_id, start),
                    domain="sound", captions=[(caption, "llm") for _, caption in rows],
                    audio=clip_audio_names([raw for raw, _ in rows], youtube_id, start),
                    source=f"audiosetcaps_{subset}",
                )
            if without_start:
                self.without_start += without_start
                self.notes["origin_without_start"] += without_start
                log.warning("audiosetcaps: %d %s clips name no start and are in no AudioSet segment list (%s); "
                            "their origin_id is yt:<ytid> (e.g. %s)", without_start, subset,
                            ", ".join(str(p) for p in starts.paths), ", ".join(examples))
