"""The feature transform, fitted on the training split only.

Numeric columns are imputed with the training median, then scaled; categorical
columns are one-hot encoded with the categories seen in training, a missing
value being a category of its own. Stage ``features`` fits the transform,
writes it to ``models/transform.json`` (plain JSON: readable, portable, no
pickle) and the model-ready training split to ``data/processed``. Evaluation
and prediction load the same file and apply the same :class:`FeatureTransform`
to raw rows.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import atomic
from .config import Settings
from .data import TEST_FILE, TRAIN_FILE, encode_labels, read_table
from .errors import ConfigError, DataValidationError
from .interfaces import FloatArray, IntArray, Matrix
from .params import DataParams, Params
from .schema import category_strings, validate_frame

logger = logging.getLogger(__name__)

TRANSFORM_FILE = "transform.json"
SCALER_KINDS = ("standard", "minmax", "none")
BATCH_ROWS = 16_384
"""Rows transformed, written or read at a time by the processed-data files."""
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
            "data.features in params.yaml: run the features stage again."
        )


def model_inputs(
    frame: pd.DataFrame, transform: FeatureTransform, data: DataParams
) -> tuple[Matrix, np.ndarray]:
    """Matrix and encoded targets (class positions or values) of validated rows."""
    return transform.transform(frame), encode_targets(frame[data.target], data)


def encode_targets(target: pd.Series, data: DataParams) -> np.ndarray:
    """Class positions (int64) for classification, float64 values for regression."""
    if data.task == "classification":
        return encode_labels(target, data)
    return target.to_numpy(dtype=np.float64)


def build_features(settings: Settings, params: Params) -> list[Path]:
    """Stage ``features``: validate both splits, fit on train, write train's matrix."""
    data = params.data
    test_path, train_path = (
        settings.interim_dir / TEST_FILE,
        settings.interim_dir / TRAIN_FILE,
    )
    # The test split is only checked here: the transform learns from train alone.
    validate_frame(read_table(test_path, "interim data"), data, str(test_path))
    train = validate_frame(
        read_table(train_path, "interim data"), data, str(train_path)
    )
    transform = FeatureTransform.fit(train, data, params.features.scaler)
    processed_path = settings.processed_dir / TRAIN_FILE
    write_processed(processed_path, transform, train, data.target)
    transform_path = settings.models_dir / TRANSFORM_FILE
    transform.save(transform_path)
    logger.info(
        "Fitted the transform: %d numeric (%s scaling), %d categorical -> %d columns",
        len(transform.numeric),
        transform.scaler.kind,
        len(transform.encoders),
        len(transform.output_columns),
    )
    return [processed_path, transform_path]


def write_processed(
    path: Path, transform: FeatureTransform, frame: pd.DataFrame, target: str
) -> None:
    """Write the matrix of ``frame`` and its target column as Parquet, atomically.

    The rows are transformed and written ``BATCH_ROWS`` at a time, a row group
    each, so the whole matrix is never in memory next to the table.
    """
    targets = pa.array(frame[target].to_numpy())
    schema = pa.schema(
        [pa.field(name, pa.float32()) for name in transform.output_columns]
        + [pa.field(target, targets.type)]
    )
    with atomic.replacing(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, len(frame), BATCH_ROWS):
            matrix = transform.transform(frame.iloc[start : start + BATCH_ROWS])
            columns = [pa.array(column) for column in matrix.T]
            columns.append(targets.slice(start, len(matrix)))
            writer.write_batch(pa.record_batch(columns, schema=schema))


def open_processed(path: Path) -> pq.ParquetFile:
    """The processed training split written by :func:`write_processed`."""
    if not path.is_file():
        raise ConfigError(
            f"Processed data {path} does not exist: run the features stage."
        )
    return pq.ParquetFile(path)


def processed_targets(path: Path, data: DataParams) -> np.ndarray:
    """The encoded targets of the processed training split, in file order."""
    parquet = open_processed(path)
    if data.target not in parquet.schema_arrow.names:
        raise ConfigError(
            f"Processed data {path} lacks the target column {data.target!r}: run "
            "the features stage again."
        )
    target = parquet.read(columns=[data.target]).column(0).to_pandas()
    return encode_targets(target, data)


def load_processed(
    path: Path, transform: FeatureTransform, order: IntArray | None = None
) -> Matrix:
    """The matrix of the processed training split.

    With ``order`` (a permutation of the rows), row ``k`` of the result is row
    ``order[k]`` of the file. Rows are put in place while reading, a row group
    (``BATCH_ROWS``, as :func:`write_processed` writes them) at a time, so that
    a model can get slices of one matrix instead of copies.
    """
    parquet = open_processed(path)
    columns = transform.output_columns
    absent = [name for name in columns if name not in parquet.schema_arrow.names]
    if absent:
        raise ConfigError(
            f"Processed data {path} lacks the column(s) "
            f"{', '.join(map(repr, absent[:5]))}: run the features stage again."
        )
    n_rows = parquet.metadata.num_rows
    destination = np.arange(n_rows)
    if order is not None:
        destination[order] = np.arange(n_rows)
    matrix = np.empty((n_rows, len(columns)), dtype=np.float32)
    start = 0
    for group in range(parquet.num_row_groups):
        batch = parquet.read_row_group(group, columns=columns)
        block = np.column_stack([batch.column(name).to_numpy() for name in columns])
        if not np.isfinite(block).all():
            raise DataValidationError(
                f"Processed data {path} holds missing or infinite values: run "
                "the features stage again."
            )
        matrix[destination[start : start + len(block)]] = block
        start += len(block)
    return matrix
