"""The two sides of a drift comparison: validated rows, and what each column's
test takes of the reference.

A reference of at most :data:`REFERENCE_ROWS` rows is held whole. Past that,
the figure and the PSI's bin edges come from a seeded sample of that many rows;
the tests take the sample too with the pandas engine, while with the Dask
engine (``data.engine: dask``) the cluster counts what they need over every
row, a row group at a time (:func:`count_reference`): category counts, and
how each numeric column falls around CURRENT's values and in the PSI's bins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import label_values, validate_frame
from ..errors import DataValidationError
from ..modeling.predictor import Predictor
from ..params import DaskParams, DataParams, MonitorParams
from ..utils.arrays import FloatArray
from .report import LABEL, PREDICTION
from .statistics import (
    Located,
    NumericCounts,
    Reference,
    as_numbers,
    category_counts,
    locate,
    psi_edges,
)

REFERENCE_ROWS = 100_000
"""A reference is held as at most this many rows, a seeded sample read a row
group at a time: the tests' verdicts hardly change beyond, and a training
split of any size fits in memory this way."""


@dataclass
class Table:
    """Validated rows: the feature columns, the target when present, and the
    model's predictions once made."""

    features: pd.DataFrame
    target: pd.Series | None
    predicted: pd.Series | FloatArray | None = None

    def columns(self, data: DataParams) -> dict[str, Any]:
        """Each tested column's values: the features, then the label and the
        predictions where the table has them."""
        found: dict[str, Any] = {name: self.features[name] for name in data.features}
        if self.target is not None:
            found[LABEL] = self.target
        if self.predicted is not None:
            found[PREDICTION] = self.predicted
        return found


def is_categorical(name: str, data: DataParams) -> bool:
    """Whether the column ``name`` of a :class:`Table` is tested as categories."""
    if name in data.features:
        return data.features[name].kind == "categorical"
    return data.task == "classification"  # the label and the predictions


def numbers(values: Any) -> FloatArray:
    """A numeric column's values as numbers (a date column's as days)."""
    if isinstance(values, pd.Series):
        return as_numbers(values)
    return np.asarray(values, dtype=np.float64)


def side(values: Any, categorical: bool) -> pd.Series | FloatArray:
    """A reference column's values as its test takes them: category counts,
    or numbers."""
    return category_counts(pd.Series(values)) if categorical else numbers(values)


@dataclass
class Counts:
    """What the tests take of a reference, counted over every row."""

    rows: int
    sides: dict[str, Reference]


def reference_sides(
    reference: Table, data: DataParams, counted: Counts | None
) -> dict[str, Reference]:
    """What each column's test takes of the reference: its counts where the
    reference was counted, else the rows held."""
    if counted is not None:
        return counted.sides
    return {
        name: side(values, is_categorical(name, data))
        for name, values in reference.columns(data).items()
    }


def checked(frame: pd.DataFrame, data: DataParams, what: str) -> Table:
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


def validated(frame: pd.DataFrame, data: DataParams, what: str) -> Table:
    """:func:`checked` rows, refused when a feature has no values at all."""
    table = checked(frame, data, what)
    empty = [name for name in data.features if table.features[name].isna().all()]
    if empty:
        raise DataValidationError(
            f"{what} has no values at all in column(s) "
            f"{', '.join(map(repr, empty))}: nothing to compare."
        )
    return table


def predicted(predictor: Predictor, table: Table, outputs: FloatArray) -> Table:
    """``table`` with what the model predicts of its rows from its
    ``outputs``: class labels (as text) or values."""
    if predictor.task == "regression":
        return replace(table, predicted=outputs)
    labels = [str(label) for label in predictor.predicted_labels(outputs)]
    return replace(table, predicted=pd.Series(labels, dtype="string"))


@dataclass
class Plan:
    """What each part of a reference is counted against: CURRENT's distinct
    values and the sample's PSI edges of each numeric column, and the model."""

    data: DataParams
    what: str
    points: dict[str, FloatArray]
    edges: dict[str, FloatArray]
    predictor: Predictor
    label: bool

    @classmethod
    def of(
        cls,
        sample: Table,
        current: Table,
        data: DataParams,
        settings: MonitorParams,
        predictor: Predictor,
        what: str,
    ) -> Plan:
        """Count the columns ``current`` shares with the reference ``sample``."""
        reference, compared = sample.columns(data), current.columns(data)
        numeric = [
            name
            for name in compared
            if name in reference and not is_categorical(name, data)
        ]

        def present(values: Any) -> FloatArray:
            found = numbers(values)
            return found[~np.isnan(found)]

        return cls(
            data=data,
            what=what,
            points={name: np.unique(present(compared[name])) for name in numeric},
            edges={
                name: psi_edges(present(reference[name]), settings.psi_bins)
                for name in numeric
            },
            predictor=predictor,
            label=LABEL in compared and LABEL in reference,
        )


@dataclass
class PartCounts:
    """One row group's counts (:func:`count_part`)."""

    rows: int
    categories: dict[str, pd.Series]
    numbers: dict[str, Located]


def count_part(frame: pd.DataFrame, plan: Plan) -> PartCounts:
    """Validate one part of the reference, predict its rows, and count them."""
    table = checked(frame, plan.data, plan.what)
    table = predicted(plan.predictor, table, plan.predictor.outputs(table.features))
    columns = table.columns(plan.data)
    if not plan.label:
        columns.pop(LABEL, None)
    return PartCounts(
        rows=len(frame),
        categories={
            name: category_counts(pd.Series(values))
            for name, values in columns.items()
            if name not in plan.points
        },
        numbers={
            name: locate(numbers(values), plan.points[name], plan.edges[name])
            for name, values in columns.items()
            if name in plan.points
        },
    )


def fold(parts: Iterable[PartCounts], plan: Plan) -> Counts:
    """The counts of the whole reference, from its parts' counts."""
    numbers = {
        name: NumericCounts.around(points, plan.edges[name])
        for name, points in plan.points.items()
    }
    categories: dict[str, pd.Series] = {}
    rows = 0
    for part in parts:
        rows += part.rows
        for name, located in part.numbers.items():
            numbers[name].add(located)
        for name, counts in part.categories.items():
            total = categories.get(name)
            categories[name] = (
                counts if total is None else total.add(counts, fill_value=0)
            )
    counted: dict[str, Reference] = {
        name: counts.astype(np.int64) for name, counts in categories.items()
    }
    return Counts(rows, {**counted, **numbers})


def count_reference(path: Path, plan: Plan, params: DaskParams) -> Counts:
    """Count the reference at ``path`` on the Dask cluster, a row group at a time."""
    from distributed import get_client

    from ..data import dask_engine

    with dask_engine.cluster(params):
        table = dask_engine.read_stage_file(path, plan.what)
        shared = get_client().scatter(plan, broadcast=True)
        return fold(table.each(count_part, f"counting {plan.what}", shared), plan)
