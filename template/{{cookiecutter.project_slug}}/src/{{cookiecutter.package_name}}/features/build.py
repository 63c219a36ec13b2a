"""Stage ``features``: fit the transform on the training split and write it
(``models/transform.json``) with the training matrix (``data/processed``)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..data.schema import validate_frame
from ..data.tables import read_table
from ..params import Params
from .processed import write_processed
from .transform import FeatureTransform

logger = logging.getLogger(__name__)


def build_features(settings: Settings, params: Params) -> list[Path]:
    """Validate both splits, fit on train, write train's matrix and the transform."""
    data = params.data
    test_path, train_path = settings.test_file, settings.train_file
    # The test split is only checked here: the transform learns from train alone.
    validate_frame(read_table(test_path, "interim data"), data, str(test_path))
    train = validate_frame(
        read_table(train_path, "interim data"), data, str(train_path)
    )
    transform = FeatureTransform.fit(
        train, data, params.features.scaler, params.features.min_category_share
    )
    write_processed(settings.processed_file, transform, train, data.target)
    transform.save(settings.transform_file)
    logger.info(
        "Fitted the transform: %d numeric (%s scaling), %d categorical -> %d columns",
        len(transform.numeric),
        transform.scaler.kind,
        len(transform.encoders),
        len(transform.output_columns),
    )
    return [settings.processed_file, settings.transform_file]
