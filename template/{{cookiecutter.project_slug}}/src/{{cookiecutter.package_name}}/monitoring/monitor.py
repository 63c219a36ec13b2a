"""Stage and command ``monitor``: compare new rows with the rows the model was
trained on.

Each feature column is tested on its own (:mod:`.statistics`). The label (when
CURRENT has it) and the model's predictions, made by the pipeline's own
:class:`~..modeling.predictor.Predictor`, are tested the same way: predicted
classes and labels by chi-square (prior probability shift), predicted and true
values of a regression by KS and PSI. With labels, the model's metrics on
CURRENT stand next to its test metrics (a concept-drift signal). A large
reference is sampled, or counted over every row by Dask (:mod:`.reference`).
Writes ``reports/drift/drift.json`` and ``reports/drift/drift.png``
(:mod:`.report`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Settings
from ..data.formats import is_remote
from ..data.sources import read_location
from ..data.tables import parquet_rows, read_sample
from ..errors import ConfigError
from ..modeling.evaluators import build_evaluator
from ..modeling.predictor import Predictor
from ..params import DataParams, MonitorParams, Params
from ..utils import atomic
from ..utils.arrays import FloatArray
from ..utils.figures import save_figure
from .reference import (
    REFERENCE_ROWS,
    Counts,
    Plan,
    Table,
    count_reference,
    is_categorical,
    predicted,
    reference_sides,
    validated,
)
from .report import DriftReport, drift_figure
from .statistics import as_numbers, column_drift, decide, feature_drift, rounded

logger = logging.getLogger(__name__)


def compare(
    reference: Table,
    current: Table,
    data: DataParams,
    settings: MonitorParams,
    counted: Counts | None = None,
) -> DriftReport:
    """Test every feature, and the label and the predictions where both
    tables have them; ``counted``: the reference counted over every row, of
    which ``reference`` is a sample."""
    sides = reference_sides(reference, data, counted)
    columns = feature_drift(sides, current.features, data, settings)
    samples: dict[str, tuple[Any, Any]] = {}
    reference_columns = reference.columns(data)
    for name, values in current.columns(data).items():
        if name not in reference_columns:
            continue
        if name not in columns:  # the label, the predictions
            columns[name] = column_drift(sides[name], values, settings, name)
        pair = (reference_columns[name], values)
        if name in data.features and not is_categorical(name, data):
            pair = (as_numbers(pair[0]), as_numbers(pair[1]))
        samples[name] = pair
    rows = {
        "reference": counted.rows if counted else len(reference.features),
        "current": len(current.features),
    }
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
    what = f"reference data {reference_path}"
    reference = validated(
        read_sample(reference_path, "Reference data", REFERENCE_ROWS), data, what
    )
    current = validated(
        read_location(current_path, "Current data"),
        data,
        f"current data {current_path}",
    )
    predictor = Predictor.from_project(settings, params)
    reference = predicted(predictor, reference, predictor.outputs(reference.features))
    outputs = predictor.outputs(current.features)
    current = predicted(predictor, current, outputs)
    counted = None
    if (
        data.engine == "dask"
        and reference_path.suffix.lower() == ".parquet"
        and parquet_rows(reference_path) > REFERENCE_ROWS
    ):
        plan = Plan.of(reference, current, data, params.monitor, predictor, what)
        counted = count_reference(reference_path, plan, params.dask)
    report = compare(reference, current, data, params.monitor, counted)
    if current.target is not None:
        report.performance = performance(settings, params, current.target, outputs)
    decide(report.columns, params.monitor)
    folder = out_dir or settings.drift_dir
    atomic.write_text(folder / settings.drift_report_file.name, report.to_json())
    atomic.write_text(folder / settings.drift_metrics_file.name, report.metrics_json())
    save_figure(drift_figure(report), folder / settings.drift_figure_file.name)
    return report
