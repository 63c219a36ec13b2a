"""The Dask engine of the data stages (``data.engine: dask``): a table as
pandas partitions that Dask computes, on a local cluster or on the one at
``DASK_SCHEDULER_ADDRESS``.

A stage applies to each partition the same pandas code that the pandas engine
applies to the whole table, and writes the same files, byte for byte: the
rows arrive at this process a partition at a time and leave it as row groups
of one Parquet file, so no machine holds the whole table. What pandas decides
from a whole column (whether text read from a CSV file is numbers, whether
numbers are whole) is decided once over all partitions before any of them is
validated (:func:`settle_types`). Rows keep their position in the whole table
as their index, so messages name the rows a person counts.

With an existing cluster, the workers read the files the stage names: the
project folder must be on a file system they share (as on an HPC cluster), or
the source in object storage.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import dask
import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dask.base import compute
from dask.delayed import Delayed, delayed
from dask.utils import format_bytes
from distributed import Client, LocalCluster, get_client
from pandas.api.types import is_float_dtype

from ..errors import ConfigError, DataValidationError, PipelineError
from ..params import DaskParams, DataParams
from ..utils.arrays import IntArray
from . import tables
from .dialect import TextFormat
from .sources import get_source, missing_object
from .tables import (
    arrow_table,
    check_distinct_names,
    check_exists,
    write_tables,
)

logger = logging.getLogger(__name__)

SCHEDULER_ADDRESS = "DASK_SCHEDULER_ADDRESS"
"""The environment variable naming an existing scheduler (``tcp://host:8786``)."""
MEMORY_LIMIT = "DASK_MEMORY_LIMIT"
"""The environment variable that overrides ``dask.memory_limit``."""
DASHBOARD = "127.0.0.1:8787"
"""Where a local cluster serves its dashboard (another port if taken)."""
PROGRESS_SECONDS = 10.0
"""Seconds between two progress lines of a long computation."""
TRUE_TEXT = ("True", "TRUE", "true")
FALSE_TEXT = ("False", "FALSE", "false")
"""What pandas reads as booleans from a CSV file."""
AHEAD_PER_THREAD = 2
"""Partitions computed ahead of the one being written, per worker thread."""
START_METHOD = (
    {"distributed.worker.multiprocessing-method": "forkserver"}
    if "forkserver" in multiprocessing.get_all_start_methods()
    else {}
)
"""Local workers are forked from one process that has imported pandas and
Dask once: faster to start and to stop than workers that each start a fresh
interpreter (Dask's default, spawn), and as safe, as that process runs no
threads. Windows has spawn alone."""


@contextmanager
def cluster(params: DaskParams) -> Iterator[Client]:
    """A client of the scheduler at ``DASK_SCHEDULER_ADDRESS``, else of a
    local cluster that spills to a temporary folder beyond its memory limit."""
    # Partitions hold text as pandas reads it, not as Dask's Arrow strings.
    # The cluster's start and stop are many lines of no interest here.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    with dask.config.set({"dataframe.convert-string": False, **START_METHOD}):
        address = os.environ.get(SCHEDULER_ADDRESS)
        if address:
            try:
                client = Client(address)  # waits distributed.comm.timeouts.connect
            except (OSError, TimeoutError) as exc:
                raise ConfigError(
                    f"No Dask scheduler answers at {address} ({SCHEDULER_ADDRESS}): "
                    f"{exc}"
                ) from None
            with client:
                workers = client.scheduler_info()["workers"]
                logger.info(
                    "Dask: the scheduler at %s with %d worker(s); dashboard %s",
                    address,
                    len(workers),
                    client.dashboard_link,
                )
                yield client
            return
        limit = os.environ.get(MEMORY_LIMIT) or params.memory_limit
        with tempfile.TemporaryDirectory(prefix="dask-") as spill:
            try:
                # One thread a worker: pandas holds the GIL for most of its
                # work, so processes run partitions side by side, and a
                # worker's memory limit is for one partition at a time.
                local = LocalCluster(
                    n_workers=params.workers,
                    threads_per_worker=1,
                    memory_limit=limit,
                    local_directory=spill,
                    host="127.0.0.1",
                    dashboard_address=DASHBOARD,
                )
            except ValueError as exc:
                raise ConfigError(
                    f"Cannot start a local Dask cluster with memory_limit {limit!r} "
                    f"(dask.memory_limit in params.yaml or {MEMORY_LIMIT}): {exc}"
                ) from None
            with local, Client(local) as client:
                workers = client.scheduler_info()["workers"].values()
                logger.info(
                    "Dask: a local cluster of %d worker(s) with %s of memory each, "
                    "spilling to disk beyond; dashboard %s",
                    len(workers),
                    format_bytes(min(worker["memory_limit"] for worker in workers)),
                    client.dashboard_link,
                )
                yield client


@dataclass(frozen=True)
class Partitioned:
    """A table as partitions that Dask computes: ``parts[i]`` is a pandas
    frame of ``lengths[i]`` rows, indexed by their positions in the table."""

    parts: list[Delayed]
    lengths: list[int]

    @property
    def n_rows(self) -> int:
        return sum(self.lengths)

    @property
    def offsets(self) -> IntArray:
        """The position of each partition's first row."""
        return np.cumsum([0, *self.lengths[:-1]]).astype(np.int64)

    def map(self, function: Callable[..., pd.DataFrame], *args: Any) -> Partitioned:
        """``function(partition, *args)`` of each partition, a frame of the same
        rows (validation)."""
        parts = [delayed(plainly)(function, part, *args) for part in self.parts]
        return Partitioned(parts, self.lengths)

    def take(self, positions: IntArray) -> Partitioned:
        """The rows at ``positions`` (ascending) of the table, in that order."""
        bounds = np.searchsorted(positions, [*self.offsets, self.n_rows])
        parts = [
            delayed(take_rows)(part, positions[low:high] - offset)
            for part, offset, low, high in zip(
                self.parts, self.offsets, bounds[:-1], bounds[1:]
            )
        ]
        return Partitioned(parts, np.diff(bounds).tolist())

    def column(self, name: str) -> pd.Series:
        """The whole column ``name``, brought to this process."""
        column: pd.Series = pd.concat(  # a table has one partition or more
            in_order([delayed(select)(part, name) for part in self.parts], name)
        )
        return column

    def persist(self) -> Partitioned:
        """The table computed once and kept by the cluster (spilled to disk
        beyond its memory), for a stage that reads it more than once."""
        return Partitioned(get_client().persist(self.parts), self.lengths)

    def collect(self) -> pd.DataFrame:
        """The whole table, brought to this process (a small one)."""
        frame: pd.DataFrame = pd.concat(compute(*self.parts))
        return frame

    def each(
        self, function: Callable[..., Any], what: str, *args: Any
    ) -> Iterator[Any]:
        """``function(partition, *args)`` of each partition, brought to this
        process in order (a few at a time: a worker gathering every result at
        once can run out of memory)."""
        parts = [delayed(plainly)(function, part, *args) for part in self.parts]
        return in_order(parts, what)

    def reduce(self, function: Callable[[pd.DataFrame], Any], what: str) -> list[Any]:
        """``function`` of each partition, in order (:meth:`each`)."""
        return list(self.each(function, what))

    def check(self, what: str) -> None:
        """Compute every partition, for the errors it raises (validation)."""
        for _ in in_order(self.parts, what):
            pass

    def write(
        self,
        path: Path,
        what: str,
        to_tables: Callable[[pd.DataFrame], Iterable[pa.Table]] | None = None,
        row_group_rows: int | None = None,
    ) -> int:
        """Write the partitions, or the tables ``to_tables`` makes of each, as
        one Parquet file, as :func:`~.tables.write_tables` writes them; return
        the number of rows written."""
        convert = to_tables or (lambda frame: [arrow_table(frame)])
        parts = [
            delayed(plainly)(lambda part: list(convert(part)), part)
            for part in self.parts
        ]
        return write_tables(
            path,
            (table for part in in_order(parts, what) for table in part),
            row_group_rows,
        )


def plainly(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, its pipeline errors raised without their causes:
    a worker sends an error back pickled, and a cause (pandera's report of
    failures) may not unpickle, leaving bytes where the message should be."""
    try:
        return function(*args)
    except PipelineError as exc:
        error = type(exc)(str(exc))
    raise error


def take_rows(frame: pd.DataFrame, positions: IntArray) -> pd.DataFrame:
    """The rows at ``positions`` of ``frame``."""
    return frame.iloc[positions]


def select(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column ``name`` of ``frame``."""
    return frame[name]


def in_order(parts: list[Delayed], what: str) -> Iterator[Any]:
    """The results of ``parts``, computed by the cluster and handed over in
    order, one at a time; a line of progress every :data:`PROGRESS_SECONDS`
    for a long computation.

    At most :data:`AHEAD_PER_THREAD` partitions per worker thread are asked
    for ahead of the one handed over: results computed far ahead of a slower
    writer would fill the workers' memory until they paused, waiting for
    memory that only the partition they were not computing could free.
    """
    client = get_client()
    ahead = AHEAD_PER_THREAD * max(sum(client.nthreads().values()), 1)
    futures = deque(client.compute(parts[:ahead]))
    started = last = time.monotonic()
    for done in range(1, len(parts) + 1):
        future = futures.popleft()
        if done - 1 + ahead < len(parts):
            futures.append(client.compute(parts[done - 1 + ahead]))
        yield future.result()
        future.release()
        now = time.monotonic()
        if now - last >= PROGRESS_SECONDS and done < len(parts):
            logger.info(
                "%s: %d of %d partitions done (%.0f s)",
                what,
                done,
                len(parts),
                now - started,
            )
            last = now


def read_source(
    data: DataParams, project_root: Path, text: TextFormat, blocksize: str
) -> tuple[Partitioned, list[str]]:
    """The table ``data.source`` names, typed as the pandas engine reads it,
    and the names of its columns."""
    source = get_source(data.source, data.target, project_root, text)
    location = getattr(source, "location", None)
    if location is None or PurePosixPath(location).suffix.lower() == ".xlsx":
        frame = source.load()  # a bundled table or a sheet: in memory anyway
        floats = {name for name in frame.columns if is_float_dtype(frame[name])}
        table = settle_typed(from_frame(frame), data, floats)
        return table, [str(name) for name in frame.columns]
    try:
        if PurePosixPath(location).suffix.lower() == ".parquet":
            schema = parquet_schema(location)
            floats = {f.name for f in schema if pa.types.is_floating(f.type)}
            return settle_typed(read_parquet(location), data, floats), schema.names
        return read_csv(location, data, text, blocksize)
    except FileNotFoundError:
        raise missing_object(location, "Data source") from None


def read_parquet(location: str) -> Partitioned:
    """A Parquet file (a path or a URL), a row group per partition."""
    with fsspec.open(location, "rb") as handle:
        metadata = pq.ParquetFile(handle).metadata
    lengths = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    parts = [delayed(read_row_group)(location, i) for i in range(len(lengths))]
    return Partitioned(parts, lengths)


def read_stage_file(path: Path, what: str) -> Partitioned:
    """A Parquet file an earlier stage wrote, each row indexed by position."""
    check_exists(path, what)
    return with_positions(read_parquet(str(path)))


def parquet_schema(location: str) -> pa.Schema:
    """The schema of the Parquet file at ``location``."""
    with fsspec.open(location, "rb") as handle:
        return pq.ParquetFile(handle).schema_arrow


def read_row_group(location: str, group: int) -> pd.DataFrame:
    """Row group ``group`` of the Parquet file at ``location``."""
    with fsspec.open(location, "rb") as handle:
        frame: pd.DataFrame = pq.ParquetFile(handle).read_row_group(group).to_pandas()
    return frame


def read_csv(
    location: str, data: DataParams, text: TextFormat, blocksize: str
) -> tuple[Partitioned, list[str]]:
    """A CSV file (a path or a URL) in blocks of ``blocksize`` bytes.

    Numbers are read as numbers; text that pandas would read as numbers or
    booleans (categories, class labels) is read as text here and given the
    type pandas would give the whole column by :func:`settle_types`.
    """
    with fsspec.open(location, "rt", encoding=text.encoding, newline="") as handle:
        header = pd.read_csv(handle, sep=text.delimiter, nrows=0).columns
    check_distinct_names([str(name) for name in header], location, "data source")
    numbers = [*data.numeric, *([data.target] if data.task == "regression" else [])]
    # `str` is the type pandas itself gives text (object, or its string type).
    types = {
        name: np.float64 if name in numbers else str
        for name in [*data.features, data.target]
        if name in header
    }
    # Only the described columns: another one (notes, ids) is dropped anyway,
    # and its type could differ from block to block.
    import dask.dataframe as dd  # only here: the import takes a second

    frame = dd.read_csv(
        location,
        sep=text.delimiter,
        encoding=text.encoding,
        decimal=text.decimal,
        blocksize=blocksize,
        usecols=list(types),
        dtype=types,
    )
    parts = frame.to_delayed()
    try:
        table = settle_types(Partitioned(parts, [0] * len(parts)), settled(data))
        return table, list(header)
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"source {data.source} is not {text.encoding} text (the byte at "
            f"position {exc.start} of a block cannot be read): set data.encoding "
            "in params.yaml to the file's encoding, or save it as 'CSV UTF-8'."
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise DataValidationError(
            f"source {data.source} cannot be read as columns.yaml describes it: "
            f"{detail}. A numeric column that holds text must be fixed in the file "
            "or described as categorical."
        ) from None


def from_frame(frame: pd.DataFrame) -> Partitioned:
    """A table already in memory (a bundled table, an Excel sheet), typed by
    pandas over all its rows, in partitions of :data:`~.tables.ROW_GROUP_ROWS`
    rows."""
    rows = tables.ROW_GROUP_ROWS
    slices = [frame.iloc[at : at + rows] for at in range(0, max(len(frame), 1), rows)]
    parts = [delayed(part) for part in slices]
    return Partitioned(parts, [len(part) for part in slices])


def profile(frame: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """What pandas would decide from these rows alone: for each of ``names``,
    whether its present values are all numbers, all whole numbers, all
    booleans written as text, and whether none is missing."""
    found: dict[str, Any] = {"rows": len(frame)}
    for name in names:
        values = frame[name]
        present = values.dropna()
        numbers = (
            present
            if pd.api.types.is_numeric_dtype(present)
            else pd.to_numeric(present, errors="coerce")
        )
        is_number = bool(numbers.notna().all()) and not pd.api.types.is_bool_dtype(
            present
        )
        whole = is_number and bool(
            (np.isfinite(numbers) & (numbers == np.floor(numbers))).all()
        )
        found[name] = {
            "number": is_number,
            "whole": whole,
            "boolean": not pd.api.types.is_numeric_dtype(present)
            and bool(present.isin([*TRUE_TEXT, *FALSE_TEXT]).all()),
            "complete": len(present) == len(values),
        }
    return found


def settled(data: DataParams) -> list[str]:
    """The columns whose values validation writes as text by their type: the
    categorical columns and the class labels."""
    names = [*data.categorical]
    if data.task == "classification":
        names.append(data.target)
    return names


def settle_typed(table: Partitioned, data: DataParams, floats: set[str]) -> Partitioned:
    """A typed table (Parquet, a table in memory) keeps its types, as pandas
    keeps them: only its :func:`settled` columns of ``floats`` are settled
    (whole in one partition, not in another), and without any no pass over
    the rows is made."""
    names = [name for name in settled(data) if name in floats]
    return settle_types(table, names) if names else with_positions(table)


def settle_types(table: Partitioned, names: list[str]) -> Partitioned:
    """Give each of the columns ``names`` the type pandas would give the whole
    column, and each row its position as index (partitions of unknown length,
    as read from a CSV file, get theirs here).

    pandas reads a column of whole numbers written as text as integers (as
    floats when some are missing), of other numbers as floats, of
    ``True``/``False`` as booleans; validation then writes categories from
    those types, and floats whole in one partition but not in another as
    other text. Each partition alone could decide otherwise.
    """
    found = table.reduce(
        lambda frame: profile(frame, [n for n in names if n in frame]), "profile"
    )
    lengths = [part["rows"] for part in found]
    forms = {}
    for name in names:
        parts = [part[name] for part in found if name in part]
        if not parts:
            continue
        every = {key: all(part[key] for part in parts) for key in parts[0]}
        if every["number"]:
            whole = every["whole"]
            forms[name] = (
                "int"
                if whole and every["complete"]
                else ("float" if whole else "float-text")
            )
        elif every["boolean"]:
            forms[name] = "boolean"
    offsets = np.cumsum([0, *lengths[:-1]]).tolist()
    parts = [
        delayed(settle)(part, forms, offset)
        for part, offset in zip(table.parts, offsets)
    ]
    return Partitioned(parts, lengths)


def settle(frame: pd.DataFrame, forms: dict[str, str], offset: int) -> pd.DataFrame:
    """``frame``'s columns in the types ``forms`` names, its index the rows'
    positions from ``offset``."""
    columns = {}
    for name, form in forms.items():
        values = frame[name]
        if form == "boolean":
            flags = values.map(as_boolean)
            columns[name] = flags.astype(bool) if flags.notna().all() else flags
            continue
        numbers = pd.to_numeric(values)
        if form == "int":
            columns[name] = numbers.astype(np.int64)
        elif form == "float":
            columns[name] = numbers.astype(np.float64)
        else:  # not all whole: the floats' text, as validation writes a whole column's
            columns[name] = numbers.astype(np.float64).astype("string")
    frame = frame.assign(**columns) if columns else frame.copy()
    frame.index = pd.RangeIndex(offset, offset + len(frame))
    return frame


def as_boolean(value: object) -> object:
    """True or False for text pandas reads as a boolean; missing stays missing."""
    return value in TRUE_TEXT if isinstance(value, str) else value


def with_positions(table: Partitioned) -> Partitioned:
    """``table`` with each row's position as its index."""
    parts = [
        delayed(settle)(part, {}, offset)
        for part, offset in zip(table.parts, table.offsets.tolist())
    ]
    return Partitioned(parts, table.lengths)
