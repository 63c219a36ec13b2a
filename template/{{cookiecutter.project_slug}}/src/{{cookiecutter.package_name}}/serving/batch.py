"""Command ``predict``: score a file of raw rows into another file.

The paths are checked before anything heavy is imported: a wrong path fails
at once, not after the seconds that pandas, the model's framework and, for a
registered model, MLflow take to load.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..data.formats import INPUT_SUFFIXES, check_table_path, is_remote
from ..errors import ConfigError, DataValidationError
from ..params import Params
from ..tracking.signature import column_mismatch

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from ..modeling.predictor import Predictor

logger = logging.getLogger(__name__)


def check_paths(source: str, destination: Path) -> None:
    """Refuse a missing input file, or a file name of a format that is not
    read (input) or written (output). An input in object storage is checked
    when it is read."""
    check_table_path(source, "Input", INPUT_SUFFIXES)
    check_table_path(destination, "Output")
    if not is_remote(source) and not Path(source).is_file():
        raise ConfigError(f"Input file {source} does not exist.")


def predict_file(
    settings: Settings,
    params: Params,
    source: str,
    destination: Path,
    model_uri: str | None = None,
) -> int:
    """Score every row of ``source`` (a path, or a URL such as ``s3://...``)
    into ``destination``: its columns, then the prediction columns. A Parquet
    input is read, scored and written a row group at a time. Nothing is
    written when a row is invalid, or when ``source`` lacks a column the model
    was trained on. Returns the number of rows scored."""
    check_paths(source, destination)
    from ..data.sources import location_parts
    from ..data.tables import write_frames
    from .loading import load_predictor

    predictor = load_predictor(settings, params, model_uri)
    with location_parts(source, "Input") as parts:
        scored = scored_parts(predictor, params, parts, source)
        written = write_frames(destination, scored)
    logger.info("Wrote %d prediction(s) to %s", written, destination)
    return written


def scored_parts(
    predictor: Predictor, params: Params, parts: Iterator[pd.DataFrame], source: str
) -> Iterator[pd.DataFrame]:
    """Each part of the input with its prediction columns beside it."""
    import pandas as pd

    for index, rows in enumerate(parts):
        names = [str(name) for name in rows.columns]
        mismatch = column_mismatch(predictor.params.data, names, params.data)
        if mismatch:  # the same in every part: the first one stops here
            raise DataValidationError(
                f"Input {source} does not fit the model {predictor.uri}: {mismatch}."
            )
        predictions = predictor.predict(rows, f"Input {source}")
        clashes = [name for name in predictions.columns if name in rows.columns]
        if clashes:
            raise DataValidationError(
                f"Input {source} already has the column(s) "
                f"{', '.join(map(repr, clashes))} that predict writes: rename them."
            )
        yield pd.concat([rows, predictions], axis=1)
