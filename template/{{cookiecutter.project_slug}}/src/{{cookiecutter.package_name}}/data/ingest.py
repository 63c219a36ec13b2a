"""Stage ``ingest``: read the configured source, keep the described columns,
validate them and write the raw snapshot ``data/raw/dataset.parquet``.

A file source must be the stage's dependency in ``dvc.yaml`` (see
:mod:`.versioning`), or ``dvc repro`` would not see it change."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..params import Params
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
    frame = get_source(data.source, data.target, settings.project_root, text).load()
    ignored = [
        str(c) for c in frame.columns if c != data.target and c not in data.features
    ]
    frame = validate_frame(frame, data, f"source {data.source}", strict="filter")
    if ignored:
        logger.info("Ignored columns not in columns.yaml: %s", ", ".join(ignored))
    path = settings.raw_file
    columns = [*data.features, data.target]
    write_parquet(path, frame if list(frame.columns) == columns else frame[columns])
    logger.info("Wrote %d rows x %d columns to %s", *frame.shape, path)
    return path
