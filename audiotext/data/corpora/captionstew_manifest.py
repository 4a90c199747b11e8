"""Manifests made by the published CaptionStew data-prep scripts, read as they are.

The published scripts (github.com/RayTzeng/CaptionStew-data-prep, one ``generate_manifest.py``
per source) write one Lhotse CutSet per source, ``<name>.jsonl.gz``: one ``MonoCut`` per whole
recording with one supervision whose ``custom["caption"]`` is a **list** of strings, and no
style, domain or source tags. Cut ids are the source's own (``BBCSoundEffects_<id>``,
``SoundBible_<id>``, VGGSound's ``<youtube id>_<start, 6 digits>``, ...).

CORPUS_DIR holds those files (``*.jsonl.gz`` or ``*.jsonl``, searched recursively). Each file is
one source named by its stem (``vggsound.jsonl.gz`` -> ``vggsound``); its domain and caption style
come from the source name where it names a known corpus (table below), else ``unknown``. Each
string of the caption list is one official caption slot. The recording is kept as written when
its file exists (a relative path is read against CORPUS_DIR or ``--audio-dir``), else the file is
looked up by name under the audio roots, else the clip counts as missing audio. ``origin_id``
is parsed from the cut id where its form is known (``bbc:``, ``soundbible:``, ``yt:``), else
``captionstew:<source>/<cut id>``. A file name with ``test`` / ``dev``, ``valid`` or ``val``
as a word goes to that split; everything else is training data (the published corpus is).
"""
from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Iterator, Sequence, Tuple

from audiotext.data.corpora.base import SUMMARY_NAME, ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, MissingFileError
from audiotext.data.schema import UNKNOWN, id_origin, youtube_origin

# substring of the (lower-cased) source name -> (domain, style), first match wins
KNOWN_SOURCES: Tuple[Tuple[str, str, str], ...] = (
    ("paraspeechcaps", "speech", "speaking_style"),
    ("speechcraft", "speech", "speaking_style"),
    ("lp_musiccaps", "music", "llm"),
    ("musiccaps", "music", "human"),
    ("jamendo", "music", "llm"),
    ("audiocaps", "sound", "human"),
    ("clotho", "sound", "human"),
    ("wavcaps", "sound", "llm"),
    ("bbc", "sound", "llm"),
    ("soundbible", "sound", "llm"),
    ("audiosetcaps", "sound", "llm"),
    ("audioset", "sound", "llm"),
    ("vggsound", "sound", "llm"),
    ("youtube8m", "sound", "llm"),
    ("youtube-8m", "sound", "llm"),
    ("fusionaudio", "sound", "llm"),
    ("auto_acd", "sound", "llm"),
)
VGGSOUND_ID = re.compile(r"^(?P<ytid>[A-Za-z0-9_-]{11})_(?P<start>\d{6})$")
PREFIXED_IDS = (("BBCSoundEffects_", "bbc"), ("SoundBible_", "soundbible"))


def source_kind(source: str) -> Tuple[str, str]:
    lowered = source.lower()
    for needle, domain, style in KNOWN_SOURCES:
        if needle in lowered:
            return domain, style
    return UNKNOWN, UNKNOWN


def split_of(source: str) -> str:
    words = set(re.split(r"[^a-z0-9]+", source.lower()))
    if "test" in words or "eval" in words or "evaluation" in words:
        return "test"
    if words & {"dev", "valid", "val", "validation"}:
        return "valid"
    return "train"


def origin_of(cut_id: str, source: str) -> str:
    for prefix, namespace in PREFIXED_IDS:
        if cut_id.startswith(prefix):
            return id_origin(namespace, cut_id[len(prefix):])
    match = VGGSOUND_ID.match(cut_id)
    if match:
        return youtube_origin(match["ytid"], int(match["start"]))
    return id_origin("captionstew", f"{source}/{cut_id}")


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


@register_corpus("captionstew_manifest")
class CaptionStewManifest(CorpusPreparer):
    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        # a folder holding a prepare_summary.json is audiotext's own output (e.g. OUT_DIR inside CORPUS_DIR)
        files = sorted(p for p in corpus_dir.rglob("*") if p.is_file() and (p.name.endswith(".jsonl.gz")
                                                                             or p.name.endswith(".jsonl"))
                       and not (p.parent / SUMMARY_NAME).is_file())
        if not files:
            raise MissingFileError(f"no CutSet manifests (*.jsonl.gz, *.jsonl) under {corpus_dir}")
        for path in files:
            source = path.name.split(".jsonl")[0]
            domain, style = source_kind(source)
            split = split_of(source)
            line_no = 0
            try:
                with _open(path) as f:
                    for line_no, line in enumerate(f, 1):
                        if not line.strip():
                            continue
                        yield self._entry(path, line_no, line, source, domain, style, split)
            except (EOFError, OSError, zlib.error) as err:  # truncated or corrupt gzip, a file that is not gzip
                raise LayoutError(f"{path}:{line_no + 1}: cannot be read ({err})") from None

    @staticmethod
    def _entry(path: Path, line_no: int, line: bytes, source: str, domain: str, style: str, split: str) -> ClipEntry:
        where = f"{path}:{line_no}"
        try:
            cut = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise LayoutError(f"{where}: not valid UTF-8 text ({err.reason})") from None
        except json.JSONDecodeError as err:
            raise LayoutError(f"{where}: not a JSON line ({err.msg})") from None
        if not isinstance(cut, dict) or "id" not in cut or not isinstance(cut.get("recording"), dict):
            raise LayoutError(f"{where}: expected a Lhotse MonoCut with an id and an embedded recording")
        recording = cut["recording"]
        start, duration = float(cut.get("start", 0.0)), float(cut.get("duration", 0.0))
        if start > 1e-3 or abs(duration - float(recording.get("duration", duration))) > 1e-3:
            raise LayoutError(f"{where}: cut {cut['id']} covers {start:.3f}+{duration:.3f} s of a "
                              f"{recording.get('duration')} s recording; only whole-recording cuts are supported")
        captions = []
        for sup in cut.get("supervisions") or []:
            value = (sup.get("custom") or {}).get("caption")
            if value is None:
                continue
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise LayoutError(f"{where}: custom['caption'] must be a string or a list of strings")
            captions += [(text, style) for text in value]
        return ClipEntry(split=split, key=str(cut["id"]), origin_id=origin_of(str(cut["id"]), source), domain=domain,
                         captions=captions, audio=[], source=source, recording=recording)
