"""Reading and writing tables: CSV, Excel or Parquet from users, Parquet
between the stages.

Data between stages is Parquet: typed, compressed and about fifty times faster
to write than CSV. Every writer replaces its file in one step (see
:mod:`..utils.atomic`), and every read failure becomes a message for a person.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError, DataValidationError
from ..utils import atomic
from ..utils.arrays import IntArray
from .dialect import TextFormat, detect


def read_table(path: Path, what: str, text: TextFormat | None = None) -> pd.DataFrame:
    """Read a CSV, Excel or Parquet file, turning every failure into a clear
    error; a CSV file in the format ``text``, detected when not given."""
    check_exists(path, what)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_excel(path, what)
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise unreadable_parquet(path, what) from exc
        release_arrow_memory()
        return frame
    return read_csv(path, what, text or detect(path, what))


def unreadable_parquet(path: Path, what: str) -> DataValidationError:
    return DataValidationError(f"{what} {path} is not a readable Parquet file.")


def read_row_groups(path: Path, what: str) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet file a row group at a time, each frame indexed
    by its rows' positions in the file: the frames :func:`read_table` would
    return in one piece, so that a large file never is in memory whole."""
    check_exists(path, what)
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise unreadable_parquet(path, what) from exc
    if not parquet.num_row_groups:  # no rows: still the columns
        yield parquet.read().to_pandas()
    start = 0
    for group in range(parquet.num_row_groups):
        frame = parquet.read_row_group(group).to_pandas()
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        release_arrow_memory()
        yield frame


def read_parts(path: Path, what: str) -> Iterator[pd.DataFrame]:
    """A Parquet file a row group at a time (:func:`read_row_groups`), any
    other table whole (its types are decided over the whole file)."""
    if path.suffix.lower() == ".parquet":
        yield from read_row_groups(path, what)
    else:
        yield read_table(path, what)


def sample_positions(n_rows: int, size: int) -> IntArray:
    """Positions of all ``n_rows`` rows, in order, up to ``size``; beyond, a
    seeded sample of ``size`` of them (the rows pandas' ``sample`` with
    ``random_state=0`` draws, in its order)."""
    if n_rows <= size:
        return np.arange(n_rows)
    return np.random.RandomState(0).choice(n_rows, size, replace=False)


def read_sample(path: Path, what: str, size: int) -> pd.DataFrame:
    """The table at ``path``, or past ``size`` rows the seeded sample
    :func:`sample_positions` draws, in file order and indexed by position. A
    Parquet file is read a row group at a time, keeping only the drawn rows."""
    if path.suffix.lower() != ".parquet":
        frame = read_table(path, what)
        sample: pd.DataFrame = frame.iloc[np.sort(sample_positions(len(frame), size))]
        return sample
    check_exists(path, what)
    n_rows = parquet_rows(path)
    chosen = np.zeros(n_rows, dtype=bool)
    chosen[sample_positions(n_rows, size)] = True
    parts: list[pd.DataFrame] = [
        part[chosen[part.index.to_numpy()]] for part in read_row_groups(path, what)
    ]
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def parquet_rows(path: Path) -> int:
    """The number of rows of the Parquet file at ``path``, from its footer."""
    return int(pq.ParquetFile(path).metadata.num_rows)


def check_exists(path: Path, what: str) -> None:
    """Refuse a file an earlier stage should have written but has not."""
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist: run the earlier stages.")


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


def check_distinct_names(header: list[str], path: Path | str, what: str) -> None:
    """Refuse a header that names a column twice (pandas would rename one)."""
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataValidationError(
            f"{what} {path} has duplicated column name(s) "
            f"{', '.join(map(repr, repeated))}: give every column its own name."
        )


ROW_GROUP_ROWS = 1 << 17
"""Rows per Parquet row group between the stages: the partitions the Dask
engine reads them in (about 40 MB for 30 columns), so small enough for a
worker to validate one in a fraction of its memory."""


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Replace ``path`` with ``frame`` as Parquet, without the index."""
    write_tables(path, [arrow_table(frame)])


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table, without the index."""
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_tables(
    path: Path, tables: Iterable[pa.Table], row_group_rows: int | None = None
) -> int:
    """Replace ``path`` with the rows of ``tables``, one after another, as one
    Parquet file in row groups of ``row_group_rows`` rows (default
    :data:`ROW_GROUP_ROWS`; the last one shorter), however many rows each
    table holds: the file is the same
    whether its rows came in one table or in parts. The schema is the first
    table's. Returns the number of rows written.
    """
    row_group_rows = row_group_rows or ROW_GROUP_ROWS
    written = 0
    with atomic.replacing(path) as tmp:
        writer: pq.ParquetWriter | None = None
        pending: list[pa.Table] = []
        try:
            for table in tables:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                pending.append(table.cast(writer.schema))
                held = sum(part.num_rows for part in pending)
                while held >= row_group_rows:
                    rows = pa.concat_tables(pending).combine_chunks()
                    writer.write_table(rows.slice(0, row_group_rows), row_group_rows)
                    pending, held = [rows.slice(row_group_rows)], held - row_group_rows
                    written += row_group_rows
            if writer is None:
                raise ValueError("write_tables needs at least one table")
            rest = pa.concat_tables(pending).combine_chunks()
            if rest.num_rows or not written:
                writer.write_table(rest, row_group_rows)
            written += int(rest.num_rows)
        finally:
            if writer is not None:
                writer.close()
    release_arrow_memory()
    return written


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as CSV or Parquet (by suffix) in one step."""
    write_frames(path, [frame])


def write_frames(path: Path, frames: Iterable[pd.DataFrame]) -> int:
    """Replace ``path`` with the rows of ``frames``, one after another, as CSV
    or Parquet (by suffix): the file :func:`write_table` writes of them put
    together, without holding them together. Returns the number of rows."""
    if path.suffix.lower() == ".parquet":
        return write_tables(path, map(arrow_table, frames))
    written = 0
    with atomic.replacing(path) as tmp:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            for index, frame in enumerate(frames):
                header = index == 0
                frame.to_csv(handle, index=False, header=header, lineterminator="\n")
                written += len(frame)
    return written


class ParquetColumns:
    """The columns of a Parquet file by name, each read in full when asked for,
    so that only one is in memory at a time."""

    def __init__(self, path: Path) -> None:
        self.parquet = pq.ParquetFile(path)

    def __len__(self) -> int:
        return int(self.parquet.metadata.num_rows)

    def __getitem__(self, name: str) -> pd.Series:
        column: pd.Series = self.parquet.read(columns=[name]).to_pandas()[name]
        release_arrow_memory()
        return column
