"""The shape the data must have: columns, dtypes, ranges and classes.

Validation collects every problem at once (pandera's lazy mode) and raises a
:class:`~.errors.DataValidationError` whose message names each bad column and
check, so a person can fix the data without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from .errors import DataValidationError

MAX_EXAMPLES = 3


def build_schema(
    features: Sequence[str],
    target: str,
    classes: Sequence[int],
    min_value: float | None = None,
) -> pa.DataFrameSchema:
    """Schema of a labelled table: finite float features and a known class.

    Features are coerced to float64 (so integer columns are accepted, text is
    not), may not be missing or infinite and, when ``min_value`` is given, may
    not be below it. The target must be an integer column whose values are all
    in ``classes``. Columns not named here are rejected.
    """
    checks = [pa.Check(np.isfinite, error="finite")]
    if min_value is not None:
        checks.append(pa.Check.ge(min_value))
    columns = {
        name: pa.Column(float, checks=checks, nullable=False, coerce=True)
        for name in features
    }
    columns[target] = pa.Column(
        "int64", checks=pa.Check.isin(list(classes)), nullable=False
    )
    return pa.DataFrameSchema(columns, strict=True, name="dataset")


def validate(
    frame: pd.DataFrame, schema: pa.DataFrameSchema, what: str
) -> pd.DataFrame:
    """Return ``frame`` checked (and coerced) by ``schema``.

    Raises :class:`DataValidationError` naming every problem when the frame is
    empty or breaks the schema. ``what`` names the data in the message.
    """
    if len(frame) == 0:
        raise DataValidationError(f"{what} is empty: it has no rows.")
    try:
        return schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        problems = describe_failures(exc.failure_cases)
        raise DataValidationError(
            f"{what} failed validation: {'; '.join(problems)}."
        ) from exc


def describe_failures(failure_cases: pd.DataFrame) -> list[str]:
    """Turn pandera's table of failure cases into one sentence per problem."""
    problems = []
    grouped = failure_cases.groupby(["column", "check"], dropna=False, sort=False)
    for (column, check), cases in grouped:
        values = cases["failure_case"].tolist()
        if check == "column_in_dataframe":
            names = ", ".join(repr(value) for value in values)
            problems.append(f"missing column(s) {names}")
        elif check == "column_in_schema":
            names = ", ".join(repr(value) for value in values)
            problems.append(f"unexpected column(s) {names}")
        elif str(check).startswith("dtype("):
            problems.append(
                f"column {column!r} has dtype {values[0]}, expected {str(check)[6:-1]}"
            )
        else:
            problems.append(_describe_values(str(column), str(check), cases))
    return problems


def _describe_values(column: str, check: str, cases: pd.DataFrame) -> str:
    """Describe the rows of one column that failed one check."""
    rows = [int(row) for row in cases["index"].dropna().tolist()[:MAX_EXAMPLES]]
    examples = ", ".join(repr(value) for value in cases["failure_case"][:MAX_EXAMPLES])
    label = (
        "missing values (NaN)" if check == "not_nullable" else f"values failing {check}"
    )
    where = f" at row(s) {', '.join(map(str, rows))}" if rows else ""
    return f"column {column!r} has {len(cases)} {label}, e.g. {examples}{where}"
