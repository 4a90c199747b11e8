"""LP-MusicCaps (Doh, Choi, Lee and Nam, ISMIR 2023, arXiv 2307.16372): LLM captions written from tags.

GPT-3.5 turned the tags of three music corpora into captions with four instructions: *writing*,
*summary*, *paraphrase* and *attribute prediction* (the last adds attributes the tags do not have;
the authors advise against it except for large-scale pretraining). Each part is a Hugging Face
dataset repository of parquet files (``data/<split>-<shard>-of-<n>-<hash>.parquet``, the
``data/<split>-*`` pattern of the repository's ``configs``), one row per clip:

``mc`` -- ``seungheondoh/LP-MusicCaps-MC`` (MusicCaps): splits ``train`` (2,663) and ``test``
    (2,858), the MusicCaps split (``is_audioset_eval``). Columns ``fname`` (``[<ytid>]-[<start>-<end>]``),
    ``ytid``, ``aspect_list``, ``caption_ground_truth``, ``caption_writing``, ``caption_summary``,
    ``caption_paraphrase``, ``caption_attribute_prediction``, ``pseudo_attribute``, ``is_crawled``,
    ``author_id``, ``start_s``, ``end_s``, ``audioset_positive_labels``, ``is_balanced_subset``,
    ``is_audioset_eval``.
``mtt`` -- ``seungheondoh/LP-MusicCaps-MTT`` (MagnaTagATune): splits ``train`` (18,706), ``valid``
    (1,825), ``test`` (5,329), the 25,860-clip MTAT split. Columns ``track_id`` (the MagnaTagATune
    ``clip_id``, as text: ``"2"`` is ``f/american_bach_soloists-...-30-59.mp3``), ``title``,
    ``artist_name``, ``release``, ``tag_top50``, ``tag_top188``, the four ``caption_*`` columns,
    ``pseudo_attribute`` and ``path`` (MagnaTagATune's ``mp3_path``, ``<dir>/<name>.mp3``). About
    4k rows have no tags and empty captions.
``msd`` -- ``seungheondoh/LP-MusicCaps-MSD`` (Million Song Dataset, ECALS subset; gated): splits
    ``train`` (two shards), ``valid``, ``test``. Columns ``track_id`` (``TRIHXPZ128F1466744``),
    ``title``, ``artist_name``, ``release``, ``year``, ``tag``, the four ``caption_*`` columns and
    ``path`` (the 7digital preview, ``8/1/8134074.clip.mp3``). Not a default subset: its audio
    is not publicly distributed.

Sources: the three dataset cards and the authors' loader notebook (github.com/seungheondoh/lp-music-caps,
``notebook/Dataset.ipynb``), which show these columns; the MTT ``track_id`` = MagnaTagATune
``clip_id`` equivalence is from the same authors' MSU benchmark annotation (``"2"`` -> that path).

Layout expected under CORPUS_DIR: one folder per part named as its repository
(``LP-MusicCaps-MC/``, ``LP-MusicCaps-MTT/``, ``LP-MusicCaps-MSD/``; a folder whose name differs
only in case is accepted), each holding the repository's ``data/`` folder as downloaded
(``huggingface-cli download seungheondoh/LP-MusicCaps-MC --repo-type dataset --local-dir
CORPUS_DIR/LP-MusicCaps-MC``). Every released split of a chosen part must have at least one file.

Audio is not distributed; it is the audio of the source corpora, passed with ``--audio-dir``
(searched recursively). MC: the MusicCaps clip, looked up as ``fname`` itself, then the YouTube
download forms of :func:`~audiotext.data.corpora.audiocaps.youtube_audio_names`. MTT: ``path``
without its extension (``f/<name>``: the file in that folder), then ``<name>`` anywhere, then
``<clip_id>``. MSD: ``path`` without extension, its stem (``8134074.clip``), then ``<track_id>``.

``origin_id``: MC ``yt:<ytid>:<start ms>`` (the MusicCaps/AudioSet clip), MTT ``mtt:<clip_id>``,
MSD ``msd:<track_id>``. MagnaTagATune is an evaluation corpus (MTAT tagging): these origins let
curation keep its test clips out of training. Clip keys: ``<ytid>_<start ms>`` (MC), the clip or
track id (MTT, MSD); each part writes under its own source name ``lp_musiccaps_<part>``, so cut ids
are ``lp_musiccaps_mc_<ytid>_<start ms>``, ``lp_musiccaps_mtt_<clip_id>``, ``lp_musiccaps_msd_<track_id>``.

Captions: the four columns, in this order, are the official caption slots with styles
``llm_writing``, ``llm_summary``, ``llm_paraphrase``, ``llm_attribute`` (a null value is an empty
slot). Domain ``music``. Not used: ``caption_ground_truth`` and ``aspect_list`` (MusicCaps' own
caption and aspects: the ``musiccaps`` preparer writes them, so they are not counted twice),
``pseudo_attribute`` (the LLM's invented tags), the tag columns (the LLM's input, and for MTT the
labels of an evaluation task), ``is_crawled`` and the other metadata. Splits keep their names
(train/valid/test). A clip listed on several rows of one file is one clip with the captions of
all its rows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from audiotext.data.corpora.audiocaps import youtube_audio_names
from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, MissingFileError
from audiotext.data.schema import id_origin, youtube_origin

CAPTION_COLUMNS = (
    ("caption_writing", "llm_writing"),
    ("caption_summary", "llm_summary"),
    ("caption_paraphrase", "llm_paraphrase"),
    ("caption_attribute_prediction", "llm_attribute"),
)
BATCH_ROWS = 4096  # parquet rows decoded at a time


@dataclass(frozen=True)
class Part:
    """One LP-MusicCaps repository: its folder, released splits and the columns it is read by."""

    repo: str
    splits: Tuple[str, ...]
    id_columns: Tuple[str, ...]


PARTS: Dict[str, Part] = {
    "mc": Part("LP-MusicCaps-MC", ("train", "test"), ("fname", "ytid", "start_s", "end_s")),
    "mtt": Part("LP-MusicCaps-MTT", ("train", "valid", "test"), ("track_id", "path")),
    "msd": Part("LP-MusicCaps-MSD", ("train", "valid", "test"), ("track_id", "path")),
}


def iter_parquet(path: Path, columns: Sequence[str],
                 batch_rows: int = BATCH_ROWS) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Yield ``(row number from 1, {column: value})`` of a parquet file, a batch of rows at a time.

    Raises :class:`LayoutError` naming the file when it is not parquet or lacks a column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError) as err:
        raise LayoutError(f"{path}: not a readable parquet file ({' '.join(str(err).split())[:200]})") from None
    missing = [column for column in columns if column not in names]
    if missing:
        raise LayoutError(f"{path}: missing column(s) {', '.join(missing)}; the file has {names}")
    row = 0
    batches = parquet.iter_batches(batch_size=batch_rows, columns=list(columns))
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as err:
            raise LayoutError(f"{path}: unreadable after row {row} ({' '.join(str(err).split())[:200]})") from None
        if batch is None:
            return
        for record in batch.to_pylist():
            row += 1
            yield row, record


def text_of(value: Any, path: Path, row: int, column: str) -> str:
    """A string cell as text; null is the empty string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise LayoutError(f"{path}:{row}: column {column!r} should be text, got {type(value).__name__} {value!r}")


def id_of(value: Any, path: Path, row: int, column: str) -> str:
    """A clip or track id written as text or as an integer; empty is an error."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = text_of(value, path, row, column).strip()
    if not text:
        raise LayoutError(f"{path}:{row}: empty {column}")
    return text


def seconds_of(value: Any, path: Path, row: int, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise LayoutError(f"{path}:{row}: column {column!r} should be a number of seconds, got {value!r}")
    return float(value)


def find_part_dir(corpus_dir: Path, repo: str) -> Path:
    """``corpus_dir/<repo>``, or a folder whose name differs only in case."""
    exact = corpus_dir / repo
    if exact.is_dir():
        return exact
    for child in sorted(corpus_dir.iterdir()):
        if child.is_dir() and child.name.lower() == repo.lower():
            return child
    raise MissingFileError(f"LP-MusicCaps folder not found: {exact} (the Hugging Face dataset "
                           f"seungheondoh/{repo} downloaded there, with its data/ folder)")


def split_files(part_dir: Path, released: str) -> List[Path]:
    """The parquet shards of one released split: ``data/<split>-*.parquet``, sorted."""
    files = sorted((part_dir / "data").glob(f"{released}-*.parquet"))
    if not files:
        pattern = part_dir / "data" / f"{released}-*.parquet"
        raise MissingFileError(f"LP-MusicCaps {released} split not found: {pattern}")
    return files


ClipKey = Tuple[str, str, List[str]]  # key, origin_id, audio candidates


def mc_clip(record: Dict[str, Any], path: Path, row: int) -> ClipKey:
    ytid = id_of(record["ytid"], path, row, "ytid")
    start = seconds_of(record["start_s"], path, row, "start_s")
    end = record["end_s"]
    duration = seconds_of(end, path, row, "end_s") - start if end is not None else 10.0
    if duration <= 0:
        raise LayoutError(f"{path}:{row}: end_s {end!r} is not after start_s {record['start_s']!r}")
    fname = text_of(record["fname"], path, row, "fname").strip()
    audio = ([fname] if fname else []) + youtube_audio_names(ytid, start, duration)
    return f"{ytid}_{int(round(start * 1000))}", youtube_origin(ytid, start), audio


def path_names(path_value: str) -> List[str]:
    """``d/name.mp3`` -> ``["d/name", "name"]``: the trailing relative path, then the stem."""
    relative = path_value.strip().replace("\\", "/").strip("/")
    if not relative:
        return []
    stem_path = relative.rsplit(".", 1)[0] if "." in relative.rsplit("/", 1)[-1] else relative
    return list(dict.fromkeys([stem_path, stem_path.rsplit("/", 1)[-1]]))


def mtt_clip(record: Dict[str, Any], path: Path, row: int) -> ClipKey:
    clip_id = id_of(record["track_id"], path, row, "track_id")
    audio = path_names(text_of(record["path"], path, row, "path")) + [clip_id]
    return clip_id, id_origin("mtt", clip_id), list(dict.fromkeys(audio))


def msd_clip(record: Dict[str, Any], path: Path, row: int) -> ClipKey:
    track_id = id_of(record["track_id"], path, row, "track_id")
    audio = path_names(text_of(record["path"], path, row, "path")) + [track_id]
    return track_id, id_origin("msd", track_id), list(dict.fromkeys(audio))


CLIP_READERS: Dict[str, Callable[[Dict[str, Any], Path, int], ClipKey]] = {
    "mc": mc_clip, "mtt": mtt_clip, "msd": msd_clip,
}


@register_corpus("lp_musiccaps")
class LPMusicCaps(CorpusPreparer):
    subsets = ("mc", "mtt", "msd")
    default_subsets = ("mc", "mtt")

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        for name in subsets:
            part = PARTS[name]
            part_dir = find_part_dir(corpus_dir, part.repo)
            # every split's files are checked before any clip is read, so a partial download fails at once
            files = {released: split_files(part_dir, released) for released in part.splits}
            for released in part.splits:
                for path in files[released]:
                    yield from self._file_clips(name, released, path)

    def _file_clips(self, name: str, split: str, path: Path) -> Iterator[ClipEntry]:
        """The clips of one parquet file, in file order; rows of the same clip are grouped."""
        read_clip = CLIP_READERS[name]
        columns = PARTS[name].id_columns + tuple(column for column, _ in CAPTION_COLUMNS)
        clips: Dict[str, ClipEntry] = {}
        for row, record in iter_parquet(path, columns):
            key, origin, audio = read_clip(record, path, row)
            captions = [(text_of(record[column], path, row, column), style) for column, style in CAPTION_COLUMNS]
            clip: Optional[ClipEntry] = clips.get(key)
            if clip is None:
                clips[key] = ClipEntry(split=split, key=key, origin_id=origin, domain="music", captions=captions,
                                       audio=audio, source=f"lp_musiccaps_{name}")
            else:
                clip.captions.extend(captions)
                clip.audio = list(dict.fromkeys(list(clip.audio) + audio))
        yield from clips.values()
