"""FusionAudio-1.2M (Chen, Xie, Chen et al. 2025, arXiv 2506.01111): LLM-fused captions of AudioSet clips.

A language model wrote each caption from cues other models extracted from the clip and its video
(speech, music, sound events, visual content); 1.2M captions plus ~6M question-answer pairs.

Layout as distributed (github.com/FreedomIntelligence/FusionAudio; the text at
huggingface.co/datasets/SatsukiVie/FusionAudio): JSON files, each **a list of dicts**::

    {"audio_id": "<path of the audio file>", "instruction": "<question>", "input": "",
     "dataset": "<dataset name>", "task": "<type of task>", "output": "<answer>"}

the format the repository's README and its training code (GAMA fine-tuning, ``load_dataset("json")``)
describe. Captions and QA pairs share the files; the authors' answer in their issue #2: the captions
are the entries whose ``task`` is ``"Captioning questions"``. This preparer reads ``output`` of every
entry whose ``task``, lower-cased, starts with ``captioning`` (style ``llm``); all other entries
(the QA pairs) are skipped. JSON Lines files (one such object per line) are read as well.

Not confirmed (the dataset card could not be read here), so assumed and checked: the names of the
JSON files (every ``*.json`` / ``*.jsonl`` under the corpus directory is read, in sorted order; a
file that is not a list of such objects is a LayoutError naming it) and the ``audio_id`` form. The
authors' download script (``data/VideoDownload.py``) saves each clip as ``<YouTube id>.mp4``, so
``audio_id`` is taken to be a path whose file name is the clip name: its last path component,
without a media extension, must be a YouTube clip name in a form
:func:`~audiotext.data.corpora.youtube.parse_clip_id` reads (``<ytid>``, ``Y<ytid>``,
``<ytid>_<start>``, ``Y<ytid>_<start>_<end>``...), else the entry is a LayoutError with file and
line. A name without a start (``<ytid>``) takes it from the AudioSet segment lists
``balanced_train_segments.csv``, ``unbalanced_train_segments.csv``, ``eval_segments.csv``
(research.google.com/audioset), which must then sit in the corpus root; a video in none of them
keeps ``origin_id`` ``yt:<ytid>`` (counted in ``self.without_start``, logged).

The files can be several GB: they are parsed record by record (:func:`json_records`), never
loaded whole, and each is read twice so that several caption entries of one clip become one clip
(captions in file order; such clips are yielded after the others of the file) without holding the
file's clips in memory. A clip in two files is an error (its key would repeat).

Every clip is ``train`` (no split is released), domain ``sound``; ``origin_id`` is
``yt:<ytid>:<start ms>`` (shared with AudioCaps, AudioSetCaps, ...); key ``<ytid>_<start ms>``, so
cut ids read ``fusionaudio_--0w1YA1Hm4_30000``. Audio is not distributed: it is looked up by the
file name in ``audio_id`` and the names AudioSet download tools use (``Y<ytid>``,
``Y<ytid>_<s>.000_<e>.000``, ``<ytid>_<start>``...), searched recursively.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterator, List, Sequence, Tuple

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.corpora.youtube import (
    AudioSetStarts, clip_audio_names, clip_key, clip_origin, group_by_key, parse_clip_id, strip_media_extension,
)
from audiotext.data.layout import LayoutError, MissingFileError

log = logging.getLogger(__name__)

FIELDS = ("audio_id", "task", "output")
JSON_SUFFIXES = (".json", ".jsonl")
CHUNK_CHARS = 1 << 20  # characters read at a time
MAX_RECORD_CHARS = 64 << 20  # a record longer than this is taken as malformed rather than read on
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def is_caption_task(task: Any) -> bool:
    return isinstance(task, str) and " ".join(task.lower().split()).startswith("captioning")


def json_records(path: Path) -> Iterator[Tuple[int, Any]]:
    """``(line, value)`` for each element of a JSON file holding one list, or each line of a JSON
    Lines file, read a chunk at a time. A syntax error is a LayoutError with the file and line."""
    with open(path, encoding="utf-8-sig") as f:
        head = f.read(4096).lstrip()
    if not head:
        raise LayoutError(f"{path}: empty file; expected a JSON list of objects")
    if head[0] != "[":
        yield from _json_lines(path)
        return
    yield from _json_array(path)


def _json_lines(path: Path) -> Iterator[Tuple[int, Any]]:
    with open(path, encoding="utf-8-sig") as f:
        for line_no, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                yield line_no, json.loads(text)
            except json.JSONDecodeError as err:
                raise LayoutError(f"{path}:{line_no}: not valid JSON ({err.msg}); expected a JSON list of objects "
                                  f"or one object per line") from None


def _json_array(path: Path) -> Iterator[Tuple[int, Any]]:
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig") as f:
        state = {"buf": "", "pos": 0, "line": 1, "eof": False}

        def more() -> bool:
            chunk = f.read(CHUNK_CHARS)
            if not chunk:
                state["eof"] = True
                return False
            state["buf"] = state["buf"][state["pos"]:] + chunk
            state["pos"] = 0
            return True

        def advance(to: int) -> None:
            state["line"] += state["buf"].count("\n", state["pos"], to)
            state["pos"] = to

        def skip_space() -> bool:
            """Move past white space; False at the end of the file."""
            while True:
                advance(_WHITESPACE.match(state["buf"], state["pos"]).end())
                if state["pos"] < len(state["buf"]):
                    return True
                if not more():
                    return False

        def error(message: str, at: int = -1) -> LayoutError:
            line = state["line"] + (state["buf"].count("\n", state["pos"], at) if at > state["pos"] else 0)
            return LayoutError(f"{path}:{line}: {message}")

        skip_space()
        advance(state["pos"] + 1)  # the opening "[" (json_records checked it)
        first = True
        while True:
            if not skip_space():
                raise error("the JSON list is not closed (file truncated?)")
            if first and state["buf"][state["pos"]] == "]":
                return
            while True:
                try:
                    value, end = decoder.raw_decode(state["buf"], state["pos"])
                    break
                except json.JSONDecodeError as err:
                    if not state["eof"] and len(state["buf"]) - state["pos"] < MAX_RECORD_CHARS and more():
                        continue
                    raise error(f"not valid JSON ({err.msg})", err.pos) from None
            yield state["line"], value
            advance(end)
            first = False
            if not skip_space():
                raise error("the JSON list is not closed (file truncated?)")
            mark = state["buf"][state["pos"]]
            if mark == "]":
                return
            if mark != ",":
                raise error(f"expected ',' or ']' after a list element, got {mark!r}")
            advance(state["pos"] + 1)


def caption_files(corpus_dir: Path) -> List[Path]:
    """Every JSON / JSON Lines file under the corpus directory (hidden folders skipped), sorted."""
    found = []
    for directory, subdirs, files in os.walk(corpus_dir, followlinks=True):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found += [Path(directory) / name for name in files
                  if name.lower().endswith(JSON_SUFFIXES) and not name.startswith(".")]
    if not found:
        raise MissingFileError(f"FusionAudio caption files (*.json) not found under {corpus_dir} (the JSON files of "
                               f"huggingface.co/datasets/SatsukiVie/FusionAudio)")
    return sorted(found)


@register_corpus("fusionaudio")
class FusionAudio(CorpusPreparer):
    def __init__(self, conf: "CorpusPreparer.Config"):
        super().__init__(conf)
        self.without_start = 0

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        starts = AudioSetStarts((corpus_dir,), "FusionAudio")
        for path in caption_files(corpus_dir):
            log.info("fusionaudio: captions from %s", path)

            def read(path: Path = path):
                for line, entry in json_records(path):
                    if not isinstance(entry, dict):
                        raise LayoutError(f"{path}:{line}: expected an object with {', '.join(FIELDS)}, "
                                          f"got {type(entry).__name__}")
                    missing = [name for name in FIELDS if name not in entry]
                    if missing:
                        raise LayoutError(f"{path}:{line}: entry without {', '.join(missing)} (a FusionAudio "
                                          f"entry has audio_id, instruction, input, dataset, task, output)")
                    if not is_caption_task(entry["task"]):
                        continue
                    audio_id = entry["audio_id"]
                    name = strip_media_extension(str(audio_id or "").replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])
                    clip = parse_clip_id(name)
                    if clip is None:
                        raise LayoutError(f"{path}:{line}: audio_id {audio_id!r} does not end in a YouTube clip name "
                                          f"(<ytid>, Y<ytid>, <ytid>_<start>, ...)")
                    caption = entry["output"]
                    if caption is not None and not isinstance(caption, str):
                        raise LayoutError(f"{path}:{line}: output should be text, got {type(caption).__name__}")
                    start = clip.start if clip.start is not None else starts.start(clip.youtube_id)
                    yield (clip.youtube_id, start), (name, caption or "")

            without_start = 0
            for (youtube_id, start), rows in group_by_key(read):
                without_start += start is None
                yield ClipEntry(
                    split="train", key=clip_key(youtube_id, start), origin_id=clip_origin(youtube_id, start),
                    domain="sound", captions=[(caption, "llm") for _, caption in rows],
                    audio=clip_audio_names([name for name, _ in rows], youtube_id, start),
                )
            if without_start:
                self.without_start += without_start
                self.notes["origin_without_start"] += without_start
                log.warning("fusionaudio: %d clips of %s are in no AudioSet segment list (%s): origin_id yt:<ytid>",
                            without_start, path, ", ".join(str(p) for p in starts.paths))
