"""The statistics of drift: is a column's distribution in new rows the one it
had in the rows the model was trained on?

Numeric columns: the two-sample Kolmogorov-Smirnov test, with the KS statistic
and the population stability index (PSI, on reference-quantile bins) as effect
sizes. Categorical columns: a chi-square test on the 2 x k table of counts
(sparse categories pooled so that every expected count is at least
``monitor.min_expected``), with Cramer's V as effect size. The p-values are
corrected across all tested columns with the Benjamini-Hochberg procedure; a
column drifts only when its corrected p-value is below ``monitor.alpha`` and
its effect size passes its threshold, so that a huge sample does not flag a
trivial difference.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..features.transform import MISSING
from ..params import DataParams, MonitorParams
from ..utils.arrays import FloatArray

DIGITS = 6
PSI_FLOOR = 1e-4
"""Smallest bin share in the PSI, so that an empty bin gives a finite value."""


def rounded(value: float) -> float:
    """Round for the report; significant digits keep tiny p-values readable."""
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return value
    return float(f"{value:.{DIGITS}g}")


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
            "statistic": rounded(self.statistic),
            "p_value": rounded(self.p_value),
            "p_value_corrected": rounded(self.p_value_corrected),
            "effect_size": {
                name: rounded(value) for name, value in self.effect.items()
            },
            "unseen_categories": self.unseen,
            "drifted": self.drifted,
        }


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
        if data.features[name].kind == "categorical":
            return categorical_drift(reference, current, settings, "feature")
        return numeric_drift(
            as_numbers(reference), as_numbers(current), settings, "feature"
        )

    names = list(data.features)
    with ThreadPoolExecutor() as pool:
        results = pool.map(
            test,
            names,
            [reference[name] for name in names],
            [current[name] for name in names],
        )
        return dict(zip(names, results))


def as_numbers(values: pd.Series) -> FloatArray:
    """A numeric column's values, or a date column's as days since 1970."""
    if pd.api.types.is_datetime64_any_dtype(values):
        days = values.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 86400e9
        return np.where(values.isna().to_numpy(), np.nan, days)
    return values.to_numpy(dtype=np.float64)


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


def target_drift(
    reference: Any,
    current: Any,
    data: DataParams,
    settings: MonitorParams,
    role: str,
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
