"""Drift monitoring: the tests' error rates, what they detect, the report's
determinism, and clean refusals of bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import subprocess_env
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from typer.testing import CliRunner

from {{ cookiecutter.package_name }} import params
from {{ cookiecutter.package_name }}.cli import DRIFT_EXIT_CODE, app
from {{ cookiecutter.package_name }}.monitoring import monitor, statistics
from {{ cookiecutter.package_name }}.monitoring.report import (
    MAX_PANELS,
    DriftReport,
    shown_columns,
)

PACKAGE = "{{ cookiecutter.package_name }}"
SETTINGS = params.MonitorParams()
NUMERIC = ["x0", "x1", "x2", "x3"]
DATA = params.DataParams(
    classes=["a", "b"],
    features={
        **{name: params.FeatureSpec() for name in NUMERIC},
        "colour": params.FeatureSpec(kind="categorical"),
    },
)
COLOURS = ["red", "green", "blue", "grey"]
seeded = settings(derandomize=True, max_examples=20, deadline=None)
runner = CliRunner()


def sample(
    rng: np.random.Generator, n_rows: int, positive: float = 0.5
) -> pd.DataFrame:
    """Rows of DATA: standard normal numbers, four colours, labels a and b."""
    frame = pd.DataFrame(rng.normal(size=(n_rows, len(NUMERIC))), columns=NUMERIC)
    frame["colour"] = rng.choice(COLOURS, n_rows, p=[0.4, 0.3, 0.2, 0.1])
    frame["target"] = np.where(rng.random(n_rows) < positive, "b", "a")
    return frame


def table(frame: pd.DataFrame) -> monitor.Table:
    return monitor.Table(frame.drop(columns="target"), frame["target"].astype("string"))


def drift(reference: pd.DataFrame, current: pd.DataFrame) -> DriftReport:
    compared = monitor.compare(table(reference), table(current), DATA, SETTINGS)
    statistics.decide(compared.columns, SETTINGS)
    return compared


def test_same_distribution_is_flagged_in_about_alpha_of_cases() -> None:
    # Observed with this seed over 200 draws of six tested columns: 5.5% of
    # runs flagged drift; 6.0% had a corrected p-value below alpha; without
    # the correction, 22.5% would have had a p-value below alpha.
    rng = np.random.default_rng(20240601)
    trials, flagged, significant = 200, 0, 0
    for _ in range(trials):
        report = drift(sample(rng, 1000), sample(rng, 300))
        flagged += bool(report.drifted)
        significant += any(
            result.p_value_corrected < SETTINGS.alpha
            for result in report.columns.values()
        )
    # alpha plus two standard errors of a rate estimated from 200 draws
    allowed = SETTINGS.alpha + 2 * np.sqrt(SETTINGS.alpha * 0.95 / trials)
    assert significant / trials <= allowed
    assert flagged / trials <= allowed


@seeded
@given(column=st.sampled_from(NUMERIC), seed=st.integers(0, 2**32 - 1))
def test_half_a_standard_deviation_shift_flags_that_column_only(
    column: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    current = sample(rng, 1000)
    current[column] += 0.5
    assert drift(sample(rng, 2000), current).drifted == [column]


@seeded
@given(count=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_a_new_category_is_reported_by_name_and_count(count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    current = sample(rng, 500)
    current.loc[: count - 1, "colour"] = "purple"
    result = drift(sample(rng, 1000), current).columns["colour"]
    assert result.unseen == {"purple": count}


@seeded
@given(share=st.floats(0.75, 0.95), seed=st.integers(0, 2**32 - 1))
def test_a_shift_in_class_balance_is_a_prior_probability_shift(
    share: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    report = drift(sample(rng, 1000), sample(rng, 500, positive=share))
    summary = report.to_dict()
    assert summary["prior_shift"] and not summary["data_drift"]
    assert report.drifted == ["label"]


def test_a_class_never_seen_in_training_is_reported() -> None:
    rng = np.random.default_rng(1)
    current = sample(rng, 400)
    current.loc[:29, "target"] = "c"
    assert drift(sample(rng, 1000), current).columns["label"].unseen == {"c": 30}


@seeded
@given(seed=st.integers(0, 2**32 - 1))
def test_identical_inputs_give_identical_json(seed: int) -> None:
    reference = sample(np.random.default_rng(seed), 600)
    current = sample(np.random.default_rng(seed + 1), 200)
    first = drift(reference, current).to_json()
    assert drift(reference.copy(), current.copy()).to_json() == first
    assert list(json.loads(first)) == sorted(json.loads(first))


def test_drift_metrics_summarise_the_report_in_a_few_numbers() -> None:
    rng = np.random.default_rng(3)
    current = sample(rng, 1000)
    current["x0"] += 0.5
    report = drift(sample(rng, 2000), current)
    columns = report.to_dict()["columns"]
    metrics = json.loads(report.metrics_json())
    assert metrics == {
        "drift": True,
        "drifted_columns": len(report.drifted),
        "drifted_share": round(len(report.drifted) / len(columns), 6),
        **{
            f"max_{effect}": max(
                result["effect_size"][effect]
                for result in columns.values()
                if effect in result["effect_size"]
            )
            for effect in ("cramers_v", "ks", "psi")
        },
    }
    assert report.drifted == ["x0"]


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    counts=st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 200)).filter(any),
        min_size=1,
        max_size=12,
    )
)
def test_pooling_leaves_no_expected_count_below_the_minimum(
    counts: list[tuple[int, int]],
) -> None:
    table = np.asarray(counts, dtype=np.float64).T
    if table.sum(axis=1).min() == 0:
        return
    merged = statistics.pooled(table, SETTINGS.min_expected)
    assert merged.sum() == table.sum()
    if merged.shape[1] > 1:
        expected = np.outer(merged.sum(axis=1), merged.sum(axis=0)) / merged.sum()
        assert expected.min() >= SETTINGS.min_expected - 1e-9


@seeded
@given(
    st.integers(1, 400),
    st.integers(1, 200),
    st.integers(2, 1000),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_a_reference_counted_in_parts_gives_the_ks_test_and_psi_of_the_whole(
    n_reference: int, n_current: int, distinct: int, n_parts: int, seed: int
) -> None:
    # Values drawn from a pool, so that ties within and across samples occur.
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=distinct).round(2)
    reference = rng.choice(pool, n_reference)
    current = rng.choice(pool, n_current) + rng.choice([0.0, 0.5])
    reference[rng.random(n_reference) < 0.1] = np.nan
    current[rng.random(n_current) < 0.1] = np.nan
    present = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(present[0]) * len(present[1]) < 2:  # no KS test of 1 value against 1
        return
    edges = statistics.psi_edges(present[0], SETTINGS.psi_bins)
    counts = statistics.NumericCounts.around(np.unique(present[1]), edges)
    for part in np.array_split(reference, n_parts):
        counts.add(statistics.locate(part, counts.points, edges))

    counted = statistics.numeric_drift(counts, current, SETTINGS, "feature")

    whole = statistics.numeric_drift(reference, current, SETTINGS, "feature")
    asymptotic = stats.ks_2samp(*present, method="asymp")
    assert counted.statistic == asymptotic.statistic
    assert counted.p_value == asymptotic.pvalue
    assert counted.effect["psi"] == whole.effect["psi"]
    assert counts.size == len(present[0])


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def run_stages(*stages: str) -> None:
    for stage in stages:
        code, output = invoke(stage)
        assert code == 0, output


@pytest.fixture
def split(project: Path) -> pd.DataFrame:
    """The project after ``ingest`` and ``prepare``: its training split."""
    run_stages("ingest", "prepare")
    return pd.read_parquet(project / "data" / "interim" / "train.parquet")


def make_nullable(project: Path, column: str) -> None:
    path = project / "columns.yaml"
    document = yaml.safe_load(path.read_text())
    document[column]["nullable"] = True
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize(
    ("bad_input", "expected"),
    [
        ("missing-column", "missing column(s) 'mean radius'"),
        ("wrong-type", "'mean texture' has 3 value(s) that are not numbers"),
        ("empty-file", "is empty"),
        ("all-nan-column", "no values at all in column(s) 'mean radius'"),
    ],
)
def test_bad_current_data_exits_1_with_a_clear_message(
    project: Path, split: pd.DataFrame, bad_input: str, expected: str
) -> None:
    frame = split.drop(columns="target")
    path = project / "current.csv"
    if bad_input == "missing-column":
        frame = frame.drop(columns="mean radius")
    elif bad_input == "wrong-type":
        frame["mean texture"] = frame["mean texture"].astype(object)
        frame.loc[:2, "mean texture"] = "unknown"
    elif bad_input == "all-nan-column":
        make_nullable(project, "mean radius")
        frame["mean radius"] = np.nan
    frame.to_csv(path, index=False)
    if bad_input == "empty-file":
        path.write_text("")
    code, output = invoke("monitor", str(path))
    assert code == 1
    assert expected in " ".join(output.split())
    assert not (project / "reports" / "drift").exists()
    assert not (project / "reports" / "adhoc").exists()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_monitor_passes_a_resample_and_names_a_shifted_feature(
    project: Path, split: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_stages("features", "train", "evaluate")
    # A file given by hand: the report goes to reports/adhoc, never to the
    # monitor stage's outputs.
    report_path = project / "reports" / "adhoc" / "drift.json"
    resample = project / "resample.parquet"
    split.sample(frac=0.5, random_state=0).to_parquet(resample)

    code, output = invoke("monitor", str(resample), "--fail-on-drift")
    assert code == 0, output
    report = json.loads(report_path.read_text())
    assert report["drift"] is False and report["rows"]["current"] == len(split) // 2
    assert report["performance"]["current"]["accuracy"] > 0.9
    first = digest(report_path), digest(report_path.with_suffix(".png"))
    assert invoke("monitor", str(resample))[0] == 0
    assert (digest(report_path), digest(report_path.with_suffix(".png"))) == first
    with monkeypatch.context() as patch:  # a large reference: a seeded sample
        patch.setattr(monitor, "REFERENCE_ROWS", 100)
        assert invoke("monitor", str(resample))[0] == 0
    assert json.loads(report_path.read_text())["rows"]["reference"] == 100

    shifted = project / "shifted.csv"
    frame = split.drop(columns="target")
    frame["mean texture"] += frame["mean texture"].std()
    frame.to_csv(shifted, index=False)
    code, output = invoke("monitor", str(shifted), "--fail-on-drift")
    assert code == DRIFT_EXIT_CODE, output
    report = json.loads(report_path.read_text())
    assert "mean texture" in report["drifted_columns"] and report["data_drift"]
    assert report["columns"]["mean texture"]["drifted"] is True
    assert report["performance"] is None
    assert "mean texture" in output
    assert not (project / "reports" / "drift").exists()


def test_monitor_of_a_missing_file_fails_before_loading_the_monitoring_code(
    project: Path,
) -> None:
    # -X importtime logs every module the process imports, on stderr.
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", PACKAGE, "monitor", "absent.csv"],
        cwd=project,
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Error: Current data absent.csv does not exist." in done.stderr
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert f"{PACKAGE}.cli" in imported
    assert not imported & {"pandas", "scipy", f"{PACKAGE}.monitoring.monitor"}


def test_past_sixteen_columns_the_figure_keeps_drifted_columns_and_outputs() -> None:
    def tested(role: str, p_value: float) -> statistics.ColumnDrift:
        return statistics.ColumnDrift(
            role, "numeric", 0.0, p_value, {"ks": 0.0, "psi": 0.0}, {}, p_value
        )

    columns = {f"x{i}": tested("feature", 1.0) for i in range(30)}
    columns["x25"] = tested("feature", 1e-9)
    columns["x25"].drifted = True
    columns["x7"] = tested("feature", 0.01)
    columns["label"] = tested("label", 1.0)
    columns["prediction"] = tested("prediction", 1.0)
    rows = {"reference": 10, "current": 10}
    samples = {name: (np.zeros(3), np.zeros(3)) for name in columns}
    drift_report = DriftReport(columns, rows, SETTINGS, samples=samples)
    shown = shown_columns(drift_report)
    assert len(shown) == MAX_PANELS
    assert {"x25", "x7", "label", "prediction"} <= set(shown)
    assert shown == [name for name in columns if name in shown]  # the report's order
    assert shown_columns(drift_report, limit=40) == list(columns)


def test_a_date_column_is_tested_as_numbers_and_a_later_period_drifts() -> None:
    dated = params.DataParams(
        classes=["a", "b"],
        features={
            "x0": params.FeatureSpec(),
            "day": params.FeatureSpec(kind="datetime"),
        },
    )
    rng = np.random.default_rng(0)

    def rows(start: str) -> monitor.Table:
        days = pd.date_range(start, periods=400, freq="D")
        features = pd.DataFrame({"x0": rng.normal(size=400), "day": days})
        return monitor.Table(features, pd.Series(rng.choice(["a", "b"], 400)))

    reference = rows("2023-01-01")
    same = monitor.compare(reference, rows("2023-01-01"), dated, SETTINGS)
    later = monitor.compare(reference, rows("2024-06-01"), dated, SETTINGS)
    for report in (same, later):
        statistics.decide(report.columns, SETTINGS)
        assert report.columns["day"].kind == "numeric"
    assert same.drifted == [] and later.drifted == ["day"]
    # The figure draws the dates as numbers (days since 1970).
    assert later.samples["day"][0][0] == pd.Timestamp("2023-01-01").value / 86400e9
