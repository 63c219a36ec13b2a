"""Reading and writing tables: CSV, Excel or Parquet from users, Parquet
between the stages.

Data between stages is Parquet: typed, compressed and about fifty times faster
to write than CSV. Every writer replaces its file in one step (see
:mod:`..utils.atomic`), and every read failure becomes a message for a person.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError, DataValidationError
from ..utils import atomic
from .dialect import TextFormat, detect


def read_table(path: Path, what: str, text: TextFormat | None = None) -> pd.DataFrame:
    """Read a CSV, Excel or Parquet file, turning every failure into a clear
    error; a CSV file in the format ``text``, detected when not given."""
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist: run the earlier stages.")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_excel(path, what)
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataValidationError(
                f"{what} {path} is not a readable Parquet file."
            ) from exc
        release_arrow_memory()
        return frame
    return read_csv(path, what, text or detect(path, what))


def release_arrow_memory() -> None:
    """Give the memory Arrow has freed back to the system.

    Arrow's allocator keeps freed blocks for its own later use, where numpy
    and pandas cannot take them: without this, a stage would carry the
    buffers of reading or writing a file to its end (about 300 MiB for a
    table of 800k rows x 30 columns).
    """
    pa.default_memory_pool().release_unused()


def read_csv(path: Path, what: str, text: TextFormat) -> pd.DataFrame:
    """Read a CSV file written in the format ``text``, with a header row of
    distinct column names."""
    try:
        with path.open(encoding=text.encoding, newline="") as handle:
            header = next(csv.reader(handle, delimiter=text.delimiter), [])
        frame = pd.read_csv(
            path, sep=text.delimiter, encoding=text.encoding, decimal=text.decimal
        )
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"{what} {path} is not {text.encoding} text (the byte at position "
            f"{exc.start} cannot be read): set data.encoding in params.yaml to the "
            "file's encoding, or save it as 'CSV UTF-8'."
        ) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{what} {path} is empty.") from None
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split())
        raise DataValidationError(
            f"{what} {path} is not a readable CSV file: {detail}"
        ) from None
    except OSError as exc:
        raise DataValidationError(
            f"{what} {path} cannot be read: {exc.strerror}."
        ) from None
    check_distinct_names(header, path, what)
    return frame


def read_excel(path: Path, what: str) -> pd.DataFrame:
    """Read the first sheet of an Excel workbook, its first row as the header."""
    try:
        frame = pd.read_excel(path, sheet_name=0, engine="openpyxl")
        header = pd.read_excel(path, sheet_name=0, header=None, nrows=1)
    except (OSError, ValueError, KeyError) as exc:
        raise DataValidationError(
            f"{what} {path} is not a readable Excel workbook: {exc}"
        ) from None
    check_distinct_names([str(name) for name in header.iloc[0]], path, what)
    return frame


def check_distinct_names(header: list[str], path: Path, what: str) -> None:
    """Refuse a header that names a column twice (pandas would rename one)."""
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataValidationError(
            f"{what} {path} has duplicated column name(s) "
            f"{', '.join(map(repr, repeated))}: give every column its own name."
        )


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Replace ``path`` with ``frame`` as Parquet, without the index."""
    write_arrow(path, pa.Table.from_pandas(frame, preserve_index=False))


def write_arrow(path: Path, table: pa.Table) -> None:
    """Replace ``path`` with ``table`` as Parquet, atomically."""
    with atomic.replacing(path) as tmp:
        pq.write_table(table, tmp)
    release_arrow_memory()


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as CSV or Parquet (by suffix) in one step."""
    if path.suffix.lower() == ".parquet":
        write_parquet(path, frame)
    else:
        atomic.write_csv(path, frame)
