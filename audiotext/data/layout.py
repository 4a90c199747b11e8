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
from typing import Dict, Iterator, List, Sequence, Tuple


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


def index_audio(root: Path, extensions: Sequence[str]) -> Dict[str, Path]:
    """Map file stem -> path for every file under ``root`` with one of ``extensions``.

    When a stem exists with several extensions the earlier extension in
    ``extensions`` wins. Hidden directories are not searched.
    """
    rank = {ext.lower(): i for i, ext in enumerate(extensions)}
    found: Dict[str, Tuple[int, Path]] = {}
    for directory, subdirs, files in os.walk(root, followlinks=True):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in files:
            stem, dot, ext = name.rpartition(".")
            if not dot or ext.lower() not in rank:
                continue
            key = (rank[ext.lower()], Path(directory) / name)
            if stem not in found or key < found[stem]:
                found[stem] = key
    return {stem: path for stem, (_, path) in found.items()}


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
