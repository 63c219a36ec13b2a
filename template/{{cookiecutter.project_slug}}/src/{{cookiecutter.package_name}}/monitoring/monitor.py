"""Stage and command ``monitor``: compare new rows with the rows the model was
trained on.

Each feature column is tested on its own (:mod:`.statistics`). The label (when
CURRENT has it) and the model's predictions, made by the pipeline's own
:class:`~..modeling.predictor.Predictor`, are tested the same way: predicted
classes and labels by chi-square (prior probability shift), predicted and true
values of a regression by KS and PSI. With labels, the model's metrics on
CURRENT stand next to its test metrics (a concept-drift signal). Writes
``reports/drift/drift.json`` and ``reports/drift/drift.png`` (:mod:`.report`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Settings
from ..data.formats import is_remote
from ..data.schema import label_values, validate_frame
from ..data.sources import read_location
from ..data.tables import read_sample
from ..errors import ConfigError, DataValidationError
from ..modeling.evaluators import build_evaluator
from ..modeling.predictor import Predictor
from ..params import DataParams, MonitorParams, Params
from ..utils import atomic
from ..utils.arrays import FloatArray
from ..utils.figures import save_figure
from .report import LABEL, PREDICTION, DriftReport, drift_figure
from .statistics import as_numbers, decide, feature_drift, rounded, target_drift

logger = logging.getLogger(__name__)

REFERENCE_ROWS = 100_000
"""The reference is compared through at most this many rows, a seeded sample
read a row group at a time: the tests' verdicts hardly change beyond, and a
training split of any size fits in memory this way."""


@dataclass
class Table:
    """Validated rows: the feature columns and, when present, the target."""

    features: pd.DataFrame
    target: pd.Series | None


def validated(frame: pd.DataFrame, data: DataParams, what: str) -> Table:
    """Check the features against the schema; the target column is optional.

    Labels outside ``data.classes`` are kept: a class never seen in training
    is reported, not refused.
    """
    features = validate_frame(
        frame.drop(columns=[data.target], errors="ignore"),
        data,
        what,
        target=False,
        strict="filter",
    )
    empty = [name for name in data.features if features[name].isna().all()]
    if empty:
        raise DataValidationError(
            f"{what} has no values at all in column(s) "
            f"{', '.join(map(repr, empty))}: nothing to compare."
        )
    if data.target not in frame.columns:
        return Table(features, None)
    target = frame[data.target]
    if target.isna().any():
        raise DataValidationError(
            f"{what} has {int(target.isna().sum())} missing value(s) in the target "
            f"column {data.target!r}: fill them or drop the column."
        )
    if data.task == "classification":
        return Table(features, label_values(target).astype("string"))
    values = pd.to_numeric(target, errors="coerce")
    if not np.isfinite(values.to_numpy(dtype=np.float64)).all():
        raise DataValidationError(
            f"{what} has value(s) that are not finite numbers in the target "
            f"column {data.target!r}."
        )
    return Table(features, values.astype(np.float64))


def compare(
    reference: Table, current: Table, data: DataParams, settings: MonitorParams
) -> DriftReport:
    """Test every feature, and the label when both tables have it."""
    columns = feature_drift(reference.features, current.features, data, settings)
    samples: dict[str, tuple[Any, Any]] = {
        name: (
            (reference.features[name], current.features[name])
            if name in data.categorical
            else (
                as_numbers(reference.features[name]),
                as_numbers(current.features[name]),
            )
        )
        for name in data.features
    }
    if reference.target is not None and current.target is not None:
        columns[LABEL] = target_drift(
            reference.target, current.target, data, settings, LABEL
        )
        samples[LABEL] = (reference.target, current.target)
    rows = {"reference": len(reference.features), "current": len(current.features)}
    return DriftReport(columns, rows, settings, samples=samples)


def performance(
    settings: Settings, params: Params, target: pd.Series, outputs: FloatArray
) -> dict[str, Any]:
    """The model's metrics on CURRENT next to its metrics on the test split."""
    data = params.data
    if data.task == "classification":
        names = pd.Index([str(label) for label in data.labels])
        positions = names.get_indexer(pd.Index(target))
        known = positions >= 0  # a class never seen in training cannot be scored
        targets = positions[known].astype(np.int64)
    else:
        known = np.ones(len(target), dtype=bool)
        targets = target.to_numpy(dtype=np.float64)
    try:
        scores = build_evaluator(params).metrics(targets, outputs[known])
    except ValueError as exc:  # e.g. a single class present: no ROC AUC
        scores = {}
        logger.warning("No metrics on the current data: %s", exc)
    test_path = settings.metrics_file
    test = (
        json.loads(test_path.read_text(encoding="utf-8")) if test_path.is_file() else {}
    )
    return {
        "current": {name: rounded(value) for name, value in scores.items()},
        "test": test,
        "rows_scored": int(known.sum()),
    }


def predicted(predictor: Predictor, outputs: FloatArray) -> pd.Series | FloatArray:
    """What the model predicts: class labels (as text) or values."""
    if predictor.task == "regression":
        return outputs
    labels = [str(label) for label in predictor.predicted_labels(outputs)]
    return pd.Series(labels, dtype="string")


def monitor(
    settings: Settings,
    params: Params,
    current_path: Path | str,
    reference_path: Path | None = None,
    out_dir: Path | None = None,
) -> DriftReport:
    """Compare CURRENT (a path, or a URL such as ``s3://...``) with the
    reference; write ``drift.json``, its summary ``metrics.json`` and
    ``drift.png`` to ``out_dir`` (default: the stage's ``reports/drift``)."""
    data = params.data
    current_path = str(current_path)
    if not is_remote(current_path) and not Path(current_path).is_file():
        raise ConfigError(f"Current data {current_path} does not exist.")
    reference_path = reference_path or settings.train_file
    reference = validated(
        read_sample(reference_path, "Reference data", REFERENCE_ROWS),
        data,
        f"reference data {reference_path}",
    )
    current = validated(
        read_location(current_path, "Current data"),
        data,
        f"current data {current_path}",
    )
    report = compare(reference, current, data, params.monitor)
    predictor = Predictor.from_project(settings, params)
    reference_predicted = predicted(predictor, predictor.outputs(reference.features))
    outputs = predictor.outputs(current.features)
    current_predicted = predicted(predictor, outputs)
    report.columns[PREDICTION] = target_drift(
        reference_predicted, current_predicted, data, params.monitor, PREDICTION
    )
    report.samples[PREDICTION] = (reference_predicted, current_predicted)
    if current.target is not None:
        report.performance = performance(settings, params, current.target, outputs)
    decide(report.columns, params.monitor)
    folder = out_dir or settings.drift_dir
    atomic.write_text(folder / settings.drift_report_file.name, report.to_json())
    atomic.write_text(folder / settings.drift_metrics_file.name, report.metrics_json())
    save_figure(drift_figure(report), folder / settings.drift_figure_file.name)
    return report
