"""SpeechCraft (Jin et al., ACM Multimedia 2024, "SpeechCraft: A Fine-Grained Expressive Speech Dataset
with Natural Language Description"): LLM-written speaking-style descriptions of LibriTTS-R,
GigaSpeech-M (English), AISHELL-3 and Zhvoice (Chinese) clips.

As distributed (github.com/thuhcsi/SpeechCraft): the audio comes from the source corpora; the
annotations are downloads per language (EN, ZH) in three versions: *Description* (the style
description alone), *Instruction* (the description with the transcript quoted in it) and, since
2024-09, *Labels* (structured pitch, energy, speed, age, gender, emotion, emphasis, category and
transcript). The README documents the label values (EN gender Male/Female; age Child ... Elderly;
pitch/speed/volume low|slow, normal, high|fast; seven emotions) but not the file format, and no
public copy of the files could be inspected. The released annotation pipeline
(``llama_infer.py``) writes a JSON object keyed by utterance id whose values are
``{"labels": "age:...\\tgender:...\\t...\\ttranscription: <text>", "llama-instruction": "<text>"}``.

ASSUMED layout (so the preparer reads what the pipeline writes and the common JSON shapes around
it; what it accepts is tested in tests/test_corpus_speechcraft.py):

* Annotation files ``*.json`` or ``*.jsonl`` in the corpus root or in a language folder ``EN/`` or
  ``ZH/`` directly under it (nowhere deeper, so a source corpus unpacked below the root, e.g.
  GigaSpeech's 10 GB ``GigaSpeech.json``, is never read as an annotation file). The file name says
  which source corpus it covers: it contains ``libritts``, ``gigaspeech``, ``aishell`` or
  ``zhvoice`` (case-insensitive); a corpus may be split over several files (read in name order).
  Names containing ``instruction``, ``label`` or ``metadata`` are the other versions and are not
  read: an Instruction repeats the Description with the transcript quoted in it, and the
  transcript is kept as a derived caption instead. Other JSON files are ignored (logged).
* A ``.json`` file holds either an object ``{utterance id: record}`` or a list of records; a
  ``.jsonl`` file one record per line. A record is the description string itself, or an object
  with the description under ``description`` (also ``Description``, ``speech_description``,
  ``speech-description``, ``llama-instruction``, ``caption``, ``text_description``; a string or a
  list of strings, each one caption slot), the id (in list/JSONL form) under ``id``, ``key``,
  ``utt_id``, ``uttid``, ``segment_id``, ``audio``, ``audio_path``, ``path``, ``wav``,
  ``filename`` or ``file``, and the transcript under ``transcript``, ``transcription`` or
  ``text``, or as the ``transcription:`` entry of a tab-separated ``labels`` string.
* An utterance id may carry a corpus prefix, folders or an extension
  (``LibriTTS-R_19_198_000000_000000``, ``train-clean-100/19/198/19_198_000000_000000.wav``); the
  source corpus's own id is taken from its end: LibriTTS ``<speaker>_<chapter>_<para>_<sent>``,
  GigaSpeech ``{POD,YOU,AUD}<10 digits>_S<7 digits>``, AISHELL-3 ``SSB<speaker 4><utt 4>``;
  Zhvoice ids are the last path component without extension. An id without that form raises a
  LayoutError naming the file (and the line, in JSONL).

Audio (from the source corpora; ``--audio-dir`` for each, or one folder holding them all):
LibriTTS(-R) ``<speaker>/<chapter>/<id>.wav`` then ``<id>``; GigaSpeech per-segment files named by
segment id (as the Hugging Face ``speechcolab/gigaspeech`` release has them; the original long
``.opus`` recordings are not cut here); AISHELL-3 ``<speaker>/<id>`` (``SSB0005/SSB00050001``)
then ``<id>``; Zhvoice ``<id>``.

``origin_id``: ``libritts:<id>`` (LibriTTS and LibriTTS-R share ids, so the same utterance is one
origin), ``gigaspeech:<segment id>``, ``aishell3:<id>``, ``zhvoice:<id>``. Clip key
``<corpus>_<id>``.

Splits: SpeechCraft has no evaluation split (its LibriTTS-R part is LibriTTS-R's training
subsets, its GigaSpeech part the M training subset), so every clip goes to train; overlap with
evaluation sets is left to the curation, by ``origin_id``. Subsets ``libritts``, ``gigaspeech``
(English, the default) and ``aishell3``, ``zhvoice`` (Chinese descriptions).

Captions: each description is one official caption slot, style ``speaking_style`` (empty ones
included); the transcript is a derived caption, style ``transcript``. Domain ``speech``. Records of
one file with the same id are one clip (their descriptions in file order); an id already read from
an earlier file of the same corpus is left out and counted in the summary's ``excluded`` as
``repeated_in_another_file``. Each file is loaded whole (JSON objects cannot be streamed with the
standard library), one file at a time.
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, MissingFileError

log = logging.getLogger(__name__)

# subset -> (file-name marker, origin namespace)
CORPORA_OF = {"libritts": ("libritts", "libritts"), "gigaspeech": ("gigaspeech", "gigaspeech"),
              "aishell3": ("aishell", "aishell3"), "zhvoice": ("zhvoice", "zhvoice")}
SKIPPED_VERSIONS = ("instruction", "label", "metadata")
LANGUAGE_FOLDERS = ("en", "zh")
DESCRIPTION_FIELDS = ("description", "Description", "speech_description", "speech-description", "llama-instruction",
                      "caption", "text_description")
ID_FIELDS = ("id", "key", "utt_id", "uttid", "segment_id", "audio", "audio_path", "path", "wav", "filename", "file")
TRANSCRIPT_FIELDS = ("transcript", "transcription", "text")
ID_PATTERNS = {
    "libritts": re.compile(r"(\d+)_(\d+)_\d+_\d+$"),
    "gigaspeech": re.compile(r"(?:POD|YOU|AUD)\d{10}_S\d{7}$"),
    "aishell3": re.compile(r"(SSB\d{4})\d{4}$"),
}
STYLE = "speaking_style"


def annotation_files(corpus_dir: Path) -> List[Path]:
    """``*.json`` / ``*.jsonl`` in the corpus root and its ``EN/`` / ``ZH/`` folders, in name order."""
    folders = [corpus_dir] + sorted(p for p in corpus_dir.iterdir()
                                    if p.is_dir() and p.name.lower() in LANGUAGE_FOLDERS)
    files = []
    for folder in folders:
        files += sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".jsonl"))
    return files


def corpus_of(path: Path) -> Optional[str]:
    """The subset a description file covers, or None (another version, or not a SpeechCraft file)."""
    name = path.name.lower()
    if any(word in name for word in SKIPPED_VERSIONS):
        return None
    for subset, (marker, _) in CORPORA_OF.items():
        if marker in name:
            return subset
    return None


def utterance_id(corpus: str, raw: str) -> str:
    """The source corpus's id at the end of ``raw`` (prefix, folders, extension dropped); ValueError if none."""
    last = raw.strip().replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    stem = re.sub(r"\.(wav|flac|mp3|opus|m4a|ogg)$", "", last, flags=re.IGNORECASE)
    if corpus == "zhvoice":
        if not stem:
            raise ValueError(f"empty utterance id {raw!r}")
        return stem
    match = ID_PATTERNS[corpus].search(stem)
    if not match:
        raise ValueError(f"utterance id {raw!r} does not end with a {corpus} id")
    return match.group(0)


def audio_names(corpus: str, utt: str) -> List[str]:
    if corpus == "libritts":
        speaker, chapter = utt.split("_")[:2]
        return [f"{speaker}/{chapter}/{utt}", utt]
    if corpus == "aishell3":
        return [f"{utt[:7]}/{utt}", utt]
    return [utt]


def _text_list(value, where: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
        return [v or "" for v in value]
    raise LayoutError(f"{where}: a description should be a string or a list of strings, got {type(value).__name__}")


def _transcript(record: dict) -> str:
    for name in TRANSCRIPT_FIELDS:
        if isinstance(record.get(name), str):
            return record[name]
    labels = record.get("labels")
    if isinstance(labels, str):
        for item in labels.split("\t"):
            name, colon, value = item.partition(":")
            if colon and name.strip().lower() in ("transcription", "transcript"):
                return value
    return ""


def _parse_record(record, where: str, key: Optional[str]) -> Tuple[str, List[str], str]:
    """(raw id, descriptions, transcript) of one record; ``key`` is the id when the file is an object."""
    if isinstance(record, str):
        if key is None:
            raise LayoutError(f"{where}: a record without an id (a bare string in a list)")
        return key, [record], ""
    if not isinstance(record, dict):
        raise LayoutError(f"{where}: a record should be an object or a string, got {type(record).__name__}")
    if key is None:
        key = next((record[f] for f in ID_FIELDS if isinstance(record.get(f), (str, int))), None)
        if key is None:
            raise LayoutError(f"{where}: no id field (one of {', '.join(ID_FIELDS)})")
    field = next((f for f in DESCRIPTION_FIELDS if f in record), None)
    if field is None:
        raise LayoutError(f"{where}: no description field (one of {', '.join(DESCRIPTION_FIELDS)})")
    return str(key), _text_list(record[field], where), _transcript(record)


def read_records(path: Path) -> Iterator[Tuple[str, str, List[str], str]]:
    """(where, raw id, descriptions, transcript) of every record of one annotation file, in file order."""
    if path.suffix.lower() == ".jsonl":
        with open(path, encoding="utf-8-sig") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{line_no}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise LayoutError(f"{where}: not valid JSON ({err.msg})") from None
                yield (where, *_parse_record(record, where, None))
        return
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise LayoutError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise LayoutError(f"{path}: not UTF-8 text ({err.reason})") from None
    if isinstance(data, dict):
        for key, record in data.items():
            where = f"{path}: record {key!r}"
            yield (where, *_parse_record(record, where, key))
    elif isinstance(data, list):
        for i, record in enumerate(data):
            where = f"{path}: record {i}"
            yield (where, *_parse_record(record, where, None))
    else:
        raise LayoutError(f"{path}: expected a JSON object or list of records, got {type(data).__name__}")


@register_corpus("speechcraft")
class SpeechCraft(CorpusPreparer):
    subsets = tuple(CORPORA_OF)
    default_subsets = ("libritts", "gigaspeech")

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        if not hasattr(self, "excluded"):  # base classes before the excluded counter
            self.excluded = Counter()
        by_corpus: Dict[str, List[Path]] = {s: [] for s in subsets}
        for path in annotation_files(corpus_dir):
            corpus = corpus_of(path)
            if corpus in by_corpus:
                by_corpus[corpus].append(path)
            elif corpus is None:
                log.info("speechcraft: %s is not a Description file of a source corpus; not read", path)
        for corpus, files in by_corpus.items():
            if not files:
                marker = CORPORA_OF[corpus][0]
                raise MissingFileError(f"SpeechCraft {corpus} descriptions not found: no *{marker}*.json(l) in "
                                       f"{corpus_dir} or its EN/ZH folders (the Description download of the "
                                       "SpeechCraft README; --subsets chooses the source corpora)")
            seen: set = set()
            for path in files:
                yield from self._file_clips(corpus, path, seen)

    def _file_clips(self, corpus: str, path: Path, seen: set) -> Iterator[ClipEntry]:
        namespace = CORPORA_OF[corpus][1]
        clips: Dict[str, Tuple[List[str], List[str]]] = {}  # id -> (descriptions, transcripts), file order
        repeated = 0
        for where, raw, descriptions, transcript in read_records(path):
            try:
                utt = utterance_id(corpus, raw)
            except ValueError as err:
                raise LayoutError(f"{where}: {err}") from None
            if utt in seen:
                repeated += 1
                continue
            texts, transcripts = clips.setdefault(utt, ([], []))
            texts.extend(descriptions)
            if transcript.strip():
                transcripts.append(transcript)
        if repeated:
            self.excluded["repeated_in_another_file"] += repeated
            log.warning("speechcraft: %s: %d records name clips already read from an earlier file; left out",
                        path, repeated)
        seen.update(clips)
        for utt, (texts, transcripts) in clips.items():
            yield ClipEntry(split="train", key=f"{namespace}_{utt}", origin_id=f"{namespace}:{utt}", domain="speech",
                            captions=[(t, STYLE) for t in texts], audio=audio_names(corpus, utt),
                            derived=[(t, "transcript") for t in transcripts])
