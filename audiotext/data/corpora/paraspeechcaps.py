"""ParaSpeechCaps (Diwan et al., EMNLP 2025, "Scaling Rich Style-Prompted Text-to-Speech Datasets"):
speaking-style captions of VoxCeleb1/2, Expresso, EARS and Emilia utterances.

Layout as distributed (Hugging Face ``ajd12342/paraspeechcaps``, one ``default`` config): parquet
files ``data/<split>-NNNNN-of-NNNNN.parquet`` for the splits ``train_base`` (PSC-Base, human
tags, 116,516 rows), ``train_scaled`` (PSC-Scaled, automatic tags, 924,651 rows), ``dev``
(11,967) and ``holdout`` (14,756). Columns (dataset README): ``source`` (``voxceleb``,
``expresso``, ``ears``, ``emilia``), ``relative_audio_path``, ``text_description`` (a list of 1-2
style captions), ``transcription``, ``intrinsic_tags``, ``situational_tags``, ``basic_tags``,
``all_tags``, ``speakerid``, ``name``, ``duration``, ``gender``, ``accent``, ``pitch``,
``speaking_rate``, ``noise``, ``utterance_pitch_mean``, ``snr``, ``phonemes``. The files are looked
up in ``data/`` under the corpus root, then in the root itself. Only ``source``,
``relative_audio_path``, ``text_description``, ``transcription`` and ``speakerid`` are read, in
record batches (one batch of rows in memory at a time, plus the clip keys of one split).

Audio is not distributed. ``relative_audio_path`` is relative to each source corpus's root as the
ParaSpeechCaps instructions lay it out (their ``add_real_audio_paths.py`` joins root and path):

* VoxCeleb: ``voxceleb1/dev/wav/id10001/1zcIwhmdeo4/00001_voicefixer.wav``,
  ``voxceleb2/dev/aac/id08661/ZR6mIEixsP8/00034_voicefixer.wav``: the VoiceFixer-enhanced copy the
  ParaSpeechCaps recipe makes beside each (loudness-normalised) original. The clip is looked up
  first as the ORIGINAL recording ``<speaker>/<video>/<utterance>`` (what the published CaptionStew
  recipe uses: it strips ``_voicefixer``), then as the enhanced ``<speaker>/<video>/<utterance>_voicefixer``.
  VoxCeleb2 originals are ``.m4a``; a ``.wav`` copy of the same name (the recipe's conversion)
  is preferred when both exist.
* Expresso: ``audio_48khz/read/ex04/whisper/base/ex04_whisper_00204.wav`` and VAD segments
  ``audio_48khz/conversational_vad_segmented/ex04-ex02/disgusted/<name>_segment_50.0_59.58.wav``
  (``<name>`` = ``ex04-ex02_disgusted_012_channel1``; made by the recipe's ``apply_expresso_vad.py``);
  looked up by that path, then by file stem.
* EARS: ``p026/emo_relief_freeform.wav`` (stems repeat across speakers, so only ``p026/<stem>``).
* Emilia: ``EN/EN_B00030/EN_B00030_S01984/mp3/EN_B00030_S01984_W000037.mp3`` (the older
  OpenDataLab layout); looked up by that path, then by stem (unique, per the dataset README).

Every candidate is a trailing path without extension, found anywhere under the audio folders
(``--audio-dir``, repeatable: give each source corpus's root, or one folder holding them all).

``origin_id``: ``voxceleb:<speaker>/<video>/<utterance>`` for VoxCeleb (from the path, without
``_voicefixer``: the same key as the VoxCeleb corpora, so VoxCeleb1-test utterances can be removed
by overlap), else ``<source>:<relative path without extension>`` (``expresso:audio_48khz/...``,
``ears:p026/emo_relief_freeform``, ``emilia:EN/EN_B00030/...``). Clip keys:
``voxceleb_<speaker>_<video>_<utterance>``, ``expresso_<path with / -> _>``,
``ears_<speaker>_<stem>``, ``emilia_<stem>``.

Splits: ``train_base`` + ``train_scaled`` -> train (the subsets, both by default), ``dev`` ->
valid, ``holdout`` -> test (always prepared). Rows naming the same clip within a split (the same
path twice, e.g. Expresso rows with a basic-tag and a rich description, or a VoxCeleb path with
and without ``_voicefixer``) are one clip with the captions of every row in file order, yielded at
its last row. A clip in more than one split is kept in the evaluation split (holdout before dev
before train) and left out of the other, counted in the summary's ``excluded`` as
``in_holdout_too`` / ``in_dev_too``. Finding the repeats reads the two path columns of every file
once before the captions are read.

Captions: each ``text_description`` entry is one official caption slot, style ``speaking_style``
(empty entries included, so the accounting counts them); a null list is no slot. The
``transcription`` is a derived caption, style ``transcript``. Domain ``speech``. ``cut.custom``
keeps ``speaker`` (the ``speakerid`` column) besides ``origin_id``; the other columns are dropped.
A parquet row that is not in this format raises a LayoutError ``<file>:<row>: ...`` (row counted
from 1 within the file).
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, MissingFileError

log = logging.getLogger(__name__)

# (official split, our split); the train subsets are chosen with --subsets
TRAIN_SUBSETS = ("train_base", "train_scaled")
EVAL_SPLITS = (("dev", "valid"), ("holdout", "test"))
REQUIRED_COLUMNS = ("source", "relative_audio_path", "text_description", "transcription")
SPEAKER_COLUMN = "speakerid"
SOURCES = ("voxceleb", "expresso", "ears", "emilia")
VOICEFIXER = "_voicefixer"
STYLE = "speaking_style"
BATCH_ROWS = 8192


def _strip_extension(name: str) -> str:
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def clip_identity(source: str, relative_path: str) -> Tuple[str, str, List[str]]:
    """The clip key, ``origin_id`` and audio candidates of one row; ValueError for a path that
    does not have its source's form."""
    parts = [p for p in relative_path.replace("\\", "/").split("/") if p and p != "."]
    if not parts:
        raise ValueError("empty relative_audio_path")
    stem = _strip_extension(parts[-1])
    if source == "voxceleb":
        if len(parts) < 3:
            raise ValueError(f"VoxCeleb path {relative_path!r} is not <...>/<speaker>/<video>/<utterance>.wav")
        speaker, video = parts[-3], parts[-2]
        utterance = stem[:-len(VOICEFIXER)] if stem.endswith(VOICEFIXER) else stem
        if not utterance:
            raise ValueError(f"VoxCeleb path {relative_path!r} has no utterance name")
        trail = f"{speaker}/{video}/{utterance}"
        return (f"voxceleb_{speaker}_{video}_{utterance}", f"voxceleb:{trail}", [trail, trail + VOICEFIXER])
    relative = "/".join(parts[:-1] + [stem])
    if source == "ears":
        if len(parts) < 2:
            raise ValueError(f"EARS path {relative_path!r} is not <speaker>/<file>.wav")
        return f"ears_{parts[-2]}_{stem}", f"ears:{relative}", [relative]
    if source == "expresso":
        return f"expresso_{relative.replace('/', '_')}", f"expresso:{relative}", list(dict.fromkeys([relative, stem]))
    if source == "emilia":
        return f"emilia_{stem}", f"emilia:{relative}", list(dict.fromkeys([relative, stem]))
    raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")


def find_split_files(corpus_dir: Path, split: str) -> List[Path]:
    """The parquet shards of one official split: ``data/<split>-*.parquet`` (the Hub layout), else
    the same names in the corpus root; MissingFileError naming the expected path."""
    for folder in (corpus_dir / "data", corpus_dir):
        files = sorted(folder.glob(f"{split}-*.parquet")) + sorted(folder.glob(f"{split}.parquet"))
        if files:
            return files
    raise MissingFileError(f"ParaSpeechCaps {split} split not found: {corpus_dir / 'data' / f'{split}-*.parquet'} "
                           "(the Hugging Face ajd12342/paraspeechcaps snapshot: data/<split>-NNNNN-of-NNNNN.parquet)")


def _open(path: Path):
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises ArrowInvalid / OSError for a file that is not parquet
        raise LayoutError(f"{path}: not a readable parquet file ({err})") from None
    names = parquet.schema_arrow.names
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise LayoutError(f"{path}: missing column(s) {', '.join(missing)}; the file has {names}")
    return parquet, names


def _rows(path: Path, columns: Sequence[str]) -> Iterator[Tuple[int, dict]]:
    """(row number from 1, row dict) of the chosen columns, one record batch in memory at a time."""
    parquet, names = _open(path)
    wanted = [c for c in columns if c in names]
    row = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
        for record in batch.to_pylist():
            row += 1
            yield row, record


def _identity_of(path: Path, row: int, record: dict) -> Tuple[str, str, List[str]]:
    source = record.get("source")
    relative = record.get("relative_audio_path")
    if not isinstance(source, str) or not source.strip():
        raise LayoutError(f"{path}:{row}: empty source")
    if not isinstance(relative, str) or not relative.strip():
        raise LayoutError(f"{path}:{row}: empty relative_audio_path")
    try:
        return clip_identity(source.strip().lower(), relative.strip())
    except ValueError as err:
        raise LayoutError(f"{path}:{row}: {err}") from None


def _descriptions(path: Path, row: int, value) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):  # a single caption where the card says a list
        return [value]
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, str) for v in value):
        return [v or "" for v in value]
    raise LayoutError(f"{path}:{row}: text_description should be a list of strings, got {type(value).__name__}")


@register_corpus("paraspeechcaps")
class ParaSpeechCaps(CorpusPreparer):
    subsets = TRAIN_SUBSETS
    default_subsets = TRAIN_SUBSETS

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        if not hasattr(self, "excluded"):  # base classes before the excluded counter
            self.excluded = Counter()
        plan = [("train", [f for s in subsets for f in find_split_files(corpus_dir, s)])]
        plan += [(split, find_split_files(corpus_dir, official)) for official, split in EVAL_SPLITS]
        # first pass: the key of every row, to group repeated rows and keep a clip in one split only
        repeats: Dict[str, Dict[str, int]] = {}
        keys_of: Dict[str, set] = {}
        for split, files in plan:
            counts = self._key_counts(files)
            repeats[split] = {key: n for key, n in counts.items() if n > 1}
            if split != "train":
                keys_of[split] = set(counts)
            del counts
        kept_by = {"train": ("test", "valid"), "valid": ("test",), "test": ()}  # plan order: train, valid, test
        for split, files in plan:
            yield from self._split_clips(split, files, repeats[split], [keys_of[s] for s in kept_by[split]])

    @staticmethod
    def _key_counts(files: Sequence[Path]) -> Counter:
        counts: Counter = Counter()
        for path in files:
            for row, record in _rows(path, ("source", "relative_audio_path")):
                counts[_identity_of(path, row, record)[0]] += 1
        return counts

    def _split_clips(self, split: str, files: Sequence[Path], repeats: Dict[str, int],
                     taken: List[set]) -> Iterator[ClipEntry]:
        """The clips of one split in file order; ``repeats`` are keys on several rows (grouped, yielded
        at their last row), ``taken`` the key sets of the splits that keep a shared clip."""
        pending: Dict[str, Tuple[ClipEntry, int]] = {}  # key -> (clip so far, rows seen)
        left_out = set()
        for path in files:
            for row, record in _rows(path, REQUIRED_COLUMNS + (SPEAKER_COLUMN,)):
                key, origin, audio = _identity_of(path, row, record)
                if any(key in keys for keys in taken):
                    if key not in left_out:
                        left_out.add(key)
                        self.excluded["in_holdout_too" if key in taken[0] else "in_dev_too"] += 1
                    continue
                captions = [(text, STYLE) for text in _descriptions(path, row, record.get("text_description"))]
                transcription = record.get("transcription")
                if transcription is not None and not isinstance(transcription, str):
                    raise LayoutError(f"{path}:{row}: transcription should be a string, "
                                      f"got {type(transcription).__name__}")
                derived = [(transcription, "transcript")] if transcription else []
                speaker = record.get(SPEAKER_COLUMN)
                speaker = str(speaker).strip() if speaker is not None else ""
                if key not in repeats:
                    yield ClipEntry(split=split, key=key, origin_id=origin, domain="speech", captions=captions,
                                    audio=audio, derived=derived, custom={"speaker": speaker} if speaker else {})
                    continue
                clip, seen = pending.get(key) or (ClipEntry(split=split, key=key, origin_id=origin,
                                                            domain="speech", captions=[], audio=[]), 0)
                clip.captions.extend(captions)
                clip.derived.extend(derived)
                clip.audio = list(dict.fromkeys(list(clip.audio) + audio))
                if speaker and "speaker" not in clip.custom:
                    clip.custom["speaker"] = speaker
                if seen + 1 == repeats[key]:
                    pending.pop(key, None)
                    yield clip
                else:
                    pending[key] = (clip, seen + 1)
        if left_out:
            log.warning("paraspeechcaps: %d %s clip(s) are in an evaluation split too; kept there only",
                        len(left_out), split)
        if pending:  # only when the files changed between the two passes
            raise LayoutError(f"ParaSpeechCaps {split}: {len(pending)} clip(s) have fewer rows than when the files "
                              f"were first read (e.g. {next(iter(pending))!r}); were the files replaced? rerun")
