"""Targets as the models learn them: class positions or float values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataValidationError
from ..params import DataParams
from ..utils.arrays import IntArray

MAX_UNKNOWN = 3


def encode_labels(target: pd.Series, data: DataParams) -> IntArray:
    """Map each class label to its position in ``data.classes`` (0, 1, ...)."""
    codes = pd.Index(data.labels).get_indexer(pd.Index(target))
    if (codes < 0).any():
        unknown = sorted({str(v) for v in target[codes < 0].head(MAX_UNKNOWN)})
        raise DataValidationError(
            f"Column {data.target!r} holds label(s) outside data.classes "
            f"{data.labels}, e.g. {', '.join(unknown)}."
        )
    return np.asarray(codes, dtype=np.int64)


def encode_targets(target: pd.Series, data: DataParams) -> np.ndarray:
    """Class positions (int64) for classification, float64 values for regression."""
    if data.task == "classification":
        return encode_labels(target, data)
    return target.to_numpy(dtype=np.float64)
