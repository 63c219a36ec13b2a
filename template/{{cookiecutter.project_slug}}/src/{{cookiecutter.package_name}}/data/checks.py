"""Data-quality and leakage checks: what makes a model look better than it is,
or learn nothing, without breaking the schema.

``init-data`` runs :func:`check_table` on the file it adopts; ``prepare``
runs it again on the raw snapshot and :func:`check_split` on the split:

- a feature that copies the target, recodes it one to one, or alone predicts
  it almost perfectly (leakage: it will not be there when the label is not);
- rows that repeat exactly, and test rows that are copies of training rows
  (the test score then measures memory);
- a column that holds one value in every row;
- classes far from balanced.

A finding is a warning that names the columns; ``data.checks: error`` in
params.yaml makes it stop the run instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.tree import DecisionTreeClassifier

from ..errors import DataValidationError
from ..params import DataParams
from ..utils.arrays import IntArray
from .schema import category_strings
from .split import row_hashes
from .tables import sample_positions

logger = logging.getLogger(__name__)

ALMOST_PERFECT = 0.99
"""A feature whose score alone reaches this (balanced accuracy, or the
absolute rank correlation or share of variance for regression) leaks."""
ROWS_PER_GROUP = 10
"""Grouping by a feature is judged only when its values hold this many rows
each on average: fewer, and any column would look predictive."""
SAMPLE_ROWS = 100_000
"""Leakage is judged on at most this many rows (a seeded sample): enough to
see a near-perfect predictor, and seconds however large the table."""
IMBALANCE_RATIO = 10.0
"""Largest to smallest class size above which the classes count as imbalanced."""
MAX_EXAMPLES = 3
{%- if cookiecutter.ml_framework == "sklearn" %}
CLASS_WEIGHT_HINT = (
    "set class_weight: balanced in the model's train section of params.yaml, and "
    "judge the model by balanced_accuracy"
)
{%- else %}
CLASS_WEIGHT_HINT = (
    "judge the model by balanced_accuracy, and consider resampling the rare "
    "classes (the MLP weighs every row alike)"
)
{%- endif %}


@dataclass(frozen=True)
class Finding:
    """One problem found: which check, and what it found in words."""

    check: str
    message: str


def check_table(frame: pd.DataFrame, data: DataParams) -> list[Finding]:
    """Leakage, repeated rows, constant columns and class balance of a table
    with ``data``'s features and target (other columns are not looked at)."""
    frame = frame[[*data.features, data.target]]
    findings = [*leaking_features(frame, data), *constant_columns(frame, data)]
    repeated = frame.duplicated(keep="first")
    if repeated.any():
        findings.append(
            Finding(
                "duplicates",
                f"{int(repeated.sum())} row(s) repeat an earlier row in every "
                "feature and the target, e.g. row(s) "
                f"{row_numbers(frame.index[repeated])}: if they are one record "
                "written twice, drop them, or copies can land in both the train "
                "and the test split.",
            )
        )
    if data.task == "classification":
        findings.extend(imbalance(frame[data.target]))
    return findings


def check_split(train: pd.DataFrame, test: pd.DataFrame) -> list[Finding]:
    """Test rows that are exact copies (features and target) of training rows."""
    return copied_rows(row_hashes(train), row_hashes(test))


def copied_rows(train: pd.Series, test: pd.Series) -> list[Finding]:
    """The finding of :func:`check_split` from the rows' :func:`row_hashes`."""
    shared = test.isin(train.to_numpy())  # not a set: millions of Python ints
    if not shared.any():
        return []
    return [
        Finding(
            "train-test-overlap",
            f"{int(shared.sum())} of {len(test)} test row(s) equal a training row "
            "in every feature and the target, e.g. row(s) "
            f"{row_numbers(test.index[shared.to_numpy()])} of the data: the test "
            "score rewards memory. Drop repeated records from the file.",
        )
    ]


def report(findings: list[Finding], data: DataParams, where: str) -> None:
    """Log each finding as a warning; raise them all when ``data.checks`` is
    ``error``."""
    if findings and data.checks == "error":
        raise DataValidationError(
            f"{where} fails its data checks (data.checks: error in params.yaml):\n"
            + "\n".join(f"- {finding.message}" for finding in findings)
        )
    for finding in findings:
        logger.warning("%s: %s", where, finding.message)


def leaking_features(frame: pd.DataFrame, data: DataParams) -> list[Finding]:
    """Features that copy the target, recode it one to one, or alone predict
    it almost perfectly."""
    if len(frame) > SAMPLE_ROWS:
        frame = frame.iloc[sample_rows(len(frame))]
    target = frame[data.target]
    labels = category_strings(target)
    distinct = target.nunique()
    # Classes as integer codes: scoring sorts them, and text sorts slowly.
    codes = pd.Series(pd.factorize(labels)[0], index=frame.index)
    findings = []
    for name, spec in data.features.items():
        column = frame[name]
        same_count = column.nunique() == distinct
        # Two columns without a repeated value (a key, a timestamp; a
        # continuous target) always pair one to one: that proves nothing.
        repeats = distinct < target.notna().sum()
        if same_count and category_strings(column).equals(labels):
            what = "is a copy of the target"
        elif same_count and repeats and one_to_one(column, target):
            what = "recodes the target one to one"
        else:
            score = predictive_score(column, target, codes, spec.kind, data.task)
            if score < ALMOST_PERFECT:
                continue
            what = f"alone predicts the target almost perfectly (score {score:.3f})"
        findings.append(
            Finding(
                "leakage",
                f"Feature {name!r} {what} {data.target!r}: if it is only known "
                "with the label, leave it out of columns.yaml.",
            )
        )
    return findings


def sample_rows(n_rows: int) -> IntArray:
    """Positions of the rows the checks judge a table of ``n_rows`` by: all of
    them, in order, up to :data:`SAMPLE_ROWS`; beyond, a seeded sample of that
    many (the Dask engine checks the whole table on these rows alone)."""
    return sample_positions(n_rows, SAMPLE_ROWS)


def one_to_one(column: pd.Series, target: pd.Series) -> bool:
    """Each value of ``column`` goes with one target value and back."""
    pairs = pd.DataFrame(
        {"x": category_strings(column), "y": category_strings(target)}
    ).dropna()
    return bool(
        len(pairs)
        and (pairs.groupby("x")["y"].nunique() == 1).all()
        and (pairs.groupby("y")["x"].nunique() == 1).all()
    )


def predictive_score(
    column: pd.Series, target: pd.Series, codes: pd.Series, kind: str, task: str
) -> float:
    """How well ``column`` alone predicts ``target`` (``codes``: its classes
    as integers), from 0 to 1.

    Classification: the balanced accuracy of the best few-leaf tree on the
    column (numeric), or of each value's most common class (categorical).
    Regression: the absolute rank correlation (numeric), or the share of the
    target's variance that the values' means explain (categorical).
    """
    present = column.notna().to_numpy()
    values, labels = column[present], target[present]
    if len(values) < 2 * ROWS_PER_GROUP:
        return 0.0
    if kind == "numeric" and task == "regression":
        correlation = pd.Series(values.to_numpy(dtype=float)).corr(
            pd.Series(labels.to_numpy(dtype=float)), method="spearman"
        )
        return 0.0 if np.isnan(correlation) else float(abs(correlation))
    y = codes[present].to_numpy()
    if kind == "numeric":
        tree = DecisionTreeClassifier(
            max_leaf_nodes=2 * int(y.max() + 1),
            min_samples_leaf=ROWS_PER_GROUP,
            random_state=0,
        )
        x = values.to_numpy(dtype=float).reshape(-1, 1)
        return float(balanced_accuracy_score(y, tree.fit(x, y).predict(x)))
    groups = category_strings(values)
    if groups.nunique() * ROWS_PER_GROUP > len(groups):
        return 0.0
    if task == "regression":
        numbers = labels.astype(float)
        explained = numbers.groupby(groups.to_numpy()).transform("mean")
        total = float(((numbers - numbers.mean()) ** 2).sum())
        return (
            0.0 if total == 0 else float(1 - ((numbers - explained) ** 2).sum() / total)
        )
    classes = pd.Series(y, index=groups.index)
    majority = classes.groupby(groups.to_numpy()).agg(
        lambda v: v.value_counts().index[0]
    )
    return float(balanced_accuracy_score(y, groups.map(majority).to_numpy(int)))


def constant_columns(frame: pd.DataFrame, data: DataParams) -> list[Finding]:
    """Features that hold one value (or nothing) in every row."""
    return [
        Finding(
            "constant",
            f"Feature {name!r} holds one value in every row "
            f"({frame[name].iloc[0]!r}): it cannot inform the model.",
        )
        for name in data.features
        if frame[name].nunique(dropna=False) <= 1
    ]


def imbalance(target: pd.Series) -> list[Finding]:
    """The classes' sizes when the largest outnumbers the smallest by more than
    :data:`IMBALANCE_RATIO`."""
    counts = category_strings(target).value_counts()
    ratio = counts.iloc[0] / counts.iloc[-1]
    if ratio <= IMBALANCE_RATIO:
        return []
    return [
        Finding(
            "imbalance",
            f"The classes are imbalanced: {counts.index[0]!r} has "
            f"{counts.iloc[0]} rows, {counts.index[-1]!r} {counts.iloc[-1]} "
            f"({ratio:.0f}:1). Accuracy then rewards always answering "
            f"{counts.index[0]!r}: {CLASS_WEIGHT_HINT}.",
        )
    ]


def row_numbers(index: pd.Index) -> str:
    """The first few rows of ``index`` as a person counts them (from 1)."""
    return ", ".join(str(int(i) + 1) for i in index[:MAX_EXAMPLES])
