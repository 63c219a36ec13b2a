"""Predictions of the trained pipeline for raw rows: the one path that the
``predict`` command, the API and the evaluate stage all take.

A :class:`Predictor` loads the fitted feature transform and the model once.
For each batch of raw rows it validates the feature columns against the schema
of ``params.yaml`` (less the target; other columns are ignored), applies the
transform and the model, and turns the model's outputs into labels as they
appear in the data (classification, with one probability per class) or values
(regression).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import atomic
from .config import MODEL_FILE, Settings
from .data import read_table
from .errors import ConfigError, DataValidationError
from .evaluate import resolve_evaluator
from .features import TRANSFORM_FILE, FeatureTransform, check_transform_matches
from .interfaces import FloatArray, Model
from .model import load_model
from .params import Label, Params, load_params
from .schema import validate_frame

logger = logging.getLogger(__name__)

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
TABLE_SUFFIXES = (".csv", ".parquet")
REGISTRY_SCHEMES = ("models:/", "runs:/")
MAX_SHOWN = 5


def is_registry_uri(uri: str | None) -> bool:
    """``models:/...``, ``runs:/...`` or another MLflow model URI, not a file."""
    return uri is not None and (uri.startswith(REGISTRY_SCHEMES) or "://" in uri)


def model_path(settings: Settings, uri: str | None) -> Path:
    """The model file ``uri`` names; the pipeline's model when it is None."""
    if uri is None:
        return settings.models_dir / MODEL_FILE
    path = Path(uri).expanduser()
    return path if path.is_absolute() else settings.project_root / path


def serving_params(settings: Settings, uri: str | None) -> Params:
    """The parameters the model ``uri`` was trained with: those bundled with an
    MLflow model, else the project's ``params.yaml``."""
    if is_registry_uri(uri):
        from .tracking import downloaded_model

        return load_params(downloaded_model(settings, str(uri))["params"])
    return load_params(settings.params_file)


class Predictor:
    """The fitted transform and model of a project, loaded once."""

    def __init__(
        self, transform: FeatureTransform, model: Model, params: Params, source: Path
    ) -> None:
        self.transform = transform
        self.model = model
        self.params = params
        self.source = source
        self.uri = str(source)
        data = params.data
        self.labels: list[Label] = data.labels
        self.threshold = (
            params.evaluate.threshold
            if data.task == "classification" and resolve_evaluator(params) == "binary"
            else None
        )

    @classmethod
    def build(cls, params: Params, transform_file: Path, model_file: Path) -> Predictor:
        """The predictor of ``params``, a fitted transform and a model file."""
        transform = FeatureTransform.load(transform_file)
        check_transform_matches(transform, params.data)
        model = load_model(model_file)
        logger.info("Loaded the model %s", model_file)
        return cls(transform, model, params, model_file)

    @classmethod
    def from_files(
        cls, params_file: Path, transform_file: Path, model_file: Path
    ) -> Predictor:
        """The predictor of a parameter file, a fitted transform and a model."""
        return cls.build(load_params(params_file), transform_file, model_file)

    @classmethod
    def load(
        cls, settings: Settings, params: Params, uri: str | None = None
    ) -> Predictor:
        """Load ``models/transform.json`` and the model ``uri`` names.

        An MLflow model URI (``models:/<name>@champion``) brings its own
        parameters, transform and model, which replace the project's.
        """
        if not is_registry_uri(uri):
            path = model_path(settings, uri)
            return cls.build(params, settings.models_dir / TRANSFORM_FILE, path)
        from .tracking import downloaded_model

        files = downloaded_model(settings, str(uri))
        predictor = cls.from_files(files["params"], files["transform"], files["model"])
        predictor.uri = str(uri)
        return predictor

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return self.params.data.task

    def validate(self, rows: pd.DataFrame, what: str) -> pd.DataFrame:
        """The feature columns of ``rows``, checked against the schema."""
        return validate_frame(
            rows, self.params.data, what, target=False, strict="filter"
        )

    def outputs(self, features: pd.DataFrame) -> FloatArray:
        """Probabilities (n, classes) or values (n,) of validated rows.

        A finite value can still be too large once scaled to the model's
        float32 inputs: such rows are refused, named, instead of predicted.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            matrix = self.transform.transform(features)
        finite = np.isfinite(matrix)
        if not finite.all():
            rows = np.flatnonzero(~finite.all(axis=1))[:MAX_SHOWN].tolist()
            names = self.transform.output_columns
            columns = [names[i] for i in np.flatnonzero(~finite.all(axis=0))]
            raise DataValidationError(
                f"Row(s) {', '.join(map(str, rows))} hold values too large for the "
                f"model in column(s) {', '.join(map(repr, columns[:MAX_SHOWN]))}."
            )
        return self.model.predict(matrix)

    def positions(self, outputs: FloatArray) -> np.ndarray:
        """Predicted class position of each row, as the evaluator decides it."""
        if self.threshold is not None:
            return np.asarray(outputs[:, 1] >= self.threshold, dtype=np.int64)
        return np.asarray(outputs.argmax(axis=1), dtype=np.int64)

    def predict(self, rows: pd.DataFrame, what: str) -> pd.DataFrame:
        """A ``prediction`` column and, for classification, ``proba_<class>``
        columns, one row per row of ``rows``, on the same index."""
        outputs = self.outputs(self.validate(rows, what))
        if self.task == "regression":
            return pd.DataFrame({PREDICTION: outputs}, index=rows.index)
        labels = np.asarray(self.labels, dtype=object)[self.positions(outputs)]
        columns: dict[str, Any] = {PREDICTION: labels.tolist()}
        for i, label in enumerate(self.labels):
            columns[f"{PROBA_PREFIX}{label}"] = outputs[:, i]
        return pd.DataFrame(columns, index=rows.index)

    def records(
        self, rows: pd.DataFrame, checked: bool = False
    ) -> list[dict[str, Any]]:
        """One ``{"prediction": ..., "probabilities": {...}}`` per row (API).

        ``checked`` rows skip the schema: the API's request model, built from
        the same feature schema, has already checked every value.
        """
        features = rows if checked else self.validate(rows, "The request")
        outputs = self.outputs(features)
        if self.task == "regression":
            return [{PREDICTION: value} for value in outputs.tolist()]
        names = [str(label) for label in self.labels]
        return [
            {
                PREDICTION: self.labels[position],
                "probabilities": dict(zip(names, row)),
            }
            for position, row in zip(self.positions(outputs).tolist(), outputs.tolist())
        ]


def check_table_path(path: Path, what: str) -> None:
    """Refuse a file name that is neither CSV nor Parquet."""
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ConfigError(
            f"{what} {path} must end in .csv or .parquet, the formats it is read "
            "and written in."
        )


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as CSV or Parquet (by suffix) in one step."""
    with atomic.replacing(path) as tmp:
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, lineterminator="\n")


def predict_file(
    settings: Settings,
    params: Params,
    source: Path,
    destination: Path,
    model_uri: str | None = None,
) -> pd.DataFrame:
    """Score every row of ``source`` into ``destination``: its columns, then
    the prediction columns. Nothing is written when a row is invalid."""
    check_table_path(source, "Input")
    check_table_path(destination, "Output")
    predictor = Predictor.load(settings, params, model_uri)
    rows = read_table(source, "Input")
    predictions = predictor.predict(rows, f"Input {source}")
    clashes = [name for name in predictions.columns if name in rows.columns]
    if clashes:
        raise DataValidationError(
            f"Input {source} already has the column(s) "
            f"{', '.join(map(repr, clashes))} that predict writes: rename them."
        )
    result = pd.concat([rows, predictions], axis=1)
    write_table(destination, result)
    logger.info("Wrote %d prediction(s) to %s", len(result), destination)
    return result
