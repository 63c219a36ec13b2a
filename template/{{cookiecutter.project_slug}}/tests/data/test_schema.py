"""The schema accepts valid tables and rejects every kind of corruption, with a
message in plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import frame_params, make_frame, passengers
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.data.schema import validate_frame
from {{ cookiecutter.package_name }}.errors import DataValidationError
from {{ cookiecutter.package_name }}.params import DataParams, FeatureSpec

FEATURES = ["f0", "f1", "f2"]
DATA = frame_params(make_frame())
PASSENGERS = DataParams(
    target="survived",
    classes=["no", "yes"],
    features={
        "cabin_class": FeatureSpec(),
        "sex": FeatureSpec(kind="categorical"),
        "age": FeatureSpec(nullable=True),
        "port": FeatureSpec(kind="categorical", nullable=True),
    },
)

TECHNICAL = ("Error(", "dtype", "float64", "object", "Traceback")
"""Words of Python's and pandas' own messages, which a refusal never shows."""

rows = st.integers(min_value=0, max_value=39)
feature_names = st.sampled_from(FEATURES)


def check(frame: pd.DataFrame, data: DataParams = DATA) -> pd.DataFrame:
    return validate_frame(frame, data, "test data")


def refusal(frame: pd.DataFrame, data: DataParams = DATA) -> str:
    """The message of the validation error ``frame`` raises."""
    with pytest.raises(DataValidationError) as info:
        check(frame, data)
    message = str(info.value)
    # Plain words: no Python exception text and no dtype names.
    for fragment in TECHNICAL:
        assert fragment not in message
    return message


def test_valid_frame_passes() -> None:
    frame = make_frame()
    assert check(frame).shape == frame.shape


def test_integer_features_are_coerced_to_float() -> None:
    frame = make_frame()
    frame["f0"] = frame["f0"].round().astype("int64")
    assert check(frame)["f0"].dtype == np.float64


@given(row=rows, column=feature_names)
def test_rejects_injected_nan(row: int, column: str) -> None:
    frame = make_frame()
    frame.loc[row, column] = np.nan
    message = refusal(frame)
    assert f"'{column}' has 1 missing value(s) at row(s) {row + 1}" in message


@given(column=st.sampled_from([*FEATURES, "target"]))
def test_rejects_dropped_column(column: str) -> None:
    frame = make_frame().drop(columns=[column])
    assert f"missing column(s) '{column}'" in refusal(frame)


@given(
    row=rows,
    column=feature_names,
    value=st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
)
def test_rejects_a_value_below_the_minimum(row: int, column: str, value: float) -> None:
    frame = make_frame()
    frame.loc[row, column] = value
    assert f"'{column}' has 1 value(s) below the minimum 0.0" in refusal(frame)


@given(row=rows, column=feature_names, value=st.sampled_from([np.inf, -np.inf]))
def test_rejects_infinite_feature(row: int, column: str, value: float) -> None:
    frame = make_frame()
    frame.loc[row, column] = value
    unbounded = frame_params(frame, features={c: FeatureSpec() for c in FEATURES})
    assert f"'{column}' has 1 infinite value(s)" in refusal(frame, unbounded)


@given(
    row=rows,
    label=st.integers(min_value=-1000, max_value=1000).filter(
        lambda v: v not in (0, 1)
    ),
)
def test_rejects_unknown_class(row: int, label: int) -> None:
    frame = make_frame()
    frame.loc[row, "target"] = label
    message = refusal(frame)
    assert "'target' has 1 label(s) outside the classes [0, 1]" in message
    assert f"e.g. {label}" in message


@settings(max_examples=20)
@given(
    row=rows,
    column=feature_names,
    # Text that is no number, and no word the refusal's own check looks for.
    text=st.text(min_size=1).filter(
        lambda s: not _is_number(s) and not any(word in s for word in TECHNICAL)
    ),
)
def test_rejects_text_in_a_numeric_column(row: int, column: str, text: str) -> None:
    frame = make_frame()
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = text
    message = refusal(frame)
    assert f"'{column}' has 1 value(s) that are not numbers, e.g. {text!r}" in message


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_rejects_unexpected_column() -> None:
    frame = make_frame().assign(extra=1.0)
    assert "unexpected column(s) 'extra'" in refusal(frame)


def test_filter_mode_drops_undescribed_columns() -> None:
    frame = make_frame().assign(row_id=range(40))
    checked = validate_frame(frame, DATA, "source", strict="filter")
    assert "row_id" not in checked.columns


def test_rejects_empty_frame() -> None:
    assert "empty" in refusal(make_frame().iloc[0:0])


def test_message_lists_every_problem() -> None:
    frame = make_frame().drop(columns=["f2"])
    frame.loc[3, "f0"] = np.nan
    frame.loc[5, "f1"] = -2.0
    message = refusal(frame)
    assert "'f2'" in message and "'f0'" in message and "'f1'" in message


def test_categorical_and_nullable_columns_follow_their_declaration() -> None:
    frame = passengers()
    checked = check(frame.drop(columns="passenger_id"), PASSENGERS)
    assert checked["age"].isna().any() and checked["port"].isna().any()
    assert checked["sex"].tolist()[:3] == frame["sex"].tolist()[:3]


def test_missing_value_in_a_non_nullable_categorical_column_is_refused() -> None:
    frame = passengers().drop(columns="passenger_id")
    frame.loc[7, "sex"] = None
    assert "'sex' has 1 missing value(s) at row(s) 8" in refusal(frame, PASSENGERS)


def test_values_outside_listed_categories_are_named() -> None:
    frame = passengers().drop(columns="passenger_id")
    sexes = sorted(frame["sex"].unique())
    listed = PASSENGERS.model_copy(deep=True)
    listed.features["sex"].categories = sexes
    assert check(frame, listed)["sex"].isin(sexes).all()
    frame.loc[4, "sex"] = "unknown"
    message = refusal(frame, listed)
    assert f"'sex' has 1 value(s) outside the categories {sexes}" in message
    assert "'unknown'" in message and "row(s) 5" in message


def test_categories_are_refused_on_a_numeric_column() -> None:
    with pytest.raises(ValueError, match="categorical columns only"):
        FeatureSpec(kind="numeric", categories=["a"])


def test_text_labels_outside_the_classes_are_named() -> None:
    frame = passengers().drop(columns="passenger_id")
    frame.loc[2, "survived"] = "maybe"
    message = refusal(frame, PASSENGERS)
    assert "'survived' has 1 label(s) outside the classes ['no', 'yes']" in message
    assert "'maybe'" in message and "row(s) 3" in message


def test_regression_target_must_be_a_finite_number() -> None:
    frame = make_frame().assign(target=lambda f: f["f0"] * 2.0)
    data = frame_params(frame, task="regression", classes=None)
    assert check(frame, data)["target"].dtype == np.float64
    frame.loc[4, "target"] = np.inf
    assert "'target' has 1 infinite value(s)" in refusal(frame, data)
    frame.loc[4, "target"] = np.nan
    assert "'target' has 1 missing value(s)" in refusal(frame, data)


DATED = DataParams(
    target="target",
    classes=[0, 1],
    features={"day": FeatureSpec(kind="datetime", format="%d/%m/%Y", nullable=True)},
)


def test_dates_read_in_their_format_or_iso_and_missing_ones_stay_missing() -> None:
    frame = pd.DataFrame(
        {"day": ["31/12/2024", "2025-01-02", None], "target": [0, 1, 0]}
    )
    checked = check(frame, DATED)
    assert checked["day"].tolist()[:2] == [
        pd.Timestamp("2024-12-31"),
        pd.Timestamp("2025-01-02"),
    ]
    assert pd.isna(checked["day"].iloc[2])


def test_text_that_is_no_date_is_refused_naming_the_form() -> None:
    frame = pd.DataFrame(
        {"day": ["31/12/2024", "12/31/2024", "soon"], "target": [0, 1, 0]}
    )
    message = refusal(frame, DATED)
    assert "'day' has 2 value(s) that are not dates written as %d/%m/%Y" in message
    assert "'12/31/2024', 'soon' at row(s) 2, 3" in message


BOUNDED = DataParams(
    target="target",
    classes=[0, 1],
    features={"day": FeatureSpec(kind="datetime", min="2024-01-01", max="2024-12-31")},
)


def test_dates_outside_their_bounds_are_refused() -> None:
    frame = pd.DataFrame(
        {"day": ["2023-12-31", "2024-06-01", "2025-01-01"], "target": [0, 1, 0]}
    )
    message = refusal(frame, BOUNDED)
    assert "'day' has 1 value(s) below the minimum 2024-01-01" in message
    assert "'day' has 1 value(s) above the maximum 2024-12-31" in message


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"kind": "numeric", "min": "2020-01-01"}, "min and max are numbers"),
        ({"kind": "datetime", "max": 5}, "min and max are dates"),
        ({"kind": "categorical", "min": 1}, "numeric and datetime columns only"),
        ({"kind": "datetime", "min": "2021-01-01", "max": "2020-01-01"}, "is above"),
    ],
)
def test_bounds_must_fit_the_kind(spec: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        FeatureSpec.model_validate(spec)
