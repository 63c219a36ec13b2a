"""Stage ``prepare``: validate the raw snapshot and split it into
``data/interim/{train,test}.parquet`` (stratified by class for classification)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..params import Params
from .checks import check_split, check_table, report
from .schema import validate_frame
from .split import split_frame
from .tables import read_table, write_parquet

logger = logging.getLogger(__name__)


def prepare(settings: Settings, params: Params) -> tuple[Path, Path]:
    """Validate the raw snapshot and write a reproducible train/test split."""
    data = params.data
    raw_path = settings.raw_file
    frame = validate_frame(read_table(raw_path, "raw data"), data, str(raw_path))
    train, test = split_frame(frame, data, params.seed)
    report([*check_table(frame, data), *check_split(train, test)], data, "Data checks")
    write_parquet(settings.train_file, train)
    write_parquet(settings.test_file, test)
    logger.info(
        "Split %d rows into %d train, %d test", len(frame), len(train), len(test)
    )
    return settings.train_file, settings.test_file
