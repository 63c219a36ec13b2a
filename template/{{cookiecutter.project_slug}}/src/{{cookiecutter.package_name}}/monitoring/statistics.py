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
from ..utils.arrays import FloatArray, IntArray

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


@dataclass
class NumericCounts:
    """A numeric reference column too large to hold, as the KS test and the
    PSI need it, counted a part at a time: how many of its values fall between
    CURRENT's distinct values ``points`` (each point's gap closed on the right
    in ``up_to``, on the left in ``from_``; the last gap beyond every point),
    and in each PSI bin of ``edges``."""

    points: FloatArray
    edges: FloatArray
    size: int
    up_to: IntArray
    from_: IntArray
    bins: IntArray

    @classmethod
    def around(cls, points: FloatArray, edges: FloatArray) -> NumericCounts:
        """Nothing counted yet around ``points`` (sorted) and in ``edges``' bins."""
        gaps = np.zeros(len(points) + 1, dtype=np.int64)
        bins = np.zeros(len(edges) + 1, dtype=np.int64)
        return cls(points, edges, 0, gaps, gaps.copy(), bins)

    def add(self, located: Located) -> None:
        self.size += located.size
        for counts, (gaps, found) in (
            (self.up_to, located.up_to),
            (self.from_, located.from_),
        ):
            counts[gaps] += found  # each gap once: np.unique's output
        self.bins += located.bins

    def ks_test(self, current: FloatArray) -> tuple[float, float]:
        """The two-sample KS statistic of the counted reference against
        ``current`` (NaN removed), and its p-value by Smirnov's asymptotic
        distribution, as ``scipy.stats.ks_2samp`` gives them past 10,000 rows.

        The two empirical distribution functions differ most at a point of
        either sample: at CURRENT's points, or just below one of them.
        """
        at_most = np.cumsum(self.up_to)[:-1] / self.size
        below = np.cumsum(self.from_)[:-1] / self.size
        current_at = np.searchsorted(np.sort(current), self.points, side="right") / len(
            current
        )
        current_before = np.concatenate([[0.0], current_at[:-1]])
        statistic = max(
            float(np.max(np.abs(at_most - current_at))),
            float(np.max(np.abs(below - current_before))),
        )
        large, small = sorted([float(self.size), float(len(current))], reverse=True)
        effective = max(np.round(large * small / (large + small)), 1.0)
        p_value = stats.kstwo.sf(statistic, effective)
        return statistic, float(np.clip(p_value, 0.0, 1.0))


@dataclass
class Located:
    """Where one part's values of a numeric column fall (:class:`NumericCounts`):
    the gaps they fill with their counts, and the PSI bins' counts."""

    size: int
    up_to: tuple[IntArray, IntArray]
    from_: tuple[IntArray, IntArray]
    bins: IntArray


def locate(values: FloatArray, points: FloatArray, edges: FloatArray) -> Located:
    """Where ``values`` (NaN ignored) fall around ``points`` and in the bins of
    ``edges`` (:class:`NumericCounts`), in as few numbers as they allow."""
    values = values[~np.isnan(values)]
    return Located(
        size=len(values),
        up_to=np.unique(
            np.searchsorted(points, values, side="left"), return_counts=True
        ),
        from_=np.unique(
            np.searchsorted(points, values, side="right"), return_counts=True
        ),
        bins=bin_counts(values, edges),
    )


def numeric_drift(
    reference: FloatArray | NumericCounts,
    current: FloatArray,
    settings: MonitorParams,
    role: str,
) -> ColumnDrift:
    """KS test, KS statistic and PSI of two samples of numbers (NaN ignored),
    or of a counted reference and a sample."""
    current = current[~np.isnan(current)]
    if isinstance(reference, NumericCounts):
        statistic, p_value = reference.ks_test(current)
        expected, edges = reference.bins, reference.edges
    else:
        reference = reference[~np.isnan(reference)]
        result = stats.ks_2samp(reference, current)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        edges = psi_edges(reference, settings.psi_bins)
        expected = bin_counts(reference, edges)
    return ColumnDrift(
        role=role,
        kind="numeric",
        statistic=statistic,
        p_value=p_value,
        effect={"ks": statistic, "psi": psi(expected, bin_counts(current, edges))},
    )


def psi_edges(reference: FloatArray, bins: int) -> FloatArray:
    """The inner edges of ``bins`` reference-quantile bins (fewer when values
    repeat)."""
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_counts(values: FloatArray, edges: FloatArray) -> IntArray:
    """How many of ``values`` fall in each bin between ``edges``."""
    return np.bincount(
        np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1
    )


def psi(expected: IntArray, actual: IntArray) -> float:
    """Population stability index of the counts of two samples in the same bins."""
    shares = (
        np.maximum(counts / max(counts.sum(), 1), PSI_FLOOR)
        for counts in (expected, actual)
    )
    reference, current = shares
    return float(np.sum((current - reference) * np.log(current / reference)))


def category_counts(values: pd.Series) -> pd.Series:
    """Counts of each category, a missing value counted as ``MISSING``."""
    text = values.astype("string").fillna(MISSING)
    return text.value_counts(sort=False)


def categorical_drift(
    reference: pd.Series, current: pd.Series, settings: MonitorParams, role: str
) -> ColumnDrift:
    """Chi-square test of the 2 x k table of category counts (``reference``
    and ``current``, by :func:`category_counts`), with Cramer's V.

    Categories whose column total is too small for an expected count of
    ``min_expected`` are pooled into one; a category never seen in the
    reference is reported with its count.
    """
    table = pd.concat(
        [reference, current],
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


Reference = pd.Series | FloatArray | NumericCounts
"""A reference column as its test takes it: category counts, numbers, or
numbers counted (:class:`NumericCounts`)."""


def reference_side(values: Any, categorical: bool) -> pd.Series | FloatArray:
    """A reference sample's column as its test takes it."""
    if categorical:
        return category_counts(pd.Series(values))
    return as_numbers(values) if isinstance(values, pd.Series) else values


def column_drift(
    reference: Reference, current: Any, settings: MonitorParams, role: str
) -> ColumnDrift:
    """The test of one column: category counts by chi-square, numbers by KS."""
    if isinstance(reference, pd.Series):
        return categorical_drift(
            reference, category_counts(pd.Series(current)), settings, role
        )
    numbers = as_numbers(current) if isinstance(current, pd.Series) else current
    return numeric_drift(reference, np.asarray(numbers, np.float64), settings, role)


def feature_drift(
    reference: dict[str, Reference],
    current: pd.DataFrame,
    data: DataParams,
    settings: MonitorParams,
) -> dict[str, ColumnDrift]:
    """The test of every feature column, in the order of ``data.features``.

    Columns are tested in parallel threads: sorting, most of the work, runs
    outside Python's global lock.
    """
    names = list(data.features)
    with ThreadPoolExecutor() as pool:
        results = pool.map(
            lambda name: column_drift(
                reference[name], current[name], settings, "feature"
            ),
            names,
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
