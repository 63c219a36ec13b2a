"""The feature transform: raw feature columns in, the model's matrix out.

Numeric columns are imputed with the training median, then scaled; categorical
columns are one-hot encoded with the categories seen in training, a missing
value being a category of its own. The fitted transform is one JSON file
(``models/transform.json``: readable, portable, no pickle) and one object that
training, evaluation, prediction, the API and the MLflow model all apply.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import category_strings
from ..errors import ConfigError, DataValidationError
from ..params import DataParams
from ..utils import atomic
from ..utils.arrays import FloatArray, Matrix

logger = logging.getLogger(__name__)

SCALER_KINDS = ("standard", "minmax", "none")
MISSING = "<missing>"
"""The category a missing value of a nullable categorical column falls into."""


class Scaler:
    """Affine per-column scaling ``(x - center) / scale``; invertible.

    ``standard`` centres on the mean and divides by the standard deviation,
    ``minmax`` maps the training range onto [0, 1], ``none`` is the identity.
    Constant columns get scale 1 so that the transform stays invertible.
    """

    def __init__(
        self,
        kind: str = "standard",
        center: list[float] | None = None,
        scale: list[float] | None = None,
    ) -> None:
        if kind not in SCALER_KINDS:
            raise ConfigError(
                f"Unknown scaler {kind!r}: use one of {', '.join(SCALER_KINDS)}."
            )
        self.kind = kind
        self.center = np.asarray(center or [], dtype=np.float64)
        self.scale = np.asarray(scale or [], dtype=np.float64)

    def fit(self, values: FloatArray) -> Scaler:
        """Learn centre and scale of every column of ``values``."""
        if self.kind == "standard":
            center, scale = values.mean(axis=0), values.std(axis=0)
        elif self.kind == "minmax":
            center = values.min(axis=0)
            scale = values.max(axis=0) - center
        else:
            center, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
        # A spread at the level of rounding error means a constant column.
        tiny = 64 * np.finfo(np.float64).eps * np.maximum(np.abs(center), 1.0)
        self.center = np.asarray(center, dtype=np.float64)
        self.scale = np.where(scale > tiny, scale, 1.0)
        return self

    def transform(self, values: FloatArray) -> FloatArray:
        """Scale ``values``; same shape."""
        return (values - self.center) / self.scale

    def inverse_transform(self, values: FloatArray) -> FloatArray:
        """Undo :meth:`transform`."""
        return values * self.scale + self.center


class CategoryEncoder:
    """One-hot encoding of one column over a fixed, ordered list of categories.

    A value outside the list (a category unseen in training) encodes to all
    zeros. ``MISSING`` stands for a missing value when it is in the list.
    """

    def __init__(self, categories: list[str]) -> None:
        self.categories = list(categories)

    @classmethod
    def fit(cls, values: pd.Series, nullable: bool) -> CategoryEncoder:
        """Categories seen in ``values``, sorted; ``MISSING`` last if nullable."""
        seen = sorted(set(category_strings(values).dropna().unique()) - {MISSING})
        return cls([*seen, MISSING] if nullable else seen)

    def codes(self, values: pd.Series) -> np.ndarray:
        """Position of each value in the categories; -1 where unseen."""
        text = category_strings(values)
        if MISSING in self.categories:
            text = text.fillna(MISSING)
        return np.asarray(pd.Index(self.categories).get_indexer(pd.Index(text)))

    def encode(self, values: pd.Series) -> Matrix:
        """An ``(n_rows, n_categories)`` matrix of zeros and ones."""
        matrix = np.zeros((len(values), len(self.categories)), dtype=np.float32)
        set_one_hot(matrix, self.codes(values))
        return matrix

    def decode(self, matrix: Matrix) -> list[str | None]:
        """The category of each one-hot row; None for an all-zero row."""
        return [
            self.categories[int(row.argmax())] if row.any() else None for row in matrix
        ]


def set_one_hot(block: Matrix, codes: np.ndarray) -> None:
    """Set ``block[row, code]`` to 1 for every row whose code is not -1."""
    known = np.flatnonzero(codes >= 0)
    block[known, codes[known]] = 1.0


class FeatureTransform:
    """Raw feature columns in, a float matrix out: imputation, scaling, one-hot."""

    def __init__(
        self,
        numeric: list[str],
        medians: list[float],
        scaler: Scaler,
        encoders: dict[str, CategoryEncoder],
    ) -> None:
        self.numeric = list(numeric)
        self.medians = np.asarray(medians, dtype=np.float64)
        self.scaler = scaler
        self.encoders = encoders

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, data: DataParams, scaler: str
    ) -> FeatureTransform:
        """Learn medians, scale and categories from the training rows ``frame``."""
        numeric = frame[data.numeric].to_numpy(dtype=np.float64, copy=True)
        missing = np.isnan(numeric)
        medians = np.array(
            [
                (
                    np.median(numeric[~missing[:, i], i])
                    if not missing[:, i].all()
                    else 0.0
                )
                for i in range(numeric.shape[1])
            ]
        )
        np.copyto(numeric, medians, where=missing)  # in place: one matrix, not two
        encoders = {
            name: CategoryEncoder.fit(frame[name], data.features[name].nullable)
            for name in data.categorical
        }
        return cls(
            data.numeric, medians.tolist(), Scaler(scaler).fit(numeric), encoders
        )

    @property
    def input_columns(self) -> list[str]:
        """The raw columns the transform reads."""
        return [*self.numeric, *self.encoders]

    @property
    def output_columns(self) -> list[str]:
        """Names of the matrix's columns: numeric ones, then ``column=category``."""
        one_hot = [
            f"{name}={category}"
            for name, encoder in self.encoders.items()
            for category in encoder.categories
        ]
        return [*self.numeric, *one_hot]

    def transform(self, frame: pd.DataFrame) -> Matrix:
        """The model's input matrix for the raw rows ``frame``.

        Numeric columns are imputed and scaled in float64, one at a time, and
        stored as float32, so a large table needs little memory beyond the
        result.
        """
        missing = [name for name in self.input_columns if name not in frame.columns]
        if missing:
            raise DataValidationError(
                f"The rows lack the feature column(s) {', '.join(map(repr, missing))}."
            )
        matrix = np.zeros((len(frame), len(self.output_columns)), dtype=np.float32)
        for i, name in enumerate(self.numeric):
            values = frame[name].to_numpy(dtype=np.float64)
            values = np.where(np.isnan(values), self.medians[i], values)
            matrix[:, i] = (values - self.scaler.center[i]) / self.scaler.scale[i]
        start = len(self.numeric)
        for name, encoder in self.encoders.items():
            codes = encoder.codes(frame[name])
            unseen = int((codes < 0).sum())
            if unseen:
                logger.info(
                    "Column %r: %d value(s) of categories unseen in training "
                    "encoded as all zeros",
                    name,
                    unseen,
                )
            stop = start + len(encoder.categories)
            set_one_hot(matrix[:, start:stop], codes)
            start = stop
        return matrix

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted transform, as JSON types."""
        return {
            "numeric": {
                "columns": self.numeric,
                "medians": self.medians.tolist(),
                "scaler": self.scaler.kind,
                "center": self.scaler.center.tolist(),
                "scale": self.scaler.scale.tolist(),
            },
            # A list, not a mapping: JSON keys are sorted, the column order is not.
            "categorical": [
                {"column": name, "categories": encoder.categories}
                for name, encoder in self.encoders.items()
            ],
            "output_columns": self.output_columns,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FeatureTransform:
        """Rebuild a transform written by :meth:`to_dict`."""
        numeric = payload["numeric"]
        scaler = Scaler(numeric["scaler"], numeric["center"], numeric["scale"])
        encoders = {
            entry["column"]: CategoryEncoder(entry["categories"])
            for entry in payload["categorical"]
        }
        return cls(numeric["columns"], numeric["medians"], scaler, encoders)

    def save(self, path: Path) -> None:
        """Write the fitted transform as JSON, atomically."""
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> FeatureTransform:
        """Read a transform written by :meth:`save`."""
        if not path.is_file():
            raise ConfigError(
                f"Feature transform {path} does not exist: run the features stage."
            )
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def check_transform_matches(transform: FeatureTransform, data: DataParams) -> None:
    """Refuse a transform fitted for other feature columns than ``data``'s."""
    if transform.input_columns != [*data.numeric, *data.categorical]:
        raise ConfigError(
            "models/transform.json was fitted for other feature columns than "
            "columns.yaml: run the features stage again."
        )
