"""WavCaps (Mei et al., IEEE/ACM TASLP 2024, arXiv 2303.17395): ChatGPT-rewritten captions of web sound effects.

Layout as distributed (huggingface.co/datasets/cvssp/WavCaps; the metadata also in
github.com/XinhaoMei/WavCaps ``data/json_files``)::

    json_files/BBC_Sound_Effects/bbc_final.json
    json_files/SoundBible/sb_final.json
    json_files/FreeSound/fsd_final.json
    json_files/AudioSet_SL/as_final.json
    json_files/blacklist/blacklist_exclude_all_ac.json
    json_files/blacklist/blacklist_exclude_test_ac.json
    json_files/blacklist/blacklist_exclude_ub8k_esc50_vggsound.json
    Zip_files/<Source>/<Source>.zip (+ .z01, .z02, ... split parts; SoundBible is one zip)

Each metadata file is ``{"num_captions_per_audio": 1, "data": [entry, ...]}`` with one entry per
clip; every entry has ``id``, ``caption`` (the ChatGPT-rewritten caption), ``duration`` and
``audio`` (the placeholder ``"wav_path"``), and per source:

- BBC: ``description``, ``category`` (a Python-list string), ``download_link``; ``id`` like ``NHU05051026``;
- SoundBible: ``title``, ``description``, ``author``, ``href``, ``download_link``; ``id`` like ``2219``;
- FreeSound: ``file_name``, ``href``, ``tags`` (a list), ``description``, ``author``,
  ``download_link``; ``id`` the Freesound sound id (``180913``);
- AudioSet_SL: nothing else; ``id`` is ``Y<YouTube id>.wav`` (``Yb0RFKhbpFJA.wav``): the AudioSet
  file name, **without the segment start**.

Only ``caption`` is read (style ``llm``); the raw descriptions, titles and tags are dropped. An
entry without ``caption`` but with ``caption_1..caption_N`` (the form the WavCaps code reads when
``num_captions_per_audio`` > 1) gives those slots in order; ``"caption": null`` is an empty slot.
An id listed twice in one file is one clip with the captions of both entries, in file order.
The files are parsed entry by entry (a JSON error or a malformed entry is reported with the file
and line), and one file's clips are held at a time. The early GitHub form of a file, a bare list
of entries, is read too.

Blacklists: each ``json_files/blacklist/*.json`` is ``{"AudioSet": ["Y<id>.wav", ...],
"FreeSound": ["<sound id>", ...]}`` (FreeSound lists also hold ``"Not found"``); together they
exclude the clips that overlap AudioCaps, Clotho, UrbanSound8K, ESC-50 and VGGSound evaluation
data. Every blacklist file present is honoured (their union; the three official ones are required
when ``freesound`` or ``audioset_sl`` is prepared, and any blacklist present is read for the others
too): a blacklisted clip is not yielded and is counted in ``self.excluded`` as
``blacklisted_freesound`` / ``blacklisted_audioset_sl`` (the summary's ``excluded``). AudioSet
entries match on the name without extension (``Yr1nicOVtvkQ``), FreeSound entries on the id text.

Audio: unzipping the official archives gives
``mnt/fast/nobackup/scratch4weeks/xm00178/WavCaps/data/waveforms/<Source>_flac/<stem>.flac``
(aac-datasets moves them to ``Audio/<Source>/<stem>.flac``), ``<stem>`` being the id without
``.wav``. FreeSound and SoundBible ids are both plain numbers, so the same stem exists in both
(SoundBible ``2219`` and Freesound sound ``2219`` are different sounds): their files are looked up
only under a folder named ``<Source>_flac``, ``<Source>`` or the lower-case source name, never by
the bare number. BBC and AudioSet stems are distinctive and are also looked up anywhere; an
AudioSet clip is also found under the names AudioSet download tools use (``<ytid>_<start>``,
``Y<ytid>_<start>.000_<end>.000``, ``<ytid>``...).

``origin_id``: ``bbc:<id>``, ``soundbible:<id>``, ``freesound:<id>`` (Clotho's FreeSound clips
share it); AudioSet_SL ``yt:<ytid>:<start ms>``, the key every AudioSet-derived corpus uses. The
WavCaps id has no start, so the start is read from Google's AudioSet strong-label tables, the
source of this subset (research.google.com/audioset/download_strong.html:
``audioset_train_strong.tsv``, ``audioset_eval_strong.tsv``, tab-separated with header
``segment_id start_time_seconds end_time_seconds label`` and ``segment_id`` = ``<ytid>_<start ms>``),
when they are placed in ``json_files/AudioSet_SL/`` or the corpus root. A clip whose YouTube id
is in no table present gets ``yt:<ytid>`` (AudioSet has one segment per video, so the id still
names the clip, but it will not equal other corpora's keys); their number is logged as a warning
and kept in ``self.audioset_without_start``.

Subsets (``--subsets``): ``bbc``, ``soundbible``, ``freesound``, ``audioset_sl`` or ``all``;
default ``bbc,soundbible`` (the CaptionStew recipe's choice). They are prepared in that order,
whatever order is asked. Every clip is ``train`` (WavCaps has no evaluation split), domain
``sound``, cut source ``wavcaps_<subset>``, key the id (AudioSet: the YouTube id), so cut ids are
``wavcaps_bbc_NHU05051026``, ``wavcaps_audioset_sl_b0RFKhbpFJA``.
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Set, Tuple

from audiotext.data.corpora.audiocaps import youtube_audio_names
from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, iter_table, require_file, to_int
from audiotext.data.schema import id_origin, youtube_origin

log = logging.getLogger(__name__)

# subset -> (source folder as distributed, metadata file name, origin namespace)
SOURCES: Dict[str, Tuple[str, str, str]] = {
    "bbc": ("BBC_Sound_Effects", "bbc_final.json", "bbc"),
    "soundbible": ("SoundBible", "sb_final.json", "soundbible"),
    "freesound": ("FreeSound", "fsd_final.json", "freesound"),
    "audioset_sl": ("AudioSet_SL", "as_final.json", "yt"),
}
BLACKLIST_DIR = ("json_files", "blacklist")
OFFICIAL_BLACKLISTS = ("blacklist_exclude_all_ac.json", "blacklist_exclude_test_ac.json",
                       "blacklist_exclude_ub8k_esc50_vggsound.json")
BLACKLIST_KEYS = {"FreeSound": "freesound", "AudioSet": "audioset_sl"}  # blacklist key -> subset
STRONG_TABLES = ("audioset_train_strong.tsv", "audioset_eval_strong.tsv")
STYLE = "llm"
AUDIOSET_ID = re.compile(r"^Y([A-Za-z0-9_-]{11})$")
BLANK = re.compile(r"[ \t\n\r]*")


def stem_of(identifier: str) -> str:
    """``Yb0RFKhbpFJA.wav`` -> ``Yb0RFKhbpFJA``; ids without an audio extension are kept as they are."""
    head, dot, ext = identifier.rpartition(".")
    return head if dot and ext.lower() in ("wav", "flac") else identifier


def iter_json_entries(path: Path) -> Iterator[Tuple[int, Any]]:
    """``(line, entry)`` for each element of the ``data`` list of a WavCaps metadata file (or of a
    file that is a bare list), decoded one at a time; LayoutError names the file and line."""
    text = path.read_text(encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    state = {"line": 1, "at": 0}

    def line_at(pos: int) -> int:
        state["line"] += text.count("\n", state["at"], pos)
        state["at"] = pos
        return state["line"]

    def skip(pos: int) -> int:
        return BLANK.match(text, pos).end()

    def fail(pos: int, what: str) -> LayoutError:
        return LayoutError(f"{path}:{line_at(pos)}: {what}")

    def decode(pos: int) -> Tuple[Any, int]:
        try:
            return decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise LayoutError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None

    def elements(pos: int) -> Iterator[Tuple[int, Any]]:
        pos = skip(pos + 1)  # past "["
        if text.startswith("]", pos):
            state["end"] = pos + 1
            return
        while True:
            value, end = decode(pos)
            yield line_at(pos), value
            pos = skip(end)
            if text.startswith(",", pos):
                pos = skip(pos + 1)
            elif text.startswith("]", pos):
                state["end"] = pos + 1
                return
            else:
                raise fail(pos, "expected ',' or ']' in the data list")

    pos = skip(0)
    if text.startswith("[", pos):
        yield from elements(pos)
        return
    if not text.startswith("{", pos):
        raise fail(pos, 'expected {"num_captions_per_audio": ..., "data": [...]}')
    pos = skip(pos + 1)
    found = False
    while not text.startswith("}", pos):
        key, pos = decode(pos)
        if not isinstance(key, str):
            raise fail(pos, "expected a key")
        pos = skip(pos)
        if not text.startswith(":", pos):
            raise fail(pos, "expected ':'")
        pos = skip(pos + 1)
        if key == "data":
            if not text.startswith("[", pos):
                raise fail(pos, "'data' should be a list")
            found = True
            yield from elements(pos)
            pos = state.pop("end")
        else:
            _, pos = decode(pos)
        pos = skip(pos)
        if text.startswith(",", pos):
            pos = skip(pos + 1)
        elif not text.startswith("}", pos):
            raise fail(pos, "expected ',' or '}'")
    if not found:
        raise fail(pos, "no 'data' list")


def caption_slots(entry: Dict[str, Any], path: Path, line: int) -> List[str]:
    """The caption slots of one entry in order (``caption``, or ``caption_1``, ``caption_2``...)."""
    if "caption" in entry:
        values = [entry["caption"]]
    else:
        values = []
        while f"caption_{len(values) + 1}" in entry:
            values.append(entry[f"caption_{len(values) + 1}"])
        if not values:
            raise LayoutError(f"{path}:{line}: entry has no 'caption'")
    for value in values:
        if value is not None and not isinstance(value, str):
            raise LayoutError(f"{path}:{line}: caption should be text, got {value!r}")
    return [value or "" for value in values]


def entry_id(entry: Any, path: Path, line: int) -> str:
    if not isinstance(entry, dict):
        raise LayoutError(f"{path}:{line}: expected an object per clip, got {type(entry).__name__}")
    value = entry.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise LayoutError(f"{path}:{line}: missing or empty 'id'")
    return str(value).strip()


def audioset_youtube_id(identifier: str, path: Path, line: int) -> str:
    match = AUDIOSET_ID.match(stem_of(identifier))
    if not match:
        raise LayoutError(f"{path}:{line}: AudioSet_SL id {identifier!r} is not Y<11-character YouTube id>.wav")
    return match.group(1)


def read_blacklists(corpus_dir: Path, required: bool) -> Tuple[Dict[str, Set[str]], List[Path]]:
    """subset -> blacklisted stems/ids (the union of every blacklist file), and the files read."""
    folder = corpus_dir.joinpath(*BLACKLIST_DIR)
    hint = "the WavCaps json_files/blacklist/ folder from huggingface.co/datasets/cvssp/WavCaps"
    if required:
        for name in OFFICIAL_BLACKLISTS:
            require_file(folder / name, "WavCaps blacklist", hint)
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    out: Dict[str, Set[str]] = {subset: set() for subset in BLACKLIST_KEYS.values()}
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as err:
            raise LayoutError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
        if not isinstance(data, dict):
            raise LayoutError(f"{path}: expected {{\"AudioSet\": [...], \"FreeSound\": [...]}}")
        for key, values in data.items():
            if key not in BLACKLIST_KEYS:
                raise LayoutError(f"{path}: unknown blacklist key {key!r} (expected {', '.join(BLACKLIST_KEYS)})")
            if not isinstance(values, list) or not all(isinstance(v, (str, int)) for v in values):
                raise LayoutError(f"{path}: {key!r} should be a list of ids")
            out[BLACKLIST_KEYS[key]].update(stem_of(str(v).strip()) for v in values)
    return out, files


def read_strong_starts(corpus_dir: Path) -> Tuple[Dict[str, int], List[Path]]:
    """YouTube id -> segment start (ms) from the AudioSet strong-label tables present, and those tables."""
    starts: Dict[str, int] = {}
    tables = []
    for folder in (corpus_dir / "json_files" / "AudioSet_SL", corpus_dir):
        for name in STRONG_TABLES:
            path = folder / name
            if not path.is_file():
                continue
            tables.append(path)
            for line, row in iter_table(path, ("segment_id",), delimiter="\t"):
                youtube_id, sep, start = row["segment_id"].strip().rpartition("_")
                if not sep or not youtube_id:
                    raise LayoutError(f"{path}:{line}: segment_id {row['segment_id']!r} is not <ytid>_<start ms>")
                starts.setdefault(youtube_id, to_int(start, path, line, "segment_id"))
    return starts, tables


def audio_candidates(subset: str, folder: str, stem: str) -> List[str]:
    names = [f"{folder}_flac/{stem}", f"{folder}/{stem}", f"{folder.lower()}/{stem}"]
    if subset in ("bbc", "audioset_sl"):  # distinctive stems: also anywhere
        names.append(stem)
    return list(dict.fromkeys(names))


@register_corpus("wavcaps")
class WavCaps(CorpusPreparer):
    subsets = tuple(SOURCES)
    default_subsets = ("bbc", "soundbible")

    def __init__(self, conf: "CorpusPreparer.Config"):
        super().__init__(conf)
        if not hasattr(self, "excluded"):  # older base classes
            self.excluded = Counter()
        self.audioset_without_start = 0
        self.blacklist_files: List[str] = []

    def read_subset(self, path: Path, subset: str, blacklist: Set[str]) -> Dict[str, Dict[str, Any]]:
        """key -> {"id", "ytid", "captions"} for one metadata file, in file order, blacklisted clips left out."""
        clips: Dict[str, Dict[str, Any]] = {}
        skipped: Set[str] = set()
        for line, entry in iter_json_entries(path):
            identifier = entry_id(entry, path, line)
            slots = caption_slots(entry, path, line)
            stem = stem_of(identifier)
            if subset == "audioset_sl":
                key = ytid = audioset_youtube_id(identifier, path, line)
            else:
                key, ytid = identifier, ""
            if stem in blacklist:
                if key not in skipped:
                    skipped.add(key)
                    self.excluded[f"blacklisted_{subset}"] += 1
                continue
            clip = clips.setdefault(key, {"stem": stem, "ytid": ytid, "captions": []})
            clip["captions"].extend(slots)
        return clips

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        chosen = [s for s in SOURCES if s in subsets]
        self.excluded.clear()
        self.audioset_without_start = 0
        blacklists, files = read_blacklists(corpus_dir, required=bool({"freesound", "audioset_sl"} & set(chosen)))
        self.blacklist_files = [p.name for p in files]
        if files:
            log.info("wavcaps: blacklists %s", ", ".join(self.blacklist_files))
        hint = "the WavCaps json_files/ folder from huggingface.co/datasets/cvssp/WavCaps"
        for subset in chosen:
            folder, filename, namespace = SOURCES[subset]
            path = require_file(corpus_dir / "json_files" / folder / filename, f"WavCaps {folder} metadata", hint)
            starts: Dict[str, int] = {}
            if subset == "audioset_sl":
                starts, tables = read_strong_starts(corpus_dir)
                log.info("wavcaps: AudioSet segment starts from %s", ", ".join(map(str, tables)) or "(no table)")
            clips = self.read_subset(path, subset, blacklists.get(subset, set()))
            source = f"wavcaps_{subset}"
            for key, clip in clips.items():
                audio = audio_candidates(subset, folder, clip["stem"])
                if subset == "audioset_sl":
                    ytid = clip["ytid"]
                    if ytid in starts:
                        start = starts[ytid] / 1000.0
                        origin = youtube_origin(ytid, start)
                        audio += youtube_audio_names(ytid, start)
                    else:
                        origin = id_origin(namespace, ytid)
                        audio.append(ytid)
                        self.audioset_without_start += 1
                        self.notes["origin_without_start"] += 1
                else:
                    origin = id_origin(namespace, key)
                yield ClipEntry(split="train", key=key, origin_id=origin, domain="sound",
                                captions=[(text, STYLE) for text in clip["captions"]],
                                audio=list(dict.fromkeys(audio)), source=source)
            blacklisted = self.excluded.get(f"blacklisted_{subset}", 0)
            log.info("wavcaps: %s: %d clips from %s, %d blacklisted clips left out", subset, len(clips), path,
                     blacklisted)
            if subset == "audioset_sl" and self.audioset_without_start:
                log.warning("wavcaps: %d AudioSet_SL clip(s) have no segment start in %s (origin yt:<ytid>; put "
                            "Google's audioset_train_strong.tsv / audioset_eval_strong.tsv in %s)",
                            self.audioset_without_start, " or ".join(STRONG_TABLES), path.parent)
