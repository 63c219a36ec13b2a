"""The drift report: ``reports/drift/drift.json`` (sorted keys, rounded
floats, no timestamps: the same inputs give the same bytes), its summary
``metrics.json`` (the monitor stage's DVC metric, a few numbers), its figure
``drift.png`` and the summary printed on the terminal."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..params import MonitorParams
from ..utils.figures import new_figure
from .statistics import ColumnDrift, category_counts, rounded

CORRECTION = "benjamini-hochberg"
MAX_PANELS = 16
"""Panels of the drift figure: beyond that, a page of small histograms shows
less than the few that matter, and costs seconds to draw."""
LABEL = "label"
PREDICTION = "prediction"


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

    def metrics(self) -> dict[str, Any]:
        """The summary ``dvc exp show`` lists: the drift flag, the number and
        share of drifted columns, and the largest effect size of each kind."""
        largest: dict[str, float] = {}
        for result in self.columns.values():
            for name, value in result.effect.items():
                largest[name] = max(largest.get(name, 0.0), rounded(value))
        return {
            "drift": bool(self.drifted),
            "drifted_columns": len(self.drifted),
            "drifted_share": rounded(len(self.drifted) / max(len(self.columns), 1)),
            **{f"max_{name}": value for name, value in sorted(largest.items())},
        }

    def metrics_json(self) -> str:
        return json.dumps(self.metrics(), indent=2) + "\n"


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


def shown_columns(report: DriftReport, limit: int = MAX_PANELS) -> list[str]:
    """The columns the figure draws, in the report's order: all of them, or,
    past ``limit``, the model's label and prediction, the drifted columns and
    then those with the lowest corrected p-values."""
    names = list(report.samples)
    if len(names) <= limit:
        return names

    def rank(name: str) -> tuple[bool, bool, float]:
        result = report.columns[name]
        return (result.role == "feature", not result.drifted, result.p_value_corrected)

    chosen = set(sorted(names, key=rank)[:limit])
    return [name for name in names if name in chosen]


def drift_figure(report: DriftReport, columns_per_row: int = 4) -> Figure:
    """One panel per column (up to ``MAX_PANELS``): reference against current,
    drifted ones in red."""
    names = shown_columns(report)
    n_rows = max(1, math.ceil(len(names) / columns_per_row))
    figure, axes_grid = new_figure(
        4 * columns_per_row, 2.8 * n_rows, n_rows, columns_per_row,
        wspace=0.25, hspace=0.7,
    )  # fmt: skip
    if n_rows * columns_per_row == 1:
        axes_grid = np.array([[axes_grid]])
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
            f"{name[:30]}\n{verdict}, p={result.p_value_corrected:.2g}", color=colour
        )
        if result.drifted:
            for spine in axes.spines.values():
                spine.set(color="tab:red", linewidth=2)
    for axes in list(axes_grid.flat)[len(names) :]:
        axes.set_visible(False)
    axes_grid.flat[0].legend()
    if len(names) < len(report.samples):
        figure.suptitle(
            f"{len(names)} of {len(report.samples)} columns: the drifted and most "
            "different ones; every column is in drift.json",
        )
        figure.subplots_adjust(top=1 - 0.8 / figure.get_figheight())
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
    axes.set_xticklabels([str(name)[:12] for name in shares.index])
