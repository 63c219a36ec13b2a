"""Command ``sample``: rows of the held-out test split, without the target, to
try ``predict`` and ``monitor`` on.

The rows are drawn with the project's seed, so the same split gives the same
file, and keep the split's order. They go to a file outside the pipeline's
folders (``samples/new_rows.csv`` by default, ignored by git). A ``.json``
file gets the body of a request to the API, ``{"rows": [...]}`` with the
feature columns only, for ``curl -d @samples/request.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import ConfigError
from ..params import Params
from ..utils import atomic
from .formats import TABLE_SUFFIXES, check_table_path
from .tables import read_table, write_table

SAMPLE_SUFFIXES = (*TABLE_SUFFIXES, ".json")

logger = logging.getLogger(__name__)


def sample(settings: Settings, params: Params, rows: int, destination: Path) -> Path:
    """Write ``rows`` rows of the test split, less the target column, to
    ``destination``: CSV or Parquet, or an API request body (``.json``)."""
    check_table_path(destination, "Output", SAMPLE_SUFFIXES)
    if rows < 1:
        raise ConfigError(f"The number of rows must be at least 1, not {rows}.")
    test = read_table(settings.test_file, "The test split")
    if rows > len(test):
        raise ConfigError(
            f"The test split {settings.test_file} has {len(test)} rows: ask for "
            f"at most {len(test)}."
        )
    picked = np.sort(
        np.random.default_rng(params.seed).choice(len(test), rows, replace=False)
    )
    chosen = test.iloc[picked].drop(columns=[params.data.target], errors="ignore")
    if destination.suffix.lower() == ".json":
        features = chosen[list(params.data.features)]
        # NaN as null, dates as ISO 8601 text.
        records = json.loads(features.to_json(orient="records", date_format="iso"))
        atomic.write_text(destination, json.dumps({"rows": records}, indent=2) + "\n")
    else:
        write_table(destination, chosen.reset_index(drop=True))
    logger.info("Wrote %d row(s) of the test split to %s", rows, destination)
    return destination
