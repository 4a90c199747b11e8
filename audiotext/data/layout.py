"""Reading data sets as distributed: the errors and the file helpers every preparer shares.

A preparer (downstream data sets in :mod:`audiotext.data.downstream`, caption corpora in
:mod:`audiotext.data.corpora`) turns an official layout into Lhotse manifests. When the layout
is not what the preparer expects it raises :class:`MissingFileError` or :class:`LayoutError`,
whose message names the file (and the line, for a malformed row); the command-line tools turn
either into one ``error:`` line and exit status 2.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple


# captions may be long (LLM descriptions); curation, not the CSV reader, decides what is too long
csv.field_size_limit(2**31 - 1)


class DataLayoutError(Exception):
    """A data set cannot be prepared as laid out on disk (the message says why)."""


class MissingFileError(DataLayoutError, FileNotFoundError):
    """A metadata file, an audio directory or a listed audio file is absent."""


class LayoutError(DataLayoutError, ValueError):
    """A metadata file exists but does not have the official format."""


def require_file(path: Path, what: str, hint: str = "") -> Path:
    """Return ``path`` if it is a file, else raise naming the exact path."""
    if not path.is_file():
        raise MissingFileError(f"{what} not found: {path}" + (f" ({hint})" if hint else ""))
    return path


def require_dir(path: Path, what: str, hint: str = "") -> Path:
    if not path.is_dir():
        raise MissingFileError(f"{what} not found: {path}" + (f" ({hint})" if hint else ""))
    return path


AUDIO_EXTENSIONS = ("wav", "flac", "mp3", "ogg", "opus", "m4a", "aac", "webm")


class AudioIndex:
    """Every audio file under some roots, found by stem or by a trailing relative path.

    Download tools name folders differently, so a clip is looked up by the file name its
    corpus gives it (without extension), searched recursively; where several files share a
    stem, a candidate with folders (``id10001/1zcIwhmdeo4/00001``) picks the one whose path
    ends that way. Hidden directories are skipped.
    """

    def __init__(self, roots: Sequence[Path], extensions: Sequence[str] = AUDIO_EXTENSIONS):
        self.roots = [Path(r) for r in roots]
        rank = {ext.lower(): i for i, ext in enumerate(extensions)}
        self._by_stem: Dict[str, List[Tuple[int, str]]] = {}
        # "<parent folder>/<stem>": a candidate with folders is found without scanning every file of
        # its stem (VoxCeleb has ~150k files named 00001.wav)
        self._by_parent: Dict[str, List[Tuple[int, str]]] = {}
        for root in self.roots:
            if not root.is_dir():
                raise MissingFileError(f"audio directory not found: {root}")
            for directory, subdirs, files in os.walk(root, followlinks=True):
                subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
                for name in files:
                    stem, dot, ext = name.rpartition(".")
                    if dot and ext.lower() in rank:
                        item = (rank[ext.lower()], os.path.join(directory, name))
                        self._by_stem.setdefault(stem, []).append(item)
                        self._by_parent.setdefault(f"{os.path.basename(directory)}/{stem}", []).append(item)
        for paths in list(self._by_stem.values()) + list(self._by_parent.values()):
            paths.sort()
        self.num_files = sum(len(p) for p in self._by_stem.values())

    def find(self, candidates: Iterable[str]) -> Optional[str]:
        """The path of the first candidate found, or None. A candidate with folders matches only a
        file whose directory ends with those folders."""
        for candidate in candidates:
            parts = candidate.replace("\\", "/").strip("/").split("/")
            if len(parts) == 1:
                found = self._by_stem.get(parts[-1])
                if found:
                    return found[0][1]
                continue
            found = self._by_parent.get(f"{parts[-2]}/{parts[-1]}")
            if not found:
                continue
            folders = "/".join(parts[:-1])
            for _, path in found:
                directory = os.path.dirname(path).replace("\\", "/")
                if directory == folders or directory.endswith("/" + folders):
                    return path
        return None

    def first_by_stem(self) -> Dict[str, Path]:
        """stem -> the file of that stem with the earliest extension in the index's order."""
        return {stem: Path(paths[0][1]) for stem, paths in self._by_stem.items()}


def index_audio(root: Path, extensions: Sequence[str]) -> Dict[str, Path]:
    """Map file stem -> path for every file under ``root`` with one of ``extensions``.

    When a stem exists with several extensions the earlier extension in
    ``extensions`` wins. Hidden directories are not searched.
    """
    return AudioIndex([root], extensions).first_by_stem()


def iter_table(path: Path, required: Sequence[str] = (), delimiter: str = ",", encoding: str = "utf-8-sig"
               ) -> Iterator[Tuple[int, Dict[str, str]]]:
    """Yield ``(line number, row)`` of a delimited file with a header line, one row at a time.

    Quoted fields may hold the delimiter and newlines (RFC 4180, Python's csv module); the line
    number is that of the row's last physical line. Raises :class:`LayoutError` naming the file
    when a required column is absent, and the file and line when a row has more or fewer fields
    than the header, is not valid ``encoding`` text, or is not well-formed CSV.
    """
    position = {"line": 0}

    def decoded_lines(f):
        # decode line by line (not in 8 KB chunks), so a bad byte is reported on its own line
        for raw in f:
            position["line"] += 1
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise LayoutError(f"{path}:{position['line']}: not valid {encoding} text ({err.reason})") from None

    with open(path, "rb") as f:
        reader = csv.DictReader(decoded_lines(f), delimiter=delimiter)
        try:
            header = [name.strip() for name in (reader.fieldnames or [])]
            reader.fieldnames = header
            missing = [column for column in required if column not in header]
            if missing:
                raise LayoutError(f"{path}: missing column(s) {', '.join(missing)}; the header has {header}")
            for row in reader:
                if None in row or any(value is None for value in row.values()):
                    raise LayoutError(f"{path}:{position['line']}: expected {len(header)} fields")
                yield position["line"], row
        except csv.Error as err:
            raise LayoutError(f"{path}:{position['line']}: malformed row ({err})") from None


def read_table(path: Path, required: Sequence[str] = (), delimiter: str = ",", encoding: str = "utf-8-sig"
               ) -> Tuple[List[str], List[Tuple[int, Dict[str, str]]]]:
    """Header and ``(line number, row)`` pairs of a delimited file (see :func:`iter_table`)."""
    rows = list(iter_table(path, required, delimiter, encoding))
    with open(path, newline="", encoding=encoding) as f:
        header = [name.strip() for name in (next(csv.reader(f, delimiter=delimiter), None) or [])]
    return header, rows


def to_int(value: str, path: Path, line: int, column: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise LayoutError(f"{path}:{line}: column {column!r} should be an integer, got {value!r}") from None


def to_float(value: str, path: Path, line: int, column: str) -> float:
    """A finite number, else a LayoutError naming file, line and column (``nan`` and ``inf`` too)."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise LayoutError(f"{path}:{line}: column {column!r} should be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise LayoutError(f"{path}:{line}: column {column!r} should be a finite number, got {value!r}")
    return number
