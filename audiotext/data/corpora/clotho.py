"""Clotho v2.1 (Drossos, Lipping and Virtanen, ICASSP 2020): five human captions per Freesound clip.

Layout as distributed (Zenodo record 4783391; the same names in v2 and, without ``validation``,
v1): ``clotho_captions_{development,validation,evaluation}.csv`` with columns ``file_name,
caption_1, ..., caption_5`` (one row per clip), ``clotho_metadata_{development,validation,
evaluation}.csv`` with columns ``file_name, keywords, sound_id, sound_link, start_end_samples,
manufacturer, license`` (ISO-8859-1 text in v2/v2.1), and ``clotho_audio_<split>.7z`` archives
that unpack to ``development/``, ``validation/``, ``evaluation/`` folders of WAV files named as
``file_name`` says (spaces, commas, brackets and dots included: ``Radio Garble.wav``). The CSVs
are looked up in the corpus root, then in ``clotho_csv_files/`` (the aac-datasets layout).

Audio: the clip's file stem, first under a folder named after its split (``development/<stem>``),
then anywhere, then the stem with the characters v2.1 replaced in file names (``: / \\ ? * " < > |``,
with the spaces around them, -> ``_``: ``w: Dripping`` -> ``w_Dripping``; then each such character
alone -> ``_``) in case the CSV and the archive disagree.

``origin_id``: ``freesound:<sound_id>`` from the metadata (Clotho clips are excerpts of Freesound
sounds, so WavCaps' FreeSound clips share the key). A clip whose metadata row is missing, or whose
``sound_id`` is not an integer (the v2.x metadata has ``Not found`` in some rows), keeps its
captions and gets ``clotho:<file stem>``; both are logged with a count.

Splits: development -> train, validation -> valid, evaluation -> test. Domain ``sound``. The five
caption slots are ``human`` (counted in file order, empty ones included); the metadata
``keywords`` (``;``-separated) become one derived ``tags`` caption ``kw1, kw2, ...``. Metadata rows
naming a file that has no caption row are ignored (logged). A file listed twice in the captions
CSV is one clip with the captions of both rows; a file listed twice in the metadata keeps its
first row.

Encodings: the official metadata is ISO-8859-1 (v2 and v2.1); the captions are assumed ASCII/UTF-8
(readers open them with the platform default). Each file is read as UTF-8 when it decodes as UTF-8
(so a re-saved copy works too) and as ISO-8859-1 otherwise.

Sources: file and column names, the ISO-8859-1 metadata and the split folders as aac-datasets'
Clotho loader reads the Zenodo files; ``Not found`` sound ids as other Clotho readers filter them.
Assumed: the v2.1 renaming rule (taken from the renamed DCASE retrieval files, ``w: Dripping`` ->
``w_Dripping``); it only adds fallback names.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

from audiotext.data.corpora.base import ClipEntry, CorpusPreparer, register_corpus
from audiotext.data.layout import LayoutError, iter_table, require_file
from audiotext.data.schema import id_origin

log = logging.getLogger(__name__)

SPLITS = (("train", "development"), ("valid", "validation"), ("test", "evaluation"))
CAPTION_COLUMNS = tuple(f"caption_{i}" for i in range(1, 6))
METADATA_COLUMNS = ("file_name", "keywords", "sound_id")
CSV_FOLDERS = ("", "clotho_csv_files")
# v2.1 renamed files whose names held characters illegal on common file systems, replacing the
# character and the spaces around it with one "_" ("Intersection Wet : Metro Pass" -> "Intersection Wet_Metro Pass")
ILLEGAL_IN_NAMES = re.compile(r'\s*[:/\\?*"<>|]\s*')
ILLEGAL_CHAR = re.compile(r'[:/\\?*"<>|]')


def find_csv(corpus_dir: Path, name: str, what: str) -> Path:
    """``corpus_dir/name`` or ``corpus_dir/clotho_csv_files/name``; MissingFileError naming the first."""
    for folder in CSV_FOLDERS:
        path = corpus_dir / folder / name if folder else corpus_dir / name
        if path.is_file():
            return path
    return require_file(corpus_dir / name, what, f"the Clotho CSV files from zenodo.org/records/4783391, "
                                                  f"in {corpus_dir} or {corpus_dir / CSV_FOLDERS[1]}")


def text_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file decodes as UTF-8, else ``iso-8859-1`` (the official metadata)."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "iso-8859-1"
    return "utf-8-sig"


def file_stem(file_name: str) -> str:
    """``Radio Garble.wav`` -> ``Radio Garble``; a name without ``.wav`` is kept as it is."""
    return file_name[:-4] if file_name.lower().endswith(".wav") else file_name


def audio_names(folder: str, stem: str) -> List[str]:
    names = [f"{folder}/{stem}", stem, ILLEGAL_IN_NAMES.sub("_", stem), ILLEGAL_CHAR.sub("_", stem)]
    return list(dict.fromkeys(names))


def keywords_caption(keywords: str) -> str:
    """``rain;roof; metal`` -> ``rain, roof, metal``."""
    return ", ".join(k.strip() for k in keywords.split(";") if k.strip())


def freesound_id(sound_id: str) -> str:
    """The integer sound id as text, or "" when the field holds none (``Not found``, empty)."""
    value = (sound_id or "").strip()
    if value.endswith(".0"):  # a copy re-saved by pandas writes integer columns with missing values as floats
        value = value[:-2]
    return value if value.isdigit() else ""


@register_corpus("clotho")
class Clotho(CorpusPreparer):
    def read_metadata(self, path: Path) -> Dict[str, Tuple[str, str]]:
        """file_name -> (sound_id, keywords) of one split's metadata file (first row per file)."""
        out: Dict[str, Tuple[str, str]] = {}
        for line, row in iter_table(path, METADATA_COLUMNS, encoding=text_encoding(path)):
            name = row["file_name"].strip()
            if not name:
                raise LayoutError(f"{path}:{line}: empty file_name")
            if name in out:
                log.warning("clotho: %s:%d: %r listed again; its first row is kept", path, line, name)
                continue
            out[name] = (row["sound_id"], row["keywords"])
        return out

    def read_captions(self, path: Path) -> Dict[str, List[str]]:
        """file_name -> caption slots in file order (rows of the same file joined)."""
        out: Dict[str, List[str]] = {}
        for line, row in iter_table(path, ("file_name",) + CAPTION_COLUMNS, encoding=text_encoding(path)):
            name = row["file_name"].strip()
            if not name:
                raise LayoutError(f"{path}:{line}: empty file_name")
            out.setdefault(name, []).extend(row[c] for c in CAPTION_COLUMNS)
        return out

    def clips(self, corpus_dir: Path, subsets: Sequence[str]) -> Iterator[ClipEntry]:
        for split, official in SPLITS:
            captions_path = find_csv(corpus_dir, f"clotho_captions_{official}.csv", f"Clotho {official} captions")
            metadata_path = find_csv(corpus_dir, f"clotho_metadata_{official}.csv", f"Clotho {official} metadata")
            metadata = self.read_metadata(metadata_path)
            captions = self.read_captions(captions_path)
            no_metadata, no_sound_id = [], []
            for name, slots in captions.items():
                stem = file_stem(name)
                sound_id, keywords = metadata.get(name, ("", ""))
                if name not in metadata:
                    no_metadata.append(name)
                sound = freesound_id(sound_id)
                if sound:
                    origin = id_origin("freesound", sound)
                else:
                    origin = id_origin("clotho", stem)
                    if name in metadata:
                        no_sound_id.append(name)
                tags = keywords_caption(keywords)
                yield ClipEntry(
                    split=split, key=stem, origin_id=origin, domain="sound",
                    captions=[(text, "human") for text in slots], audio=audio_names(official, stem),
                    derived=[(tags, "tags")] if tags else [],
                )
            if no_metadata:
                log.warning("clotho: %d clip(s) of %s have no row in %s (kept, origin clotho:<file stem>, no tags), "
                            "e.g. %r", len(no_metadata), captions_path.name, metadata_path, no_metadata[0])
            if no_sound_id:
                log.warning("clotho: %d clip(s) of %s have no Freesound sound_id (kept, origin clotho:<file stem>), "
                            "e.g. %r", len(no_sound_id), metadata_path, no_sound_id[0])
            orphans = [name for name in metadata if name not in captions]
            if orphans:
                log.warning("clotho: %d row(s) of %s name files without captions (ignored), e.g. %r",
                            len(orphans), metadata_path, orphans[0])
