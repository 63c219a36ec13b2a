"""Command ``predict``: score a file of raw rows into another file."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..config import Settings
from ..data.tables import check_table_path, read_table, write_table
from ..errors import DataValidationError
from ..params import Params
from .loading import load_predictor

logger = logging.getLogger(__name__)


def predict_file(
    settings: Settings,
    params: Params,
    source: Path,
    destination: Path,
    model_uri: str | None = None,
) -> pd.DataFrame:
    """Score every row of ``source`` into ``destination``: its columns, then
    the prediction columns. Nothing is written when a row is invalid."""
    check_table_path(source, "Input")
    check_table_path(destination, "Output")
    predictor = load_predictor(settings, params, model_uri)
    rows = read_table(source, "Input")
    predictions = predictor.predict(rows, f"Input {source}")
    clashes = [name for name in predictions.columns if name in rows.columns]
    if clashes:
        raise DataValidationError(
            f"Input {source} already has the column(s) "
            f"{', '.join(map(repr, clashes))} that predict writes: rename them."
        )
    result = pd.concat([rows, predictions], axis=1)
    write_table(destination, result)
    logger.info("Wrote %d prediction(s) to %s", len(result), destination)
    return result
