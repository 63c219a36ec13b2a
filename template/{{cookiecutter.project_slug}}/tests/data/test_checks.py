"""The data-quality and leakage checks name what they find: a feature that
copies, recodes or all but gives away the target, repeated rows and test rows
copied from training rows, constant columns and imbalanced classes; ordinary
data sets pass them, and ``data.checks: error`` turns a finding into a stop."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from conftest import diabetes_progression, iris_with_names
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.data.checks import (
    check_split,
    check_table,
    report,
)
from {{ cookiecutter.package_name }}.data.init_data import infer_data
from {{ cookiecutter.package_name }}.data.split import split_frame
from {{ cookiecutter.package_name }}.errors import DataValidationError
from {{ cookiecutter.package_name }}.params import DataParams

SPLITS = (0.2, 0.2)


def described(frame: pd.DataFrame, target: str) -> DataParams:
    data, _ = infer_data(frame, "test data", target, None, SPLITS)
    return data


def findings_of(frame: pd.DataFrame, target: str) -> dict[str, list[str]]:
    """Each check's messages."""
    found: dict[str, list[str]] = {}
    for finding in check_table(frame, described(frame, target)):
        found.setdefault(finding.check, []).append(finding.message)
    return found


def customers(n_rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Distinct customers whose churn depends on their tenure, with noise."""
    rng = np.random.default_rng(seed)
    tenure = rng.uniform(0, 60, n_rows)
    plan = rng.choice(["basic", "plus", "pro"], n_rows)
    churn = np.where(tenure + rng.normal(0, 15, n_rows) < 20, "yes", "no")
    return pd.DataFrame({"tenure": tenure, "plan": plan, "churn": churn})


@pytest.mark.parametrize(
    "make", [customers, iris_with_names, diabetes_progression], ids=lambda f: f.__name__
)
def test_ordinary_data_has_no_leakage(make: Callable[[], pd.DataFrame]) -> None:
    frame = make()
    target = frame.columns[-1]
    assert "leakage" not in findings_of(frame, target)


@pytest.mark.parametrize(
    ("leak", "words"),
    [
        (lambda t: t, "is a copy of the target"),
        (lambda t: t.map({"yes": "churned", "no": "stayed"}), "recodes the target"),
        (lambda t: (t == "yes").astype(int), "recodes the target"),
    ],
    ids=["copy", "renamed", "as-number"],
)
def test_a_copied_or_recoded_target_is_named(
    leak: Callable[[pd.Series], pd.Series], words: str
) -> None:
    frame = customers()
    frame.insert(0, "status", leak(frame["churn"]))
    messages = findings_of(frame, "churn")["leakage"]
    assert len(messages) == 1
    assert "'status'" in messages[0] and words in messages[0]


def test_a_feature_that_alone_predicts_the_target_is_named() -> None:
    frame = customers()
    # Recorded after the fact: days until the customer left, none if they stayed.
    frame.insert(0, "days_to_exit", np.where(frame["churn"] == "yes", 10.0, 400.0))
    frame["days_to_exit"] += np.random.default_rng(1).uniform(0, 5, len(frame))
    (message,) = findings_of(frame, "churn")["leakage"]
    assert "'days_to_exit' alone predicts the target almost perfectly" in message


def test_a_regression_target_rescaled_is_named() -> None:
    frame = diabetes_progression()
    frame["progression_pct"] = frame["progression"] / 3.46
    (message,) = findings_of(frame, "progression")["leakage"]
    assert "'progression_pct'" in message


def test_a_key_beside_a_continuous_target_is_no_leakage() -> None:
    # Every date and every price appear once: they pair one to one, by chance.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "sold": pd.date_range("2023-01-01", periods=300, freq="D"),
            "surface": rng.uniform(20, 200, 300),
        }
    )
    frame["price"] = frame["surface"] * 3000 + rng.normal(0, 50_000, 300)
    assert "leakage" not in findings_of(frame, "price")


@settings(max_examples=20, deadline=None)
@given(
    repeats=st.lists(st.integers(0, 299), min_size=1, max_size=8, unique=True),
    seed=st.integers(0, 2**16),
)
def test_repeated_rows_are_counted_with_examples(repeats: list[int], seed: int) -> None:
    frame = customers(seed=seed)
    frame = pd.concat([frame, frame.iloc[repeats]], ignore_index=True)
    (message,) = findings_of(frame, "churn")["duplicates"]
    assert message.startswith(f"{len(repeats)} row(s) repeat an earlier row")
    assert "row(s) 301" in message  # the first copy, as a person counts rows


def test_test_rows_copied_from_training_rows_are_counted() -> None:
    frame = customers()
    frame = pd.concat([frame, frame.iloc[:40]], ignore_index=True)
    data = described(frame, "churn")
    train, test = split_frame(frame, data, seed=0)
    (finding,) = check_split(train, test)
    shared = pd.util.hash_pandas_object(test, index=False).isin(
        set(pd.util.hash_pandas_object(train, index=False))
    )
    assert finding.message.startswith(f"{int(shared.sum())} of {len(test)} test row")
    assert check_split(*split_frame(customers(), data, seed=0)) == []


def test_a_constant_column_is_named() -> None:
    frame = customers().assign(country="NL")
    (message,) = findings_of(frame, "churn")["constant"]
    assert "'country' holds one value in every row ('NL')" in message


def test_imbalanced_classes_name_the_remedy() -> None:
    frame = customers()
    rare = frame.index[frame["churn"] == "yes"][10:]
    frame = frame.drop(index=rare).reset_index(drop=True)
    (message,) = findings_of(frame, "churn")["imbalance"]
    assert "'no' has" in message and "balanced_accuracy" in message
{%- if cookiecutter.ml_framework == "sklearn" %}
    assert "class_weight" in message
{%- endif %}


def test_findings_warn_by_default_and_stop_the_run_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = customers().assign(country="NL")
    data = described(frame, "churn")
    findings = check_table(frame, data)
    with caplog.at_level(logging.WARNING):
        report(findings, data, "Data checks")
    assert "'country' holds one value" in caplog.text
    strict = data.model_copy(update={"checks": "error"})
    with pytest.raises(DataValidationError, match="data.checks: error"):
        report(findings, strict, "Data checks")
