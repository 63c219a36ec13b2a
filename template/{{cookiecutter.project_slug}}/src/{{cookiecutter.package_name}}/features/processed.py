"""The processed training split: the transform's float32 matrix and the target,
as Parquet written and read a row group at a time, so the whole matrix is never
in memory twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..data.tables import write_tables
from ..errors import ConfigError, DataValidationError
from ..params import DataParams
from ..utils.arrays import IntArray, Matrix
from .targets import encode_targets
from .transform import FeatureTransform

BATCH_ROWS = 16_384
"""Rows transformed, written or read at a time."""


def write_processed(
    path: Path, transform: FeatureTransform, frame: pd.DataFrame, target: str
) -> None:
    """Write the matrix of ``frame`` and its target column as Parquet, atomically.

    The rows are transformed and written ``BATCH_ROWS`` at a time, a row group
    each, so the whole matrix is never in memory next to the table.
    """
    write_tables(path, processed_tables(transform, frame, target), BATCH_ROWS)


def processed_tables(
    transform: FeatureTransform, frame: pd.DataFrame, target: str
) -> Iterator[pa.Table]:
    """The matrix of ``frame`` and its target column, ``BATCH_ROWS`` rows at a
    time, as the tables :func:`write_processed` writes."""
    for start in range(0, max(len(frame), 1), BATCH_ROWS):
        rows = frame.iloc[start : start + BATCH_ROWS]
        matrix = transform.transform(rows)
        columns = {
            name: pa.array(column)
            for name, column in zip(transform.output_columns, matrix.T)
        }
        columns[target] = pa.array(rows[target].to_numpy())
        yield pa.table(columns)


def open_processed(path: Path) -> pq.ParquetFile:
    """The processed training split written by :func:`write_processed`."""
    if not path.is_file():
        raise ConfigError(
            f"Processed data {path} does not exist: run the features stage."
        )
    return pq.ParquetFile(path)


def processed_targets(path: Path, data: DataParams) -> np.ndarray:
    """The encoded targets of the processed training split, in file order."""
    parquet = open_processed(path)
    if data.target not in parquet.schema_arrow.names:
        raise ConfigError(
            f"Processed data {path} lacks the target column {data.target!r}: run "
            "the features stage again."
        )
    target = parquet.read(columns=[data.target]).column(0).to_pandas()
    return encode_targets(target, data)


class ProcessedFile:
    """The processed training split's matrix (the transform's output
    ``columns``), read a row group at a time."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.parquet = open_processed(path)
        self.columns = columns
        names = self.parquet.schema_arrow.names
        absent = [name for name in self.columns if name not in names]
        if absent:
            raise ConfigError(
                f"Processed data {path} lacks the column(s) "
                f"{', '.join(map(repr, absent[:5]))}: run the features stage again."
            )
        metadata = self.parquet.metadata
        sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        self.n_rows = metadata.num_rows
        self.starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        """The position of each row group's first row."""

    @property
    def n_groups(self) -> int:
        return len(self.starts)

    def block(self, group: int) -> Matrix:
        """The rows of row group ``group`` as a float32 matrix."""
        batch = self.parquet.read_row_group(group, columns=self.columns)
        block = np.column_stack(
            [batch.column(name).to_numpy() for name in self.columns]
        )
        if not np.isfinite(block).all():
            raise DataValidationError(
                f"Processed data {self.path} holds missing or infinite values: run "
                "the features stage again."
            )
        return block.astype(np.float32, copy=False)

    def rows(self, positions: IntArray) -> Matrix:
        """The rows at ``positions`` (ascending), read group by group."""
        matrix = np.empty((len(positions), len(self.columns)), dtype=np.float32)
        bounds = np.searchsorted(positions, [*self.starts, self.n_rows])
        for group, start in enumerate(self.starts):
            low, high = bounds[group], bounds[group + 1]
            if high > low:
                matrix[low:high] = self.block(group)[positions[low:high] - start]
        return matrix


class MatrixBlocks:
    """A matrix in memory, read in blocks of ``rows`` rows as a
    :class:`ProcessedFile` is read in row groups."""

    def __init__(self, matrix: Matrix, rows: int = BATCH_ROWS) -> None:
        self.matrix = matrix
        self.rows = rows
        self.starts = np.arange(0, len(matrix), rows, dtype=np.int64)

    def block(self, group: int) -> Matrix:
        start = group * self.rows
        return self.matrix[start : start + self.rows]


def load_processed(
    path: Path, transform: FeatureTransform, order: IntArray | None = None
) -> Matrix:
    """The matrix of the processed training split.

    With ``order`` (a permutation of the rows), row ``k`` of the result is row
    ``order[k]`` of the file. Rows are put in place while reading, a row group
    (``BATCH_ROWS``, as :func:`write_processed` writes them) at a time, so that
    a model can get slices of one matrix instead of copies.
    """
    processed = ProcessedFile(path, transform.output_columns)
    destination = np.arange(processed.n_rows)
    if order is not None:
        destination[order] = np.arange(processed.n_rows)
    matrix = np.empty((processed.n_rows, len(processed.columns)), dtype=np.float32)
    for group, start in enumerate(processed.starts):
        block = processed.block(group)
        matrix[destination[start : start + len(block)]] = block
    return matrix
