"""How a text table is written: its delimiter, encoding and decimal mark.

A CSV exported by Excel in much of Europe is separated by semicolons, starts
with a UTF-8 byte-order mark and writes ``5,1`` for 5.1; a tab-separated
"Unicode text" export is UTF-16. :func:`detect` finds out which from the file
itself, ``init-data`` prints it and records it in the ``data`` section of
``params.yaml``, and ingest reads the file that same way every time.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataValidationError

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
"""The delimiters detected, in order of preference when the evidence ties."""
SAMPLE_BYTES = 1 << 16
"""How much of the file the delimiter and decimal mark are judged from."""
CONSISTENT_SHARE = 0.9
"""The share of sampled rows that must have the header's width."""
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+$")
BYTE_ORDER_MARKS = {
    codecs.BOM_UTF8: "utf-8-sig",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
}


@dataclass(frozen=True)
class TextFormat:
    """The way a text table is written; the defaults are a plain UTF-8 CSV."""

    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."

    def describe(self) -> str:
        """In words, e.g. ``semicolon-separated, utf-8-sig (byte-order mark)``."""
        name = DELIMITERS.get(self.delimiter, repr(self.delimiter))
        encoding = self.encoding
        if encoding in BYTE_ORDER_MARKS.values():
            encoding += " (byte-order mark)"
        return f"{name}-separated, {encoding}, decimal mark {self.decimal!r}"


def detect(
    path: Path,
    what: str,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> TextFormat:
    """The format of the text table at ``path``; a given ``delimiter`` or
    ``encoding`` is taken as it is instead of detected.

    Raises :class:`DataValidationError` when the file is not UTF-8 and no
    encoding was given, naming the encoding it most likely is.
    """
    encoding = encoding or detect_encoding(path, what)
    lines = sample_lines(path, encoding)
    delimiter = delimiter or detect_delimiter(lines)
    return TextFormat(delimiter, encoding, detect_decimal(lines, delimiter))


def detect_encoding(path: Path, what: str) -> str:
    """UTF-8, with or without a byte-order mark, or UTF-16 with one; anything
    else is refused with the likely encoding named."""
    with path.open("rb") as handle:
        head = handle.read(4)
    for mark, encoding in BYTE_ORDER_MARKS.items():
        if head.startswith(mark):
            return encoding
    position = first_undecodable(path, "utf-8")
    if position is None:
        return "utf-8"
    likely = "cp1252" if first_undecodable(path, "cp1252") is None else "latin-1"
    raise DataValidationError(
        f"{what} {path} is not UTF-8 text (the byte at position {position} "
        f"cannot be read); it is most likely {likely}, the Windows/Western "
        f"European encoding. Pass --encoding {likely} to init-data (it records "
        "the encoding in params.yaml), or save the file as 'CSV UTF-8'."
    )


def first_undecodable(path: Path, encoding: str) -> int | None:
    """The position of the first byte ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset + exc.start
    return None


def sample_lines(path: Path, encoding: str) -> list[str]:
    """The first complete lines of the file, about :data:`SAMPLE_BYTES` of it."""
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(SAMPLE_BYTES)
        complete = not handle.read(1)
    lines = text.splitlines()
    return lines if complete or len(lines) < 2 else lines[:-1]


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the header into the most columns while
    nearly every row has as many; a comma when none splits it."""

    def evidence(delimiter: str) -> tuple[bool, int]:
        rows = [row for row in csv.reader(lines, delimiter=delimiter) if row]
        if not rows:
            return False, 0
        width = len(rows[0])
        share = sum(len(row) == width for row in rows) / len(rows)
        return width > 1 and share >= CONSISTENT_SHARE, width

    best = max(DELIMITERS, key=evidence)
    return best if evidence(best)[0] else ","


def detect_decimal(lines: list[str], delimiter: str) -> str:
    """A decimal comma when the fields hold numbers like ``5,1`` and none like
    ``5.1`` (only possible when the delimiter is not a comma)."""
    if delimiter == ",":
        return "."
    rows = csv.reader(lines[1:], delimiter=delimiter)
    fields = [field.strip() for row in rows for field in row]
    commas = sum(bool(DECIMAL_COMMA.match(field)) for field in fields)
    points = sum(bool(DECIMAL_POINT.match(field)) for field in fields)
    return "," if commas and not points else "."
