"""The feature transform: scaling inverts exactly, one-hot encoding round-trips
and ignores unseen categories, rare categories pool into one level, imputation
leaves nothing missing, column order is stable, and the JSON file rebuilds the
same transform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import passengers
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.features import processed
from {{ cookiecutter.package_name }}.features.processed import (
    load_processed,
    processed_targets,
    write_processed,
)
from {{ cookiecutter.package_name }}.features.transform import (
    MISSING,
    OTHER,
    CategoryEncoder,
    FeatureTransform,
    Scaler,
)
from {{ cookiecutter.package_name }}.params import DataParams, FeatureSpec

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
matrices = st.integers(1, 6).flatmap(
    lambda n_cols: arrays(
        np.float64, st.tuples(st.integers(1, 30), st.just(n_cols)), elements=values
    )
)
kinds = st.sampled_from(["standard", "minmax", "none"])
category_names = st.text(min_size=1, max_size=8).filter(
    lambda s: s not in (MISSING, OTHER)
)
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


@settings(max_examples=100, deadline=None)
@given(matrix=matrices, kind=kinds)
def test_scaling_keeps_shape_and_is_invertible(matrix: np.ndarray, kind: str) -> None:
    scaler = Scaler(kind).fit(matrix)
    scaled = scaler.transform(matrix)
    assert scaled.shape == matrix.shape
    assert np.isfinite(scaled).all()
    restored = scaler.inverse_transform(scaled)
    np.testing.assert_allclose(restored, matrix, rtol=1e-9, atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(matrix=matrices)
def test_standard_scaling_centres_the_training_data(matrix: np.ndarray) -> None:
    scaled = Scaler("standard").fit(matrix).transform(matrix)
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-6)


@given(
    categories=st.lists(category_names, min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_encoding_training_categories_round_trips(
    categories: list[str], data: st.DataObject
) -> None:
    rows = data.draw(st.lists(st.sampled_from(categories), min_size=1, max_size=30))
    training = pd.Series(rows + categories)
    encoder = CategoryEncoder.fit(training, nullable=False)
    assert encoder.categories == sorted(categories)
    matrix = encoder.encode(training)
    assert (matrix.sum(axis=1) == 1).all()
    assert encoder.decode(matrix) == training.tolist()


@given(
    seen=st.lists(category_names, min_size=1, max_size=5, unique=True),
    unseen=st.lists(category_names, min_size=1, max_size=5, unique=True),
)
def test_unseen_categories_encode_to_all_zeros(
    seen: list[str], unseen: list[str]
) -> None:
    encoder = CategoryEncoder.fit(pd.Series(seen), nullable=False)
    new = [value for value in unseen if value not in seen] or ["never seen"]
    matrix = encoder.encode(pd.Series(new))
    assert matrix.shape == (len(new), len(seen))
    assert not matrix.any()


@settings(max_examples=60, deadline=None)
@given(
    counts=st.dictionaries(category_names, st.integers(1, 40), min_size=1, max_size=30),
    share=st.sampled_from([0.0, 0.01, 0.05, 0.2]),
    unseen=category_names,
)
def test_rare_categories_and_unseen_ones_pool_into_other(
    counts: dict[str, int], share: float, unseen: str
) -> None:
    values = pd.Series([name for name, count in counts.items() for _ in range(count)])
    encoder = CategoryEncoder.fit(values, nullable=False, min_share=share)

    rare = {name for name, count in counts.items() if count < share * len(values)}
    assert set(encoder.categories) - {OTHER} == set(counts) - rare
    assert (OTHER in encoder.categories) == bool(rare)
    # One-hot width stays bounded: at most 1/share frequent categories.
    if share:
        assert len(encoder.categories) <= 1 / share + 1
    matrix = encoder.encode(values)
    other = encoder.categories.index(OTHER) if rare else None
    for row, value in zip(matrix, values):
        assert row.sum() == 1.0
        assert row.argmax() == (
            other if value in rare else encoder.categories.index(value)
        )
    if rare and unseen not in counts:
        assert encoder.encode(pd.Series([unseen]))[0, other] == 1.0


def test_the_features_stage_pools_with_the_share_in_params() -> None:
    frame = passengers()
    frame["port"] = frame["port"].where(frame.index != 7, "Z")  # one rare port
    pooled = FeatureTransform.fit(frame, PASSENGERS, "standard", 0.01)
    assert pooled.encoders["port"].categories == ["C", "Q", "S", OTHER, MISSING]
    kept = FeatureTransform.fit(frame, PASSENGERS, "standard", 0.0)
    assert kept.encoders["port"].categories == ["C", "Q", "S", "Z", MISSING]
    rebuilt = FeatureTransform.from_dict(pooled.to_dict())
    rows = frame.assign(port=["never seen"] * len(frame))
    np.testing.assert_array_equal(rebuilt.transform(rows), pooled.transform(rows))


DATED = DataParams(
    target="y",
    classes=[0, 1],
    features={
        "x": FeatureSpec(),
        "when": FeatureSpec(kind="datetime", nullable=True),
    },
)


def dated_rows(times: list[str | None]) -> pd.DataFrame:
    """Rows of DATED, ``when`` parsed as validation parses it."""
    return pd.DataFrame(
        {
            "x": np.arange(len(times), dtype=float),
            "when": pd.to_datetime(pd.Series(times, dtype="string"), format="ISO8601"),
            "y": [0, 1] * (len(times) // 2) + [0] * (len(times) % 2),
        }
    )


def test_dates_become_calendar_features_with_december_next_to_january() -> None:
    train = dated_rows(["2023-01-15", "2023-04-15", "2023-07-15", "2023-12-15"])
    transform = FeatureTransform.fit(train, DATED, "none")
    assert transform.output_columns == [
        "x",
        "when.year",
        "when.month_sin",
        "when.month_cos",
        "when.weekday_sin",
        "when.weekday_cos",
        "when.day_of_year_sin",
        "when.day_of_year_cos",
    ]
    months = dated_rows(["2023-01-15", "2023-02-15", "2023-12-15", "2023-06-15"])
    matrix = transform.transform(months)
    month = matrix[:, 2:4]
    january, february, december, june = month
    distance = np.linalg.norm
    assert distance(december - january) == pytest.approx(distance(february - january))
    assert distance(june - january) > 3 * distance(december - january)
    assert matrix[:, 1].tolist() == [2023.0] * 4


def test_the_hour_is_a_feature_only_when_training_dates_have_times() -> None:
    days = dated_rows(["2023-01-01", "2023-01-02", "2023-01-03", "2023-01-04"])
    assert (
        "when.hour_sin" not in FeatureTransform.fit(days, DATED, "none").output_columns
    )
    times = dated_rows(["2023-01-01 08:00", "2023-01-01 20:30", "2023-01-02", None])
    transform = FeatureTransform.fit(times, DATED, "standard")
    assert {"when.hour_sin", "when.hour_cos"} <= set(transform.output_columns)
    # A missing date takes the training median of each calendar feature.
    assert np.isfinite(transform.transform(times)).all()
    rebuilt = FeatureTransform.from_dict(transform.to_dict())
    np.testing.assert_array_equal(rebuilt.transform(times), transform.transform(times))


def test_a_missing_value_is_a_category_of_its_own() -> None:
    encoder = CategoryEncoder.fit(pd.Series(["b", None, "a"]), nullable=True)
    assert encoder.categories == ["a", "b", MISSING]
    matrix = encoder.encode(pd.Series([None, "a"]))
    assert matrix.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


@given(
    order=st.permutations(["cabin_class", "sex", "age", "port", "survived"]),
    seed=st.integers(0, 2**16),
)
def test_output_columns_do_not_depend_on_the_row_or_column_order(
    order: list[str], seed: int
) -> None:
    frame = passengers(120, seed=1)
    reference = FeatureTransform.fit(frame, PASSENGERS, "standard")
    shuffled = frame[order].sample(frac=1.0, random_state=seed)
    transform = FeatureTransform.fit(shuffled, PASSENGERS, "standard")
    assert transform.output_columns == reference.output_columns
    assert transform.output_columns[:2] == ["cabin_class", "age"]
    np.testing.assert_allclose(
        transform.transform(frame), reference.transform(frame), rtol=1e-12
    )


@settings(max_examples=50)
@given(
    missing=arrays(np.bool_, 60),
    fill=st.floats(-100, 100, allow_nan=False),
    kind=kinds,
)
def test_imputation_never_leaves_a_missing_value(
    missing: np.ndarray, fill: float, kind: str
) -> None:
    frame = passengers(60, seed=2)
    frame["age"] = frame["age"].fillna(fill).mask(missing)
    frame["port"] = frame["port"].mask(missing[::-1])
    matrix = FeatureTransform.fit(frame, PASSENGERS, kind).transform(frame)
    assert np.isfinite(matrix).all()


def test_json_round_trip_gives_the_same_transform(tmp_path: Path) -> None:
    frame = passengers()
    transform = FeatureTransform.fit(frame, PASSENGERS, "minmax")
    path = tmp_path / "transform.json"
    transform.save(path)
    restored = FeatureTransform.load(path)
    assert restored.output_columns == transform.output_columns
    np.testing.assert_array_equal(restored.transform(frame), transform.transform(frame))
    assert path.read_text(encoding="utf-8").lstrip().startswith("{")


def test_processed_split_reads_back_in_any_row_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processed, "BATCH_ROWS", 7)  # several row groups
    frame = passengers(40, seed=3)
    transform = FeatureTransform.fit(frame, PASSENGERS, "standard")
    path = tmp_path / "train.parquet"
    write_processed(path, transform, frame, PASSENGERS.target)
    assert pq.ParquetFile(path).num_row_groups == 6
    targets = processed_targets(path, PASSENGERS)
    assert targets.tolist() == (frame["survived"] == "yes").astype(int).tolist()
    expected = transform.transform(frame)
    np.testing.assert_array_equal(load_processed(path, transform), expected)
    order = np.random.default_rng(0).permutation(len(frame))
    np.testing.assert_array_equal(
        load_processed(path, transform, order), expected[order]
    )


def test_unseen_categories_are_counted_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transform = FeatureTransform.fit(passengers(), PASSENGERS, "standard")
    new_rows = passengers(5).assign(sex=["other"] * 3 + ["female", "male"])
    with caplog.at_level("INFO"):
        transform.transform(new_rows)
    assert "'sex': 3 value(s) of categories unseen in training" in caplog.text


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="robust"):
        Scaler("robust")
