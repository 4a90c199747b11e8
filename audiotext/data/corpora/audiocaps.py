"""AudioCaps (Kim et al., NAACL 2019): human captions of 10-s AudioSet clips.

Layout as distributed (github.com/cdjkim/audiocaps, ``dataset/``): ``train.csv``, ``val.csv``,
``test.csv`` with columns ``audiocap_id, youtube_id, start_time, caption``, one row per caption
(one per clip in train, five per clip in val and test). The audio is not distributed: download
tools save each clip as ``<youtube_id>.wav``, ``Y<youtube_id>.wav``, ``<youtube_id>_<start>``,
the AudioSet form ``Y<youtube_id>_<start>.000_<end>.000`` or ``<audiocap_id>.wav``; every form is
searched (the video id alone only for a video with one clip in its file). ``origin_id`` is ``yt:<youtube_id>:<start ms>``, the key AudioSet-derived corpora share.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, iter_table, require_file, to_float
from audiotext.data.schema import youtube_origin

SPLIT_FILES = (("train", "train.csv"), ("valid", "val.csv"), ("test", "test.csv"))
COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")


def youtube_audio_names(youtube_id: str, start: float, duration: float = 10.0, bare: bool = True) -> List[str]:
    """File stems download tools give a YouTube clip (yt-dlp scripts, AudioSet and aac-datasets forms).
    ``bare``: also the video id alone (``<id>``, ``Y<id>``), right only when the video has one clip."""
    start_int = int(round(start))
    names = [f"Y{youtube_id}_{start:.3f}_{start + duration:.3f}", f"{youtube_id}_{start:.3f}_{start + duration:.3f}",
             f"{youtube_id}_{start_int}", f"{youtube_id}_{start_int * 1000}", f"Y{youtube_id}_{start_int}",
             f"{youtube_id}_{start_int:06d}"]
    if bare:
        names += [f"{youtube_id}", f"Y{youtube_id}"]
    return list(dict.fromkeys(names))


@register_corpus("audiocaps")
class AudioCaps(CorpusPreparer):
    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        hint = "the AudioCaps dataset/ folder: train.csv, val.csv, test.csv"
        for split, filename in SPLIT_FILES:
            path = require_file(corpus_dir / filename, f"AudioCaps {split} captions", hint)
            # (youtube_id, start) -> captions and audiocap ids, in file order
            clips: Dict[Tuple[str, float], Dict[str, list]] = {}
            for line, row in iter_table(path, COLUMNS):
                youtube_id = row["youtube_id"].strip()
                if not youtube_id:
                    raise LayoutError(f"{path}:{line}: empty youtube_id")
                start = to_float(row["start_time"], path, line, "start_time")
                if start < 0:
                    raise LayoutError(f"{path}:{line}: start_time should be >= 0, got {row['start_time']!r}")
                clip = clips.setdefault((youtube_id, start), {"captions": [], "ids": []})
                clip["captions"].append((row["caption"], "human"))
                clip["ids"].append(row["audiocap_id"].strip())
            clips_per_video = Counter(youtube_id for youtube_id, _ in clips)
            for (youtube_id, start), clip in clips.items():
                # a file named by the video id alone is this clip's only when the video has no other clip
                names = youtube_audio_names(youtube_id, start, bare=clips_per_video[youtube_id] == 1)
                yield ClipEntry(
                    split=split, key=f"{youtube_id}_{int(round(start * 1000))}",
                    origin_id=youtube_origin(youtube_id, start), domain="sound", captions=clip["captions"],
                    audio=names + clip["ids"],
                )
