"""Every registered model, on every task it can learn: trains, reports progress,
predicts valid outputs for any input, and saves and loads without change. A
model that does not fit the task is refused before anything trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import frame_params, make_frame
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from {{ cookiecutter.package_name }}.config import MODEL_FILE
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.modeling.interfaces import Model
from {{ cookiecutter.package_name }}.modeling.model import (
    DEFAULT_MODELS,
    MODELS,
    load_model,
)
from {{ cookiecutter.package_name }}.modeling.train import build_model, resolve_model
from {{ cookiecutter.package_name }}.params import Params, TrainParams
from {{ cookiecutter.package_name }}.utils.seeding import seed_everything

N_FEATURES = 4
CASES = sorted((name, task) for name, entry in MODELS.items() for task in entry.tasks)


def params(model: str, task: str, **train: object) -> Params:
    classes = [0, 1] if task == "classification" else None
    return Params(
        seed=0,
        data=frame_params(make_frame(), task=task, classes=classes),
        train=TrainParams(model=model, **train),
    )


def toy_data(n_rows: int, seed: int, task: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_rows, N_FEATURES))
    signal = features[:, 0] + 0.5 * features[:, 1]
    if task == "regression":
        return features, 100.0 + 20.0 * signal
    return features, (signal > 0).astype(np.int64)


@pytest.fixture(scope="module", params=CASES, ids=[f"{m}-{t}" for m, t in CASES])
def fitted(request: pytest.FixtureRequest) -> tuple[Model, str, list[dict]]:
    """Each registered model, fitted on a small learnable problem of its task."""
    name, task = request.param
    seed_everything(0)
    model = build_model(params(name, task))
    features, targets = toy_data(200, 1, task)
    val_features, val_targets = toy_data(40, 2, task)
    reports: list[dict[str, float]] = []
    model.fit(
        features, targets, val_features, val_targets, lambda _, m: reports.append(m)
    )
    return model, task, reports


def test_fit_reports_losses_and_a_validation_score(
    fitted: tuple[Model, str, list[dict[str, float]]],
) -> None:
    model, task, reports = fitted
    assert reports
    for report in reports:
        assert {"train_loss", "val_loss"} <= set(report)
    if task == "classification":
        assert reports[-1]["val_accuracy"] > 0.7
    else:
        features, targets = toy_data(40, 2, task)
        error = np.sqrt(np.mean((model.predict(features) - targets) ** 2))
        assert error < 0.5 * np.std(targets)


@given(
    features=arrays(
        np.float64,
        st.tuples(st.integers(1, 50), st.just(N_FEATURES)),
        elements=st.floats(-1e4, 1e4, allow_nan=False),
    )
)
def test_predictions_are_valid_for_any_input(
    fitted: tuple[Model, str, list[dict[str, float]]], features: np.ndarray
) -> None:
    model, task, _ = fitted
    outputs = model.predict(features)
    assert outputs.dtype == np.float64
    if task == "regression":
        assert outputs.shape == (len(features),)
        assert np.isfinite(outputs).all()
        return
    assert outputs.shape == (len(features), 2)
    assert np.all((outputs >= 0.0) & (outputs <= 1.0))
    np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=0, atol=1e-9)


def test_save_and_load_round_trip(
    fitted: tuple[Model, str, list[dict[str, float]]], tmp_path: Path
) -> None:
    model, task, _ = fitted
    path = tmp_path / MODEL_FILE
    model.save(path)
    first = path.read_bytes()
    model.save(path)
    assert path.read_bytes() == first, "saving the same model must give the same bytes"
    features, _ = toy_data(30, 3, task)
    np.testing.assert_array_equal(
        load_model(path).predict(features), model.predict(features)
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_auto_takes_the_default_model_of_the_task(task: str) -> None:
    assert resolve_model(params("auto", task)) == DEFAULT_MODELS[task]


def test_a_model_that_cannot_learn_the_task_is_refused() -> None:
    for name, entry in MODELS.items():
        for task in {"classification", "regression"} - entry.tasks:
            with pytest.raises(ConfigError, match=f"cannot learn a {task} task"):
                resolve_model(params(name, task))


def test_unknown_model_and_unknown_section_are_refused() -> None:
    with pytest.raises(ConfigError, match="Unknown model 'transformer'"):
        resolve_model(params("transformer", "classification"))
    with pytest.raises(ConfigError, match="train.gbm is not a registered model"):
        resolve_model(params("auto", "classification", gbm={"depth": 3}))


def test_unknown_hyperparameter_is_a_config_error() -> None:
    name, task = CASES[0]
    settings_ = params(name, task, **{name: {"not_a_parameter": 1}})
    with pytest.raises(ConfigError, match="not_a_parameter"):
        build_model(settings_)


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run the train stage"):
        load_model(tmp_path / MODEL_FILE)
