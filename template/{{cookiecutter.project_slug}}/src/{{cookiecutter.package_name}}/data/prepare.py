"""Stage ``prepare``: validate the raw snapshot and split it into
``data/interim/{train,test}.parquet`` (stratified by class for classification)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Settings
from ..params import Params
from .checks import (
    check_split,
    check_table,
    copied_rows,
    report,
    sample_rows,
)
from .schema import validate_frame
from .split import row_hashes, split_frame, split_indices
from .tables import read_table, write_parquet

logger = logging.getLogger(__name__)


def prepare(settings: Settings, params: Params) -> tuple[Path, Path]:
    """Validate the raw snapshot and write a reproducible train/test split."""
    data = params.data
    raw_path = settings.raw_file
    if data.engine == "dask":
        from . import dask_engine  # only here: dask takes seconds to import

        with dask_engine.cluster(params.dask):
            raw = dask_engine.read_stage_file(raw_path, "raw data")
            raw = raw.map(validate_frame, data, str(raw_path)).persist()
            labels = None
            if data.task == "classification":
                labels = raw.column(data.target).to_numpy()
            train_rows, test_rows = split_indices(
                labels, raw.n_rows, data.test_size, params.seed
            )
            train, test = raw.take(train_rows), raw.take(test_rows)
            sample = sample_rows(raw.n_rows)
            checked = raw.take(np.sort(sample)).collect().loc[sample]
            report(
                [
                    *check_table(checked, data),
                    *copied_rows(
                        pd.concat(train.reduce(row_hashes, "prepare: train")),
                        pd.concat(test.reduce(row_hashes, "prepare: test")),
                    ),
                ],
                data,
                "Data checks",
            )
            n_train = train.write(settings.train_file, "prepare: train")
            n_test = test.write(settings.test_file, "prepare: test")
        n_rows = raw.n_rows
    else:
        frame = validate_frame(read_table(raw_path, "raw data"), data, str(raw_path))
        train_frame, test_frame = split_frame(frame, data, params.seed)
        report(
            [*check_table(frame, data), *check_split(train_frame, test_frame)],
            data,
            "Data checks",
        )
        write_parquet(settings.train_file, train_frame)
        write_parquet(settings.test_file, test_frame)
        n_rows, n_train, n_test = len(frame), len(train_frame), len(test_frame)
    logger.info("Split %d rows into %d train, %d test", n_rows, n_train, n_test)
    return settings.train_file, settings.test_file
