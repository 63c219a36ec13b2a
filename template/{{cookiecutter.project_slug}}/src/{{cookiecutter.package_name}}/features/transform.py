"""The feature transform: raw feature columns in, the model's matrix out.

Numeric columns are imputed with the training median, then scaled; categorical
columns are one-hot encoded with the categories seen in training, a missing
value being a category of its own, and categories rarer than
``features.min_category_share`` pooled into one ``<other>`` level that also
takes the values unseen in training. Date columns become calendar features,
learnt from the training split: the year as a number, and the month, the day
of the week, the day of the year and (when the training dates have times)
the hour as points on a circle, so that December sits next to January; they
are imputed and scaled like numeric columns. The fitted transform is one JSON file
(``models/transform.json``: readable, portable, no pickle) and one object that
training, evaluation, prediction, the API and the MLflow model all apply.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..data.schema import category_strings, parse_dates
from ..errors import ConfigError, DataValidationError
from ..params import DataParams, FeatureSpec
from ..utils import atomic
from ..utils.arrays import FloatArray, Matrix

logger = logging.getLogger(__name__)


class Columns(Protocol):
    """Rows to fit on, given a column at a time: a DataFrame is one."""

    def __getitem__(self, name: str) -> pd.Series: ...

    def __len__(self) -> int: ...


SCALER_KINDS = ("standard", "minmax", "none")
MISSING = "<missing>"
"""The category a missing value of a nullable categorical column falls into."""
OTHER = "<other>"
"""The category of values rare in training, and of values unseen in training
when some were rare."""


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
        return self.fit_columns(values.T)

    def fit_columns(self, columns: Iterable[FloatArray]) -> Scaler:
        """Learn centre and scale of each of ``columns``, one at a time.

        Each column is reduced on its own, as a contiguous array: the result
        does not depend on how the columns were stored or where they came from.
        """
        centers, scales = [], []
        for column in columns:
            values = np.ascontiguousarray(column, dtype=np.float64)
            if self.kind == "standard":
                center, scale = values.mean(), values.std()
            elif self.kind == "minmax":
                center = values.min()
                scale = values.max() - center
            else:
                center, scale = 0.0, 1.0
            centers.append(center)
            scales.append(scale)
        center, scale = np.asarray(centers), np.asarray(scales)
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

    A value outside the list (a category rare or unseen in training) encodes
    as ``OTHER`` when it is in the list, else to all zeros. ``MISSING`` stands
    for a missing value when it is in the list.
    """

    def __init__(self, categories: list[str]) -> None:
        self.categories = list(categories)

    @classmethod
    def fit(
        cls, values: pd.Series, nullable: bool, min_share: float = 0.0
    ) -> CategoryEncoder:
        """Categories seen in ``values`` in at least ``min_share`` of its rows,
        sorted; then ``OTHER`` if any was rarer, and ``MISSING`` if nullable."""
        counts = category_strings(values).dropna().value_counts()
        counts = counts.drop([MISSING, OTHER], errors="ignore")
        frequent = counts >= min_share * len(values)
        categories = sorted(counts.index[frequent])
        if not frequent.all():
            categories.append(OTHER)
        return cls([*categories, MISSING] if nullable else categories)

    @property
    def pooled(self) -> bool:
        """Whether rare and unseen values have a category of their own."""
        return OTHER in self.categories

    def codes(self, values: pd.Series) -> np.ndarray:
        """Position of each value in the categories: ``OTHER``'s where rare or
        unseen if there is one, else -1."""
        text = category_strings(values)
        if MISSING in self.categories:
            text = text.fillna(MISSING)
        codes = np.asarray(pd.Index(self.categories).get_indexer(pd.Index(text)))
        if self.pooled:
            codes[codes < 0] = self.categories.index(OTHER)
        return codes

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


DATE = FeatureSpec(kind="datetime")
CYCLES = {"month": 12.0, "weekday": 7.0, "day_of_year": 365.25, "hour": 24.0}
"""The periodic calendar features and their periods."""


def has_time(values: pd.Series) -> bool:
    """Whether any of the timestamps ``values`` is not at midnight."""
    present = values.dropna()
    return bool((present != present.dt.normalize()).any())


def calendar_names(column: str, time: bool) -> list[str]:
    """The calendar features of the date column ``column``."""
    cycles = [name for name in CYCLES if time or name != "hour"]
    return [
        f"{column}.year",
        *(f"{column}.{cycle}_{part}" for cycle in cycles for part in ("sin", "cos")),
    ]


def calendar_features(values: pd.Series, time: bool) -> Iterator[FloatArray]:
    """The columns :func:`calendar_names` names, NaN where a date is missing."""
    dates = values.dt
    yield dates.year.to_numpy(dtype=np.float64, na_value=np.nan)
    positions = {
        "month": dates.month - 1,
        "weekday": dates.day_of_week,
        "day_of_year": dates.day_of_year - 1,
        "hour": dates.hour + dates.minute / 60,
    }
    for cycle, period in CYCLES.items():
        if cycle == "hour" and not time:
            continue
        angle = 2 * np.pi * positions[cycle].to_numpy(np.float64, na_value=np.nan)
        yield np.sin(angle / period)
        yield np.cos(angle / period)


def set_one_hot(block: Matrix, codes: np.ndarray) -> None:
    """Set ``block[row, code]`` to 1 for every row whose code is not -1."""
    known = np.flatnonzero(codes >= 0)
    block[known, codes[known]] = 1.0


class FeatureTransform:
    """Raw feature columns in, a float matrix out: calendar features, imputation,
    scaling, one-hot."""

    def __init__(
        self,
        numeric: list[str],
        medians: list[float],
        scaler: Scaler,
        encoders: dict[str, CategoryEncoder],
        dates: dict[str, bool] | None = None,
    ) -> None:
        self.numeric = list(numeric)
        self.dates = dict(dates or {})
        """Each date column, and whether its calendar features include the hour."""
        self.medians = np.asarray(medians, dtype=np.float64)
        self.scaler = scaler
        self.encoders = encoders

    @property
    def number_columns(self) -> list[str]:
        """The imputed and scaled columns: numeric ones, then calendar ones."""
        calendar = [
            name
            for column, time in self.dates.items()
            for name in calendar_names(column, time)
        ]
        return [*self.numeric, *calendar]

    def numbers(self, frame: Columns) -> Iterator[FloatArray]:
        """Each of :attr:`number_columns` of the rows ``frame``, in order."""
        for name in self.numeric:
            yield frame[name].to_numpy(dtype=np.float64)
        for name, time in self.dates.items():
            values = frame[name]
            if not pd.api.types.is_datetime64_any_dtype(values):
                values = parse_dates(values, DATE)  # datetimes from the API
            yield from calendar_features(values, time)

    @classmethod
    def fit(
        cls,
        frame: Columns,
        data: DataParams,
        scaler: str,
        min_category_share: float = 0.0,
    ) -> FeatureTransform:
        """Learn medians, scale and categories from the training rows ``frame``;
        categories in fewer than ``min_category_share`` of them are pooled.

        The statistics are learnt one column at a time, so ``frame`` may also
        be a file read column by column (:class:`~..data.tables.ParquetColumns`):
        the transform is the same.
        """
        dates = {name: has_time(frame[name]) for name in data.dates}
        unfitted = cls(data.numeric, [], Scaler(scaler), {}, dates)
        medians: list[float] = []

        def imputed() -> Iterator[FloatArray]:
            for values in unfitted.numbers(frame):
                missing = np.isnan(values)
                present = values[~missing]
                medians.append(float(np.median(present)) if len(present) else 0.0)
                yield np.where(missing, medians[-1], values)

        fitted_scaler = Scaler(scaler).fit_columns(imputed())
        encoders = {}
        for name in data.categorical:
            values = frame[name]
            encoder = CategoryEncoder.fit(
                values, data.features[name].nullable, min_category_share
            )
            encoders[name] = encoder
            rare = values.nunique() - len(set(encoder.categories) - {OTHER, MISSING})
            if encoder.pooled and rare > 0:
                logger.info(
                    "Column %r: %d categories rarer than %g of the training rows "
                    "pooled into %s",
                    name,
                    rare,
                    min_category_share,
                    OTHER,
                )
        return cls(data.numeric, medians, fitted_scaler, encoders, dates)

    @property
    def input_columns(self) -> list[str]:
        """The raw columns the transform reads."""
        return [*self.numeric, *self.dates, *self.encoders]

    @property
    def output_columns(self) -> list[str]:
        """Names of the matrix's columns: numeric ones, calendar ones
        (``column.month_sin`` ...), then ``column=category``."""
        one_hot = [
            f"{name}={category}"
            for name, encoder in self.encoders.items()
            for category in encoder.categories
        ]
        return [*self.number_columns, *one_hot]

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
        for i, values in enumerate(self.numbers(frame)):
            values = np.where(np.isnan(values), self.medians[i], values)
            matrix[:, i] = (values - self.scaler.center[i]) / self.scaler.scale[i]
        start = len(self.number_columns)
        for name, encoder in self.encoders.items():
            codes = encoder.codes(frame[name])
            unseen = int((codes < 0).sum())
            if unseen:  # only when no category was pooled as rare
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
            # Lists, not mappings: JSON keys are sorted, the column order is not.
            "dates": [
                {"column": name, "time": time} for name, time in self.dates.items()
            ],
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
        dates = {entry["column"]: entry["time"] for entry in payload.get("dates", [])}
        return cls(numeric["columns"], numeric["medians"], scaler, encoders, dates)

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
    if transform.input_columns != [*data.numeric, *data.dates, *data.categorical]:
        raise ConfigError(
            "models/transform.json was fitted for other feature columns than "
            "columns.yaml: run the features stage again."
        )
