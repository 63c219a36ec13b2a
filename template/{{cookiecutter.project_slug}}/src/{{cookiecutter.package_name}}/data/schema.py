"""The shape the data must have, built from the ``data`` section of params.yaml.

Each feature column is checked by its declared kind: numeric columns hold
finite numbers (within ``min``/``max`` when given), categorical columns hold
text, date columns hold dates written as their ``format`` says (ISO 8601 by
default), which validation turns into timestamps. A column may be missing
values only where ``nullable`` says so. The target is checked by task: a known
class for classification, a finite number for regression. Validation collects
every problem at once (pandera's lazy mode) and raises a
:class:`~.errors.DataValidationError` that names each column, the problem in
plain words and a few example rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from ..errors import DataValidationError
from ..params import DataParams, FeatureSpec
from ..utils.arrays import plain

MAX_EXAMPLES = 3


def category_strings(series: pd.Series) -> pd.Series:
    """A categorical column as text, missing values kept missing.

    Integer codes read from a file with gaps (``1.0, 2.0, NaN``) become
    ``"1", "2"``, so a category has one spelling however the file was read.
    """
    if pd.api.types.is_float_dtype(series):
        present = series.dropna()
        if (present == np.floor(present)).all():
            series = series.astype("Int64")
    return series.astype("string")


def label_values(series: pd.Series) -> pd.Series:
    """Class labels as a person reads them: booleans as ``"True"``/``"False"``,
    whole numbers read as floats as integers; anything else as it is."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(str)
    if pd.api.types.is_float_dtype(series):
        present = series.dropna()
        if len(present) == len(series) and (present == np.floor(present)).all():
            return series.astype("int64")
    return series


def parse_dates(values: pd.Series, spec: FeatureSpec) -> pd.Series:
    """Dates as timestamps (UTC, without a zone); missing where unreadable.

    Text is read in ``spec.format``, and in ISO 8601 (what the project itself
    writes, e.g. ``sample``); timestamps and Python datetimes (from Excel,
    Parquet or the API) are taken as they are.
    """
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.infer_dtype(
        values, skipna=True
    ) in ("datetime", "datetime64", "date"):
        return pd.to_datetime(values, utc=True).dt.tz_localize(None)
    text = values.astype("string")
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if spec.format is not None:
        unread = parsed.isna()
        parsed[unread] = pd.to_datetime(
            text[unread], format=spec.format, errors="coerce", utc=True
        )
    return parsed.dt.tz_localize(None)


def unreadable_dates(frame: pd.DataFrame, data: DataParams) -> list[str]:
    """A phrase for each date column with values that are not dates."""
    problems = []
    for name in data.dates:
        if name not in frame.columns:
            continue
        values = frame[name]
        bad = values.notna() & parse_dates(values, data.features[name]).isna()
        if bad.any():
            form = "ISO 8601 (2024-12-31)"
            if data.features[name].format:
                form = f"{data.features[name].format} or {form}"
            examples = ", ".join(repr(plain(v)) for v in values[bad][:MAX_EXAMPLES])
            rows = ", ".join(str(int(i) + 1) for i in values.index[bad][:MAX_EXAMPLES])
            problems.append(
                f"column {name!r} has {int(bad.sum())} value(s) that are not dates "
                f"written as {form}, e.g. {examples} at row(s) {rows}"
            )
    return problems


def normalise(frame: pd.DataFrame, data: DataParams) -> pd.DataFrame:
    """Give categorical features their text form, dates their timestamps and
    class labels their form."""
    columns = {
        name: category_strings(frame[name])
        for name in data.categorical
        if name in frame.columns
    }
    columns |= {
        name: parse_dates(frame[name], data.features[name])
        for name in data.dates
        if name in frame.columns
    }
    if data.task == "classification" and data.target in frame.columns:
        columns[data.target] = label_values(frame[data.target])
    return frame.assign(**columns) if columns else frame


def _feature_column(spec: FeatureSpec) -> pa.Column:
    if spec.kind == "datetime":
        bounds = []
        if spec.min is not None:
            bounds.append(pa.Check.ge(pd.Timestamp(spec.min)))
        if spec.max is not None:
            bounds.append(pa.Check.le(pd.Timestamp(spec.max)))
        return pa.Column(
            "datetime64[ns]", checks=bounds, nullable=spec.nullable, coerce=True
        )
    if spec.kind == "categorical":
        allowed = [pa.Check.isin(spec.categories)] if spec.categories else []
        return pa.Column("string", checks=allowed, nullable=spec.nullable)
    checks = [pa.Check(np.isfinite, name="finite")]
    if spec.min is not None:
        checks.append(pa.Check.ge(spec.min))
    if spec.max is not None:
        checks.append(pa.Check.le(spec.max))
    return pa.Column(float, checks=checks, nullable=spec.nullable, coerce=True)


def build_schema(
    data: DataParams,
    *,
    target: bool = True,
    strict: bool | Literal["filter"] = True,
) -> pa.DataFrameSchema:
    """Schema of a table described by ``data``, with or without its target.

    ``strict=True`` rejects columns ``data`` does not describe; ``"filter"``
    drops them (a source file may hold ids or notes the model does not use).
    """
    columns = {name: _feature_column(spec) for name, spec in data.features.items()}
    if target and data.task == "classification":
        columns[data.target] = pa.Column(
            checks=pa.Check.isin(data.labels), nullable=False
        )
    elif target:
        columns[data.target] = pa.Column(
            float,
            checks=pa.Check(np.isfinite, name="finite"),
            nullable=False,
            coerce=True,
        )
    return pa.DataFrameSchema(columns, strict=strict, name="dataset")


def validate_frame(
    frame: pd.DataFrame,
    data: DataParams,
    what: str,
    *,
    target: bool = True,
    strict: bool | Literal["filter"] = True,
) -> pd.DataFrame:
    """Return ``frame`` normalised and checked against the schema of ``data``.

    Raises :class:`DataValidationError` naming every problem when the frame is
    empty or breaks the schema. ``what`` names the data in the message.
    """
    if len(frame) == 0:
        raise DataValidationError(f"{what} is empty: it has no rows.")
    schema = build_schema(data, target=target, strict=strict)
    unreadable = unreadable_dates(frame, data)
    if unreadable:
        raise DataValidationError(f"{what} failed validation: {'; '.join(unreadable)}.")
    try:
        return schema.validate(normalise(frame, data), lazy=True)
    except SchemaErrors as exc:
        problems = describe_failures(exc.failure_cases, data)
        raise DataValidationError(
            f"{what} failed validation: {'; '.join(problems)}."
        ) from exc


def describe_failures(failure_cases: pd.DataFrame, data: DataParams) -> list[str]:
    """Turn pandera's table of failure cases into one plain phrase per problem."""
    problems = []
    checks = failure_cases["check"].astype(str)
    # Where values are not of the column's type, other checks on that column
    # only repeat the problem (as Python errors), and coercing and checking
    # the type fail on the same values: report the type once.
    untyped = set(failure_cases["column"][checks.str.match(r"(coerce_)?dtype")])
    reported: set[object] = set()
    grouped = failure_cases.groupby(["column", "check"], dropna=False, sort=False)
    for (column, check), cases in grouped:
        if column in untyped:
            if column in reported or not str(check).startswith(
                ("coerce_dtype", "dtype")
            ):
                continue
            reported.add(column)
        values = [str(value) for value in cases["failure_case"]]
        if check == "column_in_dataframe":
            problems.append(f"missing column(s) {', '.join(map(repr, values))}")
        elif check == "column_in_schema":
            problems.append(f"unexpected column(s) {', '.join(map(repr, values))}")
        else:
            problems.append(_describe_values(str(column), str(check), cases, data))
    return problems


def _what_failed(column: str, check: str, data: DataParams) -> str:
    """The problem behind one pandera check, in words a person uses."""
    spec = data.features.get(column)
    if check == "not_nullable":
        return "missing value(s)"
    if check.startswith(("coerce_dtype", "dtype")):
        if spec is not None and spec.kind == "categorical":
            return "value(s) that are not text"
        if spec is not None and spec.kind == "datetime":
            return "value(s) that are not dates"
        return "value(s) that are not numbers"
    if check == "finite":
        return "infinite value(s)"
    if check.startswith("isin") and spec is not None:
        return f"value(s) outside the categories {spec.categories}"
    if check.startswith("isin"):
        return f"label(s) outside the classes {data.labels}"
    if check.startswith("greater_than_or_equal_to") and spec is not None:
        return f"value(s) below the minimum {spec.min}"
    if check.startswith("less_than_or_equal_to") and spec is not None:
        return f"value(s) above the maximum {spec.max}"
    return f"value(s) failing the check {check}"


def _describe_values(
    column: str, check: str, cases: pd.DataFrame, data: DataParams
) -> str:
    """Describe the rows of one column that failed one check."""
    rows = [int(row) + 1 for row in cases["index"].dropna().tolist()[:MAX_EXAMPLES]]
    shown = cases["failure_case"][:MAX_EXAMPLES]
    examples = ", ".join(repr(plain(value)) for value in shown)
    problem = _what_failed(column, check, data)
    where = f" at row(s) {', '.join(map(str, rows))}" if rows else ""
    if check == "not_nullable":
        return f"column {column!r} has {len(cases)} {problem}{where}"
    return f"column {column!r} has {len(cases)} {problem}, e.g. {examples}{where}"
