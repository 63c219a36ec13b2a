"""Stage ``ingest``: read the configured source, keep the described columns,
validate them and write the raw snapshot ``data/raw/dataset.parquet``.

A file source must be the stage's dependency in ``dvc.yaml`` (see
:mod:`.versioning`), or ``dvc repro`` would not see it change."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..config import Settings
from ..params import DataParams, Params
from .dialect import TextFormat
from .schema import validate_frame
from .sources import SOURCES, get_source
from .tables import write_parquet
from .versioning import check_source_declared

logger = logging.getLogger(__name__)


def ingest(settings: Settings, params: Params) -> Path:
    """Load the configured source, keep the described columns, validate, snapshot."""
    data = params.data
    if data.source not in SOURCES:
        check_source_declared(settings, data.source, data.target)
    text = TextFormat(data.delimiter, data.encoding, data.decimal)
    path = settings.raw_file
    columns = [*data.features, data.target]
    what = f"source {data.source}"
    if data.engine == "dask":
        from . import dask_engine  # only here: dask takes seconds to import

        with dask_engine.cluster(params.dask):
            table, found = dask_engine.read_source(
                data, settings.project_root, text, params.dask.blocksize
            )
            log_ignored(found, data)
            rows = table.map(keep_valid, data, what).write(path, "ingest")
    else:
        frame = get_source(data.source, data.target, settings.project_root, text).load()
        log_ignored(list(frame.columns), data)
        frame = keep_valid(frame, data, what)
        rows = len(frame)
        write_parquet(path, frame)
    logger.info("Wrote %d rows x %d columns to %s", rows, len(columns), path)
    return path


def keep_valid(frame: pd.DataFrame, data: DataParams, what: str) -> pd.DataFrame:
    """The described columns of ``frame``, in order, validated."""
    frame = validate_frame(frame, data, what, strict="filter")
    columns = [*data.features, data.target]
    return frame if list(frame.columns) == columns else frame[columns]


def log_ignored(columns: list[str], data: DataParams) -> None:
    """Say which columns of the source columns.yaml does not describe."""
    ignored = [str(c) for c in columns if c != data.target and c not in data.features]
    if ignored:
        logger.info("Ignored columns not in columns.yaml: %s", ", ".join(ignored))
