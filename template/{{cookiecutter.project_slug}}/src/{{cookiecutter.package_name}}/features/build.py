"""Stage ``features``: fit the transform on the training split and write it
(``models/transform.json``) with the training matrix (``data/processed``)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..data.schema import validate_frame
from ..data.tables import ParquetColumns, read_table
from ..params import Params
from .processed import BATCH_ROWS, processed_tables, write_processed
from .transform import FeatureTransform

logger = logging.getLogger(__name__)


def build_features(settings: Settings, params: Params) -> list[Path]:
    """Validate both splits, fit on train, write train's matrix and the transform."""
    data = params.data
    test_path, train_path = settings.test_file, settings.train_file
    scaler, min_share = params.features.scaler, params.features.min_category_share
    if data.engine == "dask":
        from ..data import dask_engine  # only here: dask takes seconds to import

        with dask_engine.cluster(params.dask):
            test = dask_engine.read_stage_file(test_path, "interim data")
            test.map(validate_frame, data, str(test_path)).check("features: test")
            train = dask_engine.read_stage_file(train_path, "interim data")
            train = train.map(validate_frame, data, str(train_path)).persist()
            train.check("features: train")
            # One column at a time from the file: the same numbers pandas sees.
            columns = ParquetColumns(train_path)
            transform = FeatureTransform.fit(columns, data, scaler, min_share)
            train.write(
                settings.processed_file,
                "features",
                lambda frame: processed_tables(transform, frame, data.target),
                BATCH_ROWS,
            )
    else:
        # The test split is only checked here: the transform learns from train alone.
        validate_frame(read_table(test_path, "interim data"), data, str(test_path))
        frame = validate_frame(
            read_table(train_path, "interim data"), data, str(train_path)
        )
        transform = FeatureTransform.fit(frame, data, scaler, min_share)
        write_processed(settings.processed_file, transform, frame, data.target)
    transform.save(settings.transform_file)
    logger.info(
        "Fitted the transform: %d numeric (%s scaling), %d categorical -> %d columns",
        len(transform.numeric),
        transform.scaler.kind,
        len(transform.encoders),
        len(transform.output_columns),
    )
    return [settings.processed_file, settings.transform_file]
