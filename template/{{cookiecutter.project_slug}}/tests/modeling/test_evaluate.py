"""Every evaluator: perfect predictions score perfectly, every metric stays in
its range, the plots are written, and an evaluator that does not fit the task
is refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import frame_params, make_frame
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data.schema import validate_frame
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.features.targets import encode_targets
from {{ cookiecutter.package_name }}.modeling import evaluate as evaluation
from {{ cookiecutter.package_name }}.modeling.evaluators import (
    CURVE_POINTS,
    EVALUATORS,
    BinaryClassificationEvaluator,
    MulticlassClassificationEvaluator,
    RegressionEvaluator,
    resolve_evaluator,
)
from {{ cookiecutter.package_name }}.modeling.predictor import Predictor
from {{ cookiecutter.package_name }}.params import EvaluateParams, Params, load_params
from {{ cookiecutter.package_name }}.utils.run_info import collect

# Range of each metric key; an evaluator writes exactly these keys.
RANGES = {
    "binary": {
        "accuracy": (0, 1),
        "balanced_accuracy": (0, 1),
        "precision": (0, 1),
        "recall": (0, 1),
        "f1": (0, 1),
        "roc_auc": (0, 1),
        "average_precision": (0, 1),
        "log_loss": (0, math.inf),
    },
    "multiclass": {
        "accuracy": (0, 1),
        "balanced_accuracy": (0, 1),
        "f1_macro": (0, 1),
        "f1_weighted": (0, 1),
        "log_loss": (0, math.inf),
        "roc_auc_ovr": (0, 1),
    },
    "regression": {"rmse": (0, math.inf), "mae": (0, math.inf), "r2": (-math.inf, 1)},
}
PERFECT = {
    "binary": {"accuracy": 1, "f1": 1, "roc_auc": 1, "precision": 1, "recall": 1},
    "multiclass": {"accuracy": 1, "f1_macro": 1, "roc_auc_ovr": 1},
    "regression": {"rmse": 0, "mae": 0, "r2": 1},
}


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[labels]


@st.composite
def class_labels(draw: st.DrawFn, n_classes: int) -> np.ndarray:
    """Labels in which every class appears at least once."""
    extra = draw(st.lists(st.integers(0, n_classes - 1), max_size=30))
    return np.asarray([*range(n_classes), *extra], dtype=np.int64)


@given(labels=class_labels(2))
def test_binary_perfect_predictions_score_perfectly(labels: np.ndarray) -> None:
    scores = BinaryClassificationEvaluator(0.5, ["0", "1"]).metrics(
        labels, one_hot(labels, 2)
    )
    assert set(scores) == set(RANGES["binary"])
    for name, best in PERFECT["binary"].items():
        assert scores[name] == best, name


@given(n_classes=st.integers(2, 6), data=st.data())
def test_multiclass_perfect_predictions_score_perfectly(
    n_classes: int, data: st.DataObject
) -> None:
    labels = data.draw(class_labels(n_classes))
    names = [f"class {i}" for i in range(n_classes)]
    scores = MulticlassClassificationEvaluator(names).metrics(
        labels, one_hot(labels, n_classes)
    )
    assert set(scores) == set(RANGES["multiclass"])
    for name, best in PERFECT["multiclass"].items():
        assert scores[name] == best, name


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(values=arrays(np.float64, st.integers(2, 40), elements=finite))
def test_regression_perfect_predictions_score_perfectly(values: np.ndarray) -> None:
    if np.ptp(values) == 0:
        values = np.append(values, values[0] + 1.0)
    scores = RegressionEvaluator().metrics(values, values.copy())
    assert set(scores) == set(RANGES["regression"])
    for name, best in PERFECT["regression"].items():
        assert scores[name] == best, name


@settings(max_examples=60)
@given(n_classes=st.integers(2, 5), data=st.data())
def test_classification_metrics_stay_in_range(
    n_classes: int, data: st.DataObject
) -> None:
    labels = data.draw(class_labels(n_classes))
    raw = data.draw(
        arrays(
            np.float64,
            (len(labels), n_classes),
            elements=st.floats(1e-3, 1.0, allow_nan=False),
        )
    )
    proba = raw / raw.sum(axis=1, keepdims=True)
    names = [str(i) for i in range(n_classes)]
    evaluators = {"multiclass": MulticlassClassificationEvaluator(names)}
    if n_classes == 2:
        evaluators["binary"] = BinaryClassificationEvaluator(0.5, names)
    for kind, evaluator in evaluators.items():
        for name, value in evaluator.metrics(labels, proba).items():
            low, high = RANGES[kind][name]
            assert low <= value <= high, (kind, name, value)


@given(
    actual=arrays(np.float64, 20, elements=finite),
    predicted=arrays(np.float64, 20, elements=finite),
)
def test_regression_metrics_stay_in_range(
    actual: np.ndarray, predicted: np.ndarray
) -> None:
    actual[0] += 1.0  # not constant, so that R squared is defined
    for name, value in RegressionEvaluator().metrics(actual, predicted).items():
        low, high = RANGES["regression"][name]
        assert low <= value <= high, (name, value)


def test_threshold_changes_the_predicted_labels() -> None:
    labels = np.array([0, 1, 1, 1])
    proba = np.column_stack([[0.9, 0.7, 0.4, 0.1], [0.1, 0.3, 0.6, 0.9]])
    low = BinaryClassificationEvaluator(0.2, ["0", "1"]).metrics(labels, proba)
    high = BinaryClassificationEvaluator(0.5, ["0", "1"]).metrics(labels, proba)
    assert low["recall"] == 1.0 and high["recall"] < 1.0


def test_binary_plots_write_pngs_and_plot_data(tmp_path: Path) -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    proba = one_hot(labels, 2) * 0.6 + 0.2
    written = BinaryClassificationEvaluator(0.5, ["benign", "malignant"]).plots(
        labels, proba, tmp_path / "figures", tmp_path / "plots"
    )
    assert {path.name for path in written} == {
        "confusion_matrix.png",
        "roc_curve.png",
        "precision_recall_curve.png",
        "roc.csv",
        "precision_recall.csv",
        "confusion.csv",
    }
    roc = pd.read_csv(tmp_path / "plots" / "roc.csv")
    assert list(roc.columns) == ["fpr", "tpr", "threshold"]
    assert roc["tpr"].is_monotonic_increasing
    confusion = pd.read_csv(tmp_path / "plots" / "confusion.csv")
    assert set(confusion["actual"]) == {"benign", "malignant"}
    png = (tmp_path / "figures" / "roc_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_curves_of_large_test_splits_are_thinned_to_their_shape(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 20_000)
    scores = np.clip(labels * 0.2 + rng.random(20_000) * 0.8, 0.0, 1.0)
    proba = np.column_stack([1 - scores, scores])
    BinaryClassificationEvaluator(0.5, ["0", "1"]).plots(
        labels, proba, tmp_path / "figures", tmp_path / "plots"
    )
    roc = pd.read_csv(tmp_path / "plots" / "roc.csv")
    pr = pd.read_csv(tmp_path / "plots" / "precision_recall.csv")
    assert len(roc) == len(pr) == CURVE_POINTS
    assert (roc.iloc[0]["fpr"], roc.iloc[0]["tpr"]) == (0.0, 0.0)
    assert (roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (1.0, 1.0)
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    assert pr["recall"].iloc[0] == 1.0 and pr["recall"].iloc[-1] == 0.0
    # The kept points lie on the whole curve: the area barely changes.
    fpr, tpr, _ = skm.roc_curve(labels, scores)
    assert abs(skm.auc(roc["fpr"], roc["tpr"]) - skm.auc(fpr, tpr)) < 1e-3


def test_multiclass_plots_show_class_names(tmp_path: Path) -> None:
    labels = np.array([0, 1, 2, 2, 1, 0])
    names = ["setosa", "versicolor", "virginica"]
    written = MulticlassClassificationEvaluator(names).plots(
        labels, one_hot(labels, 3), tmp_path / "figures", tmp_path / "plots"
    )
    assert {"confusion_matrix.png", "per_class.png", "per_class.csv"} <= {
        path.name for path in written
    }
    table = pd.read_csv(tmp_path / "plots" / "per_class.csv")
    assert table["class"].tolist() == names
    assert table["support"].tolist() == [2, 2, 2]
    assert set(pd.read_csv(tmp_path / "plots" / "confusion.csv")["actual"]) == set(
        names
    )


def test_regression_plots_write_predictions_and_residuals(tmp_path: Path) -> None:
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.5, 2.0, 2.5, 4.5])
    RegressionEvaluator().plots(actual, predicted, tmp_path / "f", tmp_path / "p")
    residuals = pd.read_csv(tmp_path / "p" / "residuals.csv")
    np.testing.assert_allclose(residuals["residual"], actual - predicted)
    assert (tmp_path / "f" / "predicted_vs_actual.png").read_bytes()[:4] == b"\x89PNG"


def params(**data: object) -> Params:
    frame = make_frame()
    return Params(seed=0, data=frame_params(frame, **data))


@pytest.mark.parametrize(
    ("data", "evaluator", "resolved"),
    [
        ({}, "auto", "binary"),
        ({"classes": [0, 1, 2]}, "auto", "multiclass"),
        ({"classes": [0, 1]}, "multiclass", "multiclass"),
        ({"task": "regression", "classes": None}, "auto", "regression"),
    ],
)
def test_auto_and_explicit_evaluators_follow_the_task(
    data: dict, evaluator: str, resolved: str
) -> None:
    settings_ = params(**data)
    settings_.evaluate.evaluator = evaluator
    assert resolve_evaluator(settings_) == resolved


@pytest.mark.parametrize(
    ("data", "evaluator", "message"),
    [
        ({"classes": ["a", "b", "c"]}, "binary", "cannot score a classification"),
        ({"task": "regression", "classes": None}, "binary", "cannot score a regr"),
        ({}, "regression", "cannot score a classification"),
        ({}, "ranking", "Unknown evaluator 'ranking'"),
    ],
)
def test_an_evaluator_that_does_not_fit_is_refused(
    data: dict, evaluator: str, message: str
) -> None:
    settings_ = params(**data)
    settings_.evaluate.evaluator = evaluator
    with pytest.raises(ConfigError, match=message):
        resolve_evaluator(settings_)


def test_run_info_records_versions_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    info = collect(seed=7, stage="evaluate")
    assert info["seed"] == 7
    assert {"python", "numpy", "pandas", "scikit-learn"} <= set(info["versions"])
    assert info["environment"]["PYTHONHASHSEED"] == "0"
    assert "device" in info["torch"]
    json.dumps(info)


# Targets and outputs each evaluator scores: (targets, outputs, class names).
SCORED = {
    "binary": (np.array([0, 1, 1, 0]), one_hot(np.array([0, 1, 0, 0]), 2), ["a", "b"]),
    "multiclass": (
        np.array([0, 1, 2, 2]),
        one_hot(np.array([0, 1, 2, 1]), 3),
        ["a", "b", "c"],
    ),
    "regression": (np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.5]), []),
}


@pytest.mark.parametrize("name", sorted(EVALUATORS))
def test_every_plot_an_evaluator_declares_for_dvc_is_a_file_it_writes(
    tmp_path: Path, name: str
) -> None:
    targets, outputs, names = SCORED[name]
    entry = EVALUATORS[name]
    # Plot data lands where dvc.yaml looks for it, relative to the project.
    written = entry.factory(EvaluateParams(), names).plots(
        targets, outputs, tmp_path / "figures", tmp_path / "reports" / "plots"
    )
    declared = {
        file: (props["x"], column)
        for definition in entry.plots
        for props in definition.values()
        for file, column in props["y"].items()
    }
    tables = {p.relative_to(tmp_path).as_posix() for p in written if p.suffix == ".csv"}
    assert tables == set(declared)
    for file, columns in declared.items():
        assert set(columns) <= set(pd.read_csv(tmp_path / file).columns), file


def test_the_baseline_predicts_the_training_shares_or_mean() -> None:
    data = frame_params(make_frame(), classes=["a", "b", "c"])
    train_targets = np.array([0, 0, 0, 2])  # class b never seen in training
    outputs = evaluation.baseline_outputs(train_targets, 5, data)
    np.testing.assert_array_equal(outputs, np.tile([0.75, 0.0, 0.25], (5, 1)))

    regression = frame_params(make_frame(), task="regression", classes=None)
    values = evaluation.baseline_outputs(np.array([1.0, 2.0, 6.0]), 2, regression)
    np.testing.assert_array_equal(values, [3.0, 3.0])


def test_the_summary_shows_each_metric_beside_its_baseline() -> None:
    scores = {"accuracy": 0.9, "baseline_accuracy": 0.6, "n_test": 10.0}
    shown = "accuracy=0.9000 (baseline 0.6000) n_test=10.0000"
    assert evaluation.summary(scores) == shown


@pytest.mark.slow
def test_the_test_split_is_scored_a_row_group_at_a_time_as_if_whole(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(project_root=repo, tracking=False)
    params = load_params(settings.params_file)
    data = params.data
    predictor = Predictor.from_project(settings, params)
    whole = validate_frame(pd.read_parquet(settings.test_file), data, "test split")
    split = tmp_path / "test.parquet"
    pq.write_table(pa.Table.from_pandas(whole), split, row_group_size=7)
    assert pq.ParquetFile(split).num_row_groups > 2

    def read_whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("evaluate read the whole test split at once")

    monkeypatch.setattr(pd, "read_parquet", read_whole)
    targets, outputs = evaluation.test_outputs(predictor, split, data)
    np.testing.assert_array_equal(targets, encode_targets(whole[data.target], data))
    # A float32 network may round a last bit differently in a smaller batch.
    np.testing.assert_allclose(outputs, predictor.outputs(whole), rtol=1e-6)
