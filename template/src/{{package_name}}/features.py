"""Feature scaling, fitted on the training split only.

Stage ``features`` reads ``data/interim``, fits the scaler on train, writes the
scaled splits to ``data/processed`` and the fitted scaler to
``models/transform.json`` (plain JSON: readable, portable, no pickle).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import atomic
from .config import Settings
from .data import TEST_FILE, TRAIN_FILE, feature_columns, read_csv, validate_dataset
from .errors import ConfigError
from .interfaces import FloatArray, IntArray
from .params import DataParams, Params

logger = logging.getLogger(__name__)

TRANSFORM_FILE = "transform.json"
SCALER_KINDS = ("standard", "minmax", "none")


class Scaler:
    """Affine per-column scaling ``(x - center) / scale``; invertible.

    ``standard`` centres on the mean and divides by the standard deviation,
    ``minmax`` maps the training range onto [0, 1], ``none`` is the identity.
    Constant columns get scale 1 so that the transform stays invertible.
    """

    def __init__(
        self,
        kind: str = "standard",
        columns: list[str] | None = None,
        center: list[float] | None = None,
        scale: list[float] | None = None,
    ) -> None:
        if kind not in SCALER_KINDS:
            raise ConfigError(
                f"Unknown scaler {kind!r}: use one of {', '.join(SCALER_KINDS)}."
            )
        self.kind = kind
        self.columns = columns or []
        self.center = np.asarray(center or [], dtype=np.float64)
        self.scale = np.asarray(scale or [], dtype=np.float64)

    def fit(self, frame: pd.DataFrame) -> Scaler:
        """Learn centre and scale of every column of ``frame``."""
        values = frame.to_numpy(dtype=np.float64)
        self.columns = [str(column) for column in frame.columns]
        if self.kind == "standard":
            center, scale = values.mean(axis=0), values.std(axis=0)
        elif self.kind == "minmax":
            center = values.min(axis=0)
            scale = values.max(axis=0) - center
        else:
            center, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
        # A spread at the level of rounding error means a constant column.
        tiny = 64 * np.finfo(np.float64).eps * np.maximum(np.abs(center), 1.0)
        self.center = center
        self.scale = np.where(scale > tiny, scale, 1.0)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Scale the fitted columns of ``frame``; same shape, index and names."""
        values = frame[self.columns].to_numpy(dtype=np.float64)
        return self._frame((values - self.center) / self.scale, frame.index)

    def inverse_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Undo :meth:`transform`."""
        values = frame[self.columns].to_numpy(dtype=np.float64)
        return self._frame(values * self.scale + self.center, frame.index)

    def _frame(self, values: FloatArray, index: pd.Index) -> pd.DataFrame:
        return pd.DataFrame(values, columns=self.columns, index=index)

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted scaler, as JSON types."""
        return {
            "kind": self.kind,
            "columns": self.columns,
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Scaler:
        """Rebuild a scaler written by :meth:`to_dict`."""
        return cls(
            kind=payload["kind"],
            columns=list(payload["columns"]),
            center=list(payload["center"]),
            scale=list(payload["scale"]),
        )

    def save(self, path: Path) -> None:
        """Write the fitted scaler as JSON, atomically."""
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Scaler:
        """Read a scaler written by :meth:`save`."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def build_features(settings: Settings, params: Params) -> list[Path]:
    """Stage ``features``: validate the split, fit on train, scale both."""
    data = params.data
    frames = {}
    for name in (TRAIN_FILE, TEST_FILE):
        path = settings.interim_dir / name
        frames[name] = validate_dataset(read_csv(path, "interim data"), data, str(path))
        # The test split must have exactly the columns found in the train split.
        data = data.model_copy(update={"features": feature_columns(frames[name], data)})
    columns = feature_columns(frames[TRAIN_FILE], data)
    scaler = Scaler(params.features.scaler).fit(frames[TRAIN_FILE][columns])

    written = []
    for name, frame in frames.items():
        scaled = scaler.transform(frame)
        scaled[data.target] = frame[data.target].to_numpy()
        path = settings.processed_dir / name
        atomic.write_csv(path, scaled)
        written.append(path)
    transform_path = settings.models_dir / TRANSFORM_FILE
    scaler.save(transform_path)
    logger.info("Scaled %d features with %s scaling", len(columns), scaler.kind)
    return [*written, transform_path]


def load_processed(
    path: Path, data: DataParams, columns: list[str] | None = None
) -> tuple[FloatArray, IntArray]:
    """Read a processed split as a float feature matrix and class indices.

    Scaled features may be negative, so no lower bound is checked; ``columns``
    pins the expected feature columns (default: every column but the target).
    """
    frame = read_csv(path, "processed data")
    processed = data.model_copy(update={"min_value": None, "features": columns})
    frame = validate_dataset(frame, processed, str(path))
    names = columns or feature_columns(frame, data)
    features = frame[names].to_numpy(dtype=np.float64)
    return features, encode_labels(frame[data.target], data.classes)


def encode_labels(target: pd.Series, classes: list[int]) -> IntArray:
    """Map class values to their position in ``classes`` (0, 1, ...)."""
    lookup = {value: index for index, value in enumerate(classes)}
    return np.asarray(target.map(lookup), dtype=np.int64)
