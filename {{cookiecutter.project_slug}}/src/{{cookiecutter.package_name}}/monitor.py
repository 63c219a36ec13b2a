"""Monitoring for drift: compare new rows with the rows the model was trained on.

Each feature column is tested on its own: numeric columns with the two-sample
Kolmogorov-Smirnov test, with the KS statistic and the population stability
index (PSI, on reference-quantile bins) as effect sizes; categorical columns
with a chi-square test on the 2 x k table of counts (sparse categories pooled
so that every expected count is at least ``monitor.min_expected``), with
Cramer's V as effect size. The label (when CURRENT has it) and the model's
predictions are tested the same way: predicted classes and labels by
chi-square (prior probability shift), predicted and true values of a
regression by KS and PSI. With labels, the model's metrics on CURRENT stand
next to its test metrics (a concept-drift signal).

The p-values are corrected across all tested columns with the
Benjamini-Hochberg procedure. A column counts as drifted only when its
corrected p-value is below ``monitor.alpha`` **and** its effect size passes
its threshold, so that a huge sample does not flag a trivial difference.

Writes ``reports/drift/drift.json`` (sorted keys, rounded floats, no
timestamps: the same inputs give the same bytes) and ``reports/drift/drift.png``.
"""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from . import atomic
from .config import MODEL_FILE, Settings
from .data import TRAIN_FILE, read_table
from .errors import ConfigError, DataValidationError
from .evaluate import METRICS_FILE, BinaryClassificationEvaluator, build_evaluator
from .features import (
    MISSING,
    TRANSFORM_FILE,
    FeatureTransform,
    check_transform_matches,
)
from .interfaces import FloatArray
from .model import load_model
from .params import DataParams, MonitorParams, Params
from .plots import save_figure
from .schema import label_values, validate_frame

logger = logging.getLogger(__name__)

DRIFT_DIR = "drift"
REPORT_FILE = "drift.json"
FIGURE_FILE = "drift.png"
CORRECTION = "benjamini-hochberg"
DIGITS = 6
PSI_FLOOR = 1e-4
"""Smallest bin share in the PSI, so that an empty bin gives a finite value."""
LABEL = "label"
PREDICTION = "prediction"


@dataclass
class ColumnDrift:
    """The test of one column: reference against current."""

    role: str  # feature, label or prediction
    kind: str  # numeric or categorical
    statistic: float
    p_value: float
    effect: dict[str, float]
    unseen: dict[str, int] = field(default_factory=dict)
    p_value_corrected: float = 1.0
    drifted: bool = False

    @property
    def test(self) -> str:
        return "ks" if self.kind == "numeric" else "chi2"

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "kind": self.kind,
            "test": self.test,
            "statistic": _round(self.statistic),
            "p_value": _round(self.p_value),
            "p_value_corrected": _round(self.p_value_corrected),
            "effect_size": {name: _round(value) for name, value in self.effect.items()},
            "unseen_categories": self.unseen,
            "drifted": self.drifted,
        }


def _round(value: float) -> float:
    """Round for the report; significant digits keep tiny p-values readable."""
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return value
    return float(f"{value:.{DIGITS}g}")


def numeric_drift(
    reference: np.ndarray, current: np.ndarray, settings: MonitorParams, role: str
) -> ColumnDrift:
    """KS test, KS statistic and PSI of two samples of numbers (NaN ignored)."""
    reference = reference[~np.isnan(reference)]
    current = current[~np.isnan(current)]
    result = stats.ks_2samp(reference, current)
    return ColumnDrift(
        role=role,
        kind="numeric",
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        effect={
            "ks": float(result.statistic),
            "psi": psi(reference, current, settings.psi_bins),
        },
    )


def psi(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    """Population stability index on ``bins`` reference-quantile bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = [
        np.bincount(
            np.searchsorted(edges, sample, side="right"), minlength=len(edges) + 1
        )
        / len(sample)
        for sample in (reference, current)
    ]
    expected, actual = (np.maximum(share, PSI_FLOOR) for share in shares)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def category_counts(values: pd.Series) -> pd.Series:
    """Counts of each category, a missing value counted as ``MISSING``."""
    text = values.astype("string").fillna(MISSING)
    return text.value_counts(sort=False)


def categorical_drift(
    reference: pd.Series, current: pd.Series, settings: MonitorParams, role: str
) -> ColumnDrift:
    """Chi-square test of the 2 x k table of category counts, with Cramer's V.

    Categories whose column total is too small for an expected count of
    ``min_expected`` are pooled into one; a category never seen in the
    reference is reported with its count.
    """
    table = pd.concat(
        [category_counts(reference), category_counts(current)],
        axis=1,
        keys=["reference", "current"],
    ).fillna(0)
    table = table.sort_index()
    unseen = table.loc[table["reference"] == 0, "current"]
    counts = pooled(table.to_numpy(dtype=np.float64).T, settings.min_expected)
    if counts.shape[1] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        result = stats.chi2_contingency(counts, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return ColumnDrift(
        role=role,
        kind="categorical",
        statistic=statistic,
        p_value=p_value,
        effect={"cramers_v": cramers_v(counts)},
        unseen={str(name): int(count) for name, count in unseen.items()},
    )


def cramers_v(counts: np.ndarray) -> float:
    """Cramer's V of two equally large samples with the shares of ``counts``.

    Computed from the shares, it does not shrink when CURRENT is much smaller
    than the reference, as the V of the raw 2 x k table would.
    """
    shares = counts / counts.sum(axis=1, keepdims=True)
    total = shares.sum(axis=0)
    gaps = np.diff(shares, axis=0)[0] ** 2
    return float(np.sqrt(0.5 * np.sum(gaps[total > 0] / total[total > 0])))


def pooled(counts: np.ndarray, min_expected: float) -> np.ndarray:
    """Merge the rarest categories (columns of a 2 x k table) into one column
    until every expected count is at least ``min_expected``."""
    needed = min_expected * counts.sum() / counts.sum(axis=1).min()
    order = np.argsort(counts.sum(axis=0), kind="stable")
    totals = counts.sum(axis=0)[order]
    size = int(np.searchsorted(totals, needed))  # every short category
    pool = totals[:size].sum()
    while 0 < size < len(totals) and pool < needed:
        pool += totals[size]
        size += 1
    if size == 0:
        return counts
    merged = counts[:, order[:size]].sum(axis=1, keepdims=True)
    return np.hstack([merged, counts[:, order[size:]]])


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    data: DataParams,
    settings: MonitorParams,
) -> dict[str, ColumnDrift]:
    """The test of every feature column, in the order of ``data.features``.

    Columns are tested in parallel threads: sorting, most of the work, runs
    outside Python's global lock.
    """

    def test(name: str, reference: pd.Series, current: pd.Series) -> ColumnDrift:
        if data.features[name].kind == "numeric":
            return numeric_drift(
                reference.to_numpy(dtype=np.float64),
                current.to_numpy(dtype=np.float64),
                settings,
                "feature",
            )
        return categorical_drift(reference, current, settings, "feature")

    names = list(data.features)
    with ThreadPoolExecutor() as pool:
        results = pool.map(
            test,
            names,
            [reference[name] for name in names],
            [current[name] for name in names],
        )
        return dict(zip(names, results))


def decide(results: dict[str, ColumnDrift], settings: MonitorParams) -> None:
    """Correct the p-values (Benjamini-Hochberg) and set each column's verdict."""
    if not results:
        return
    corrected = stats.false_discovery_control(
        [result.p_value for result in results.values()], method="bh"
    )
    for result, p_value in zip(results.values(), corrected):
        result.p_value_corrected = float(p_value)
        if result.kind == "numeric":
            large = (
                result.effect["ks"] >= settings.ks_statistic
                or result.effect["psi"] >= settings.psi
            )
        else:
            large = result.effect["cramers_v"] >= settings.cramers_v
        result.drifted = bool(p_value < settings.alpha and large)


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


@dataclass
class DriftReport:
    """Everything ``drift.json`` holds, and the samples the figure draws."""

    columns: dict[str, ColumnDrift]
    rows: dict[str, int]
    settings: MonitorParams
    performance: dict[str, Any] | None = None
    samples: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def drifted(self) -> list[str]:
        return [name for name, result in self.columns.items() if result.drifted]

    def to_dict(self) -> dict[str, Any]:
        by_role = {
            role: [n for n in self.drifted if self.columns[n].role == role]
            for role in ("feature", LABEL, PREDICTION)
        }
        return {
            "drift": bool(self.drifted),
            "drifted_columns": self.drifted,
            "data_drift": bool(by_role["feature"]),
            "prior_shift": bool(by_role[LABEL] or by_role[PREDICTION]),
            "correction": CORRECTION,
            "alpha": self.settings.alpha,
            "thresholds": {
                "ks": self.settings.ks_statistic,
                "psi": self.settings.psi,
                "cramers_v": self.settings.cramers_v,
            },
            "rows": self.rows,
            "columns": {
                name: result.to_dict() for name, result in self.columns.items()
            },
            "performance": self.performance,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def compare(
    reference: Table, current: Table, data: DataParams, settings: MonitorParams
) -> DriftReport:
    """Test every feature, and the label when both tables have it."""
    columns = feature_drift(reference.features, current.features, data, settings)
    samples: dict[str, tuple[Any, Any]] = {
        name: (reference.features[name], current.features[name])
        for name in data.features
    }
    if reference.target is not None and current.target is not None:
        columns[LABEL] = target_drift(reference.target, current.target, data, settings)
        samples[LABEL] = (reference.target, current.target)
    rows = {"reference": len(reference.features), "current": len(current.features)}
    return DriftReport(columns, rows, settings, samples=samples)


def target_drift(
    reference: Any,
    current: Any,
    data: DataParams,
    settings: MonitorParams,
    role: str = LABEL,
) -> ColumnDrift:
    """Labels by chi-square (classification) or values by KS (regression)."""
    if data.task == "classification":
        return categorical_drift(
            pd.Series(reference), pd.Series(current), settings, role
        )
    return numeric_drift(
        np.asarray(reference, dtype=np.float64),
        np.asarray(current, dtype=np.float64),
        settings,
        role,
    )


def predicted(outputs: FloatArray, params: Params) -> pd.Series | FloatArray:
    """What the model predicts: class labels (as text) or values."""
    if params.data.task == "regression":
        return outputs
    evaluator = build_evaluator(params)
    if isinstance(evaluator, BinaryClassificationEvaluator):
        positions = evaluator.predict(outputs)
    else:
        positions = outputs.argmax(axis=1)
    names = np.asarray([str(label) for label in params.data.labels], dtype=object)
    return pd.Series(names[positions], dtype="string")


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
    test_path = settings.reports_dir / METRICS_FILE
    test = (
        json.loads(test_path.read_text(encoding="utf-8")) if test_path.is_file() else {}
    )
    return {
        "current": {name: _round(value) for name, value in scores.items()},
        "test": test,
        "rows_scored": int(known.sum()),
    }


def monitor(
    settings: Settings,
    params: Params,
    current_path: Path,
    reference_path: Path | None = None,
) -> DriftReport:
    """Compare CURRENT with the reference; write ``drift.json`` and ``drift.png``."""
    data = params.data
    if not current_path.is_file():
        raise ConfigError(f"Current data {current_path} does not exist.")
    reference_path = reference_path or settings.interim_dir / TRAIN_FILE
    reference = validated(
        read_table(reference_path, "Reference data"),
        data,
        f"reference data {reference_path}",
    )
    current = validated(
        read_table(current_path, "Current data"), data, f"current data {current_path}"
    )
    report = compare(reference, current, data, params.monitor)
    transform = FeatureTransform.load(settings.models_dir / TRANSFORM_FILE)
    check_transform_matches(transform, data)
    model = load_model(settings.models_dir / MODEL_FILE)
    reference_predicted = predicted(
        model.predict(transform.transform(reference.features)), params
    )
    outputs = model.predict(transform.transform(current.features))
    current_predicted = predicted(outputs, params)
    report.columns[PREDICTION] = target_drift(
        reference_predicted, current_predicted, data, params.monitor, PREDICTION
    )
    report.samples[PREDICTION] = (reference_predicted, current_predicted)
    if current.target is not None:
        report.performance = performance(settings, params, current.target, outputs)
    decide(report.columns, params.monitor)
    folder = settings.reports_dir / DRIFT_DIR
    atomic.write_text(folder / REPORT_FILE, report.to_json())
    save_figure(drift_figure(report), folder / FIGURE_FILE)
    return report


def summary(report: DriftReport, limit: int = 15) -> str:
    """A one-screen summary: the verdict, then the columns, drifted first."""
    drifted = report.drifted
    rows = report.rows
    lines = [
        f"Reference rows: {rows['reference']}, current rows: {rows['current']}; "
        f"alpha {report.settings.alpha} after {CORRECTION} correction.",
        (
            f"DRIFT in {len(drifted)} of {len(report.columns)} columns: "
            + ", ".join(drifted)
            if drifted
            else f"No drift in {len(report.columns)} columns."
        ),
        f"{'column':<28} {'test':<5} {'p (corr.)':>10} {'effect':<24} verdict",
    ]
    ordered = sorted(
        report.columns.items(),
        key=lambda item: (not item[1].drifted, item[1].p_value_corrected),
    )
    for name, result in ordered[:limit]:
        effect = " ".join(f"{key}={value:.3f}" for key, value in result.effect.items())
        verdict = "DRIFT" if result.drifted else "ok"
        if result.unseen:
            verdict += f" (unseen: {', '.join(result.unseen)})"
        lines.append(
            f"{name[:28]:<28} {result.test:<5} {result.p_value_corrected:>10.3g} "
            f"{effect:<24} {verdict}"
        )
    if len(ordered) > limit:
        lines.append(f"... and {len(ordered) - limit} more columns, none drifted.")
    if report.performance and report.performance["current"]:
        test = report.performance["test"]
        lines.append(
            "Metrics, current (test): "
            + ", ".join(
                (
                    f"{name} {value:.3f} ({test[name]:.3f})"
                    if isinstance(test.get(name), (int, float))
                    else f"{name} {value:.3f}"
                )
                for name, value in report.performance["current"].items()
            )
        )
    return "\n".join(lines)


def drift_figure(report: DriftReport, columns_per_row: int = 4) -> Figure:
    """One panel per column: reference against current, drifted ones in red."""
    names = list(report.samples)
    n_rows = max(1, math.ceil(len(names) / columns_per_row))
    figure = Figure(figsize=(4 * columns_per_row, 2.8 * n_rows))
    axes_grid = figure.subplots(n_rows, columns_per_row, squeeze=False)
    for axes, name in zip(axes_grid.flat, names):
        result = report.columns[name]
        reference, current = report.samples[name]
        if result.kind == "numeric":
            _histograms(axes, np.asarray(reference, float), np.asarray(current, float))
        else:
            _bars(axes, pd.Series(reference), pd.Series(current))
        colour = "tab:red" if result.drifted else "black"
        verdict = "DRIFT" if result.drifted else "ok"
        axes.set_title(
            f"{name[:30]}\n{verdict}, p={result.p_value_corrected:.2g}",
            color=colour,
            fontsize=9,
        )
        if result.drifted:
            for spine in axes.spines.values():
                spine.set(color="tab:red", linewidth=2)
    for axes in list(axes_grid.flat)[len(names) :]:
        axes.set_visible(False)
    axes_grid.flat[0].legend(fontsize=8)
    # Fixed margins in inches: computing a tight layout takes longer than
    # drawing the panels.
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=0.5 / width,
        right=1 - 0.2 / width,
        bottom=0.4 / height,
        top=1 - 0.5 / height,
        wspace=0.25,
        hspace=0.7,
    )
    return figure


def _histograms(axes: Axes, reference: np.ndarray, current: np.ndarray) -> None:
    samples = {
        "reference": reference[~np.isnan(reference)],
        "current": current[~np.isnan(current)],
    }
    both = np.concatenate(list(samples.values()))
    if not len(both):
        return
    low, high = np.histogram_bin_edges(both, bins=30)[[0, -1]]
    for (label, values), colour in zip(samples.items(), ("tab:blue", "tab:orange")):
        if len(values):
            # Counted by numpy over equal bins (fast), drawn as steps.
            density, edges = np.histogram(
                values, bins=30, range=(low, high), density=True
            )
            axes.stairs(density, edges, label=label, color=colour)
    axes.tick_params(labelsize=7)


def _bars(axes: Axes, reference: pd.Series, current: pd.Series, top: int = 10) -> None:
    shares = pd.concat(
        [
            category_counts(reference) / len(reference),
            category_counts(current) / len(current),
        ],
        axis=1,
        keys=["reference", "current"],
    ).fillna(0.0)
    shares = shares.sort_values("reference", ascending=False).head(top)
    positions = np.arange(len(shares))
    axes.bar(positions - 0.2, shares["reference"], 0.4, label="reference")
    axes.bar(positions + 0.2, shares["current"], 0.4, label="current")
    axes.set_xticks(positions)
    axes.set_xticklabels([str(name)[:12] for name in shares.index], fontsize=7)
    axes.tick_params(labelsize=7)
