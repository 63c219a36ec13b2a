"""The one prediction path of the project: evaluation, the monitor, batch
``predict``, the API and the MLflow model all predict through a
:class:`Predictor`.

A predictor holds the fitted feature transform and the model, loaded once. For
each batch of raw rows it validates the feature columns against the schema of
``params.yaml`` (less the target; other columns are ignored), applies the
transform and the model, and turns the model's outputs into labels as they
appear in the data (classification, with one probability per class) or values
(regression).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Settings
from ..data.schema import validate_frame
from ..errors import DataValidationError
from ..features.transform import FeatureTransform, check_transform_matches
from ..params import Label, Params, load_params
from ..utils.arrays import FloatArray, IntArray
from .evaluators import class_positions, decision_threshold
from .interfaces import Model
from .model import load_model

logger = logging.getLogger(__name__)

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
MAX_SHOWN = 5


def model_digest(model_file: Path, transform: FeatureTransform) -> str:
    """SHA-256 of the model file and the transform it applies."""
    digest = hashlib.sha256(model_file.read_bytes())
    digest.update(repr(transform.to_dict()).encode("utf-8"))
    return digest.hexdigest()


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
        # Taken now: a registered model's files are removed once it is loaded.
        self.digest = model_digest(source, transform)
        self.labels: list[Label] = params.data.labels
        self.threshold = decision_threshold(params)

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
    def from_project(
        cls, settings: Settings, params: Params, model_file: Path | None = None
    ) -> Predictor:
        """The project's transform and its model (or ``model_file``)."""
        return cls.build(
            params, settings.transform_file, model_file or settings.model_file
        )

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

    def positions(self, outputs: FloatArray) -> IntArray:
        """Predicted class position of each row, as the evaluator decides it."""
        return class_positions(outputs, self.threshold)

    def predicted_labels(self, outputs: FloatArray) -> list[Label]:
        """Predicted class of each row, as the data spells it."""
        labels = np.asarray(self.labels, dtype=object)[self.positions(outputs)]
        return list(labels.tolist())

    def predict(self, rows: pd.DataFrame, what: str) -> pd.DataFrame:
        """A ``prediction`` column and, for classification, ``proba_<class>``
        columns, one row per row of ``rows``, on the same index."""
        return self.table(self.outputs(self.validate(rows, what)), rows.index)

    def table(self, outputs: FloatArray, index: pd.Index) -> pd.DataFrame:
        """The columns of :meth:`predict` for ``outputs``."""
        if self.task == "regression":
            return pd.DataFrame({PREDICTION: outputs}, index=index)
        columns: dict[str, Any] = {PREDICTION: self.predicted_labels(outputs)}
        for i, label in enumerate(self.labels):
            columns[f"{PROBA_PREFIX}{label}"] = outputs[:, i]
        return pd.DataFrame(columns, index=index)

    def records(self, outputs: FloatArray) -> list[dict[str, Any]]:
        """One ``{"prediction": ..., "probabilities": {...}}`` per row (API)."""
        if self.task == "regression":
            return [{PREDICTION: value} for value in outputs.tolist()]
        names = [str(label) for label in self.labels]
        return [
            {PREDICTION: label, "probabilities": dict(zip(names, row))}
            for label, row in zip(self.predicted_labels(outputs), outputs.tolist())
        ]
