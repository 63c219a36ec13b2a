"""Experiment tracking and the registry (MLflow), on each copy's own store.

One pipeline run is one MLflow run holding every parameter, the per-epoch and
the test metrics, provenance tags and the model; tracking changes no bit of
the pipeline's outputs and leaves the global random streams alone; the
``register`` gate registers a version and moves ``champion`` only when it
passes, comparing a model only with a champion trained on data of the same
signature, so the champion follows the data to a new file; an unreachable
server stops a stage, naming it, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import (
    DATA_SETS,
    copy_project,
    free_port,
    run,
    subprocess_env,
    update_params,
)
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.data.ingest import ingest
from {{ cookiecutter.package_name }}.data.init_data import init_data
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.features.build import build_features
from {{ cookiecutter.package_name }}.modeling.evaluate import evaluate
from {{ cookiecutter.package_name }}.modeling.train import train
from {{ cookiecutter.package_name }}.params import DataParams, FeatureSpec, load_params
from {{ cookiecutter.package_name }}.tracking.registry import CHAMPION, register
from {{ cookiecutter.package_name }}.tracking.runs import flatten, locked_requirements
from {{ cookiecutter.package_name }}.tracking.signature import (
    HASH_TAG,
    column_mismatch,
    data_signature,
    signature_hash,
    signature_tags,
)
from {{ cookiecutter.package_name }}.tracking.store import (
    MODEL_HASH_TAG,
    Tracker,
    kept_random_state,
)

PACKAGE = "{{ cookiecutter.package_name }}"
slow = pytest.mark.slow


def run_pipeline(root: Path, tracking: bool = True) -> Settings:
    """Every stage up to ``register``, in-process, with tracking on or off."""
    settings = Settings(project_root=root, tracking=tracking)
    params = load_params(settings.params_file)
    for stage in (ingest, prepare, build_features, train, evaluate, register):
        stage(settings, params)
    return settings


def store(root: Path) -> Path:
    """The embedded MLflow store of the project at ``root``."""
    return Settings(project_root=root).tracking_store_file


def client_of(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{store(root)}")


def only_run(root: Path) -> Run:
    client = client_of(root)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (tracked,) = client.search_runs(experiments)
    return tracked


def outputs(root: Path) -> dict[str, str]:
    """SHA-256 of every file the pipeline writes (data, models, reports)."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in ("data/interim", "data/processed", "models", "reports")
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def test_params_are_flattened_to_names_mlflow_accepts() -> None:
    flat = flatten({"train": {"mlp": {"lr": 0.1, "sizes": [2, 3]}}, "a&b": None})
    assert flat == {"train.mlp.lr": "0.1", "train.mlp.sizes": "[2, 3]", "a_b": "None"}


def test_requirements_pin_the_locked_runtime_packages_only(project: Path) -> None:
    lock = tomllib.loads((project / "poetry.lock").read_text())
    locked = {package["name"]: package for package in lock["package"]}
    pins = dict(
        pin.split(";")[0].split("==") for pin in locked_requirements(project) or []
    )
    for name, version in pins.items():
        assert locked[name]["version"] == version
        assert "main" in locked[name]["groups"]
    assert {"mlflow", "pandas", "scikit-learn"} <= set(pins)
    assert "pytest" not in pins


def test_tracking_leaves_the_global_random_streams_where_they_were(
    project: Path,
) -> None:
    tracker = Tracker.connect(Settings(project_root=project))
    random.seed(7)
    np.random.seed(7)
    expected = (random.random(), np.random.random())
    random.seed(7)
    np.random.seed(7)
    with kept_random_state():
        # A run without a name makes MLflow draw one from `random`.
        tracker.client.create_run(tracker.experiment_id)
    assert (random.random(), np.random.random()) == expected


@slow
def test_one_run_records_params_metrics_tags_and_the_model(project: Path) -> None:
    settings = run_pipeline(project)
    tracked = only_run(project)
    params = yaml.safe_load(settings.params_file.read_text())
    assert tracked.data.params == flatten(params)
    metrics = tracked.data.metrics
    written = json.loads(settings.metrics_file.read_text())
    assert {f"test_{key}": value for key, value in written.items()}.items() <= (
        metrics.items()
    )
    assert {"train_loss", "val_loss"} <= set(metrics)
    tags = tracked.data.tags
    model = settings.model_file
    assert tags[MODEL_HASH_TAG] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert tags["seed"] == str(params["seed"])
    assert json.loads(tags["run_info"])["stage"] == "train"
    train_split = project / "data" / "processed" / "train.parquet"
    md5 = hashlib.md5(train_split.read_bytes()).hexdigest()
    assert tags["data_md5.data/processed/train.parquet"] == md5
    assert tracked.info.run_name == f"train-{tags[MODEL_HASH_TAG][:12]}"
    # The store lives at the project root, ignored by git and DVC.
    assert store(project).is_file()


@slow
def test_tracking_changes_no_bit_of_the_pipeline_outputs(tmp_path: Path) -> None:
    on, off = copy_project(tmp_path / "on"), copy_project(tmp_path / "off")
    run_pipeline(on, tracking=True)
    run_pipeline(off, tracking=False)
    assert outputs(on) == outputs(off)
    assert not store(off).exists()


def data_of(**kinds: str) -> DataParams:
    """A classification data section with the given columns and kinds."""
    features = {name: FeatureSpec(kind=kind) for name, kind in kinds.items()}
    return DataParams(classes=[0, 1], features=features)


def test_the_data_signature_names_the_columns_and_kinds_not_their_order() -> None:
    data = data_of(age="numeric", port="categorical")
    tags = signature_tags(data)
    assert json.loads(tags["data.features"]) == {
        "age": "numeric",
        "port": "categorical",
    }
    assert (tags["data.task"], tags["data.target"]) == ("classification", "target")
    assert json.loads(tags["data.classes"]) == [0, 1]
    assert tags[HASH_TAG] == signature_hash(data_signature(data))
    # Order and bounds refine the same data; a kind, a column or the task do not.
    same = data_of(port="categorical", age="numeric")
    same.features["age"].min = 0.0
    assert signature_tags(same)[HASH_TAG] == tags[HASH_TAG]
    for other in (
        data_of(age="categorical", port="categorical"),
        data_of(age="numeric", port="categorical", fare="numeric"),
        data.model_copy(update={"task": "regression", "classes": None}),
    ):
        assert signature_tags(other)[HASH_TAG] != tags[HASH_TAG]


def test_a_file_lacking_model_columns_is_refused_naming_the_difference() -> None:
    model, project = data_of(age="numeric", port="categorical"), data_of(h="numeric")
    assert column_mismatch(model, ["port", "age", "id"], project) is None
    reason = column_mismatch(model, ["h", "target", "port"], project)
    assert reason is not None
    assert "lacks 1 of the model's column(s) ('age')" in reason
    assert "has 1 the model does not know ('h')" in reason
    assert "the model was trained on other data" in reason
    assert "other data" not in str(column_mismatch(model, ["port"], model))


def versions(root: Path, name: str) -> dict[str, dict[str, str]]:
    """``{version: tags}`` of the registered model ``name``."""
    found = client_of(root).search_model_versions(f"name = '{name}'")
    return {str(version.version): dict(version.tags) for version in found}


def champion_of(root: Path, name: str) -> str:
    return str(client_of(root).get_model_version_by_alias(name, CHAMPION).version)


@slow
def test_the_gate_decides_which_version_is_the_champion(project: Path) -> None:
    settings = run_pipeline(project)
    params = load_params(settings.params_file)
    name = params.registration.name
    # The pipeline registered its model; registering it again changes nothing.
    assert register(settings, params).passed  # type: ignore[union-attr]
    first = champion_of(project, name)
    assert list(versions(project, name)) == [first]
    # Unreachable floor: the run is recorded, no version, the alias stays.
    metric = "rmse" if params.data.task == "regression" else "accuracy"
    floor = -1.0 if metric == "rmse" else 1.01
    update_params(project, "register", "threshold", floor)
    update_params(project, "train", "val_size", 0.3)
    settings = run_pipeline(project)
    params = load_params(settings.params_file)
    decision = register(settings, params)
    assert decision is not None and not decision.passed
    assert "register.threshold" in decision.reason
    assert champion_of(project, name) == first
    assert list(versions(project, name)) == [first]
    client = client_of(project)
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(experiments)) == 2


@slow
def test_a_model_that_does_not_beat_the_champion_of_its_data_adds_no_version(
    project: Path,
) -> None:
    settings = run_pipeline(project)
    params = load_params(settings.params_file)
    name = params.registration.name
    first = champion_of(project, name)
    # The champion now holds the best score there is: nothing can beat it.
    client = client_of(project)
    champion_run = client.get_model_version(name, first).run_id
    client.log_metric(str(champion_run), "test_accuracy", 1.0)
    update_params(project, "train", "val_size", 0.3)
    settings = run_pipeline(project)
    decision = register(settings, load_params(settings.params_file))
    assert decision is not None and not decision.passed
    assert f"does not beat the champion (version {first}" in decision.reason
    assert list(versions(project, name)) == [first]
    assert champion_of(project, name) == first
    # The run is in the history all the same.
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(experiments)) == 2


@slow
def test_the_champion_follows_new_data_with_its_signature(project: Path) -> None:
    settings = run_pipeline(project)
    params = load_params(settings.params_file)
    name = params.registration.name
    first = champion_of(project, name)
    old = json.loads(settings.metrics_file.read_text())["accuracy"]
    # A different file: other columns (categorical ones too), another target.
    make, target, _ = DATA_SETS["categorical-with-missing"]
    path = project / "data" / "external" / "passengers.csv"
    make().to_csv(path, index=False)
    init_data(settings, str(path), target, None)
    settings = run_pipeline(project)
    params = load_params(settings.params_file)
    new = json.loads(settings.metrics_file.read_text())["accuracy"]
    assert new < old, "the new data must score below the old champion"
    second = champion_of(project, name)
    assert second != first
    tags = versions(project, name)
    assert tags[second][HASH_TAG] == signature_hash(data_signature(params.data))
    assert tags[second][HASH_TAG] != tags[first][HASH_TAG]
    assert tags[second]["data.target"] == target
    assert set(json.loads(tags[second]["data.features"])) == set(params.data.features)
    # The model of the old data no longer scores the new file's rows.
    rows = project / "rows.csv"
    make().drop(columns=target).head(5).to_csv(rows, index=False)
    for version, code in ((second, 0), (first, 1)):
        out = project / f"scored-{version}.csv"
        model = f"models:/{name}/{version}"
        done = cli(project, "predict", str(rows), str(out), "--model", model)
        assert done.returncode == code, done.stderr
        assert out.exists() == (code == 0)
    assert "does not fit the model" in done.stderr
    assert "the model was trained on other data" in done.stderr


def cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m <package> ARGS`` in ``root``, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, *args],
        cwd=root,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
    )


@slow
def test_an_unreachable_server_stops_register_naming_it_and_writes_nothing(
    project: Path,
) -> None:
    run_pipeline(project, tracking=False)
    before = outputs(project)
    uri = f"http://127.0.0.1:{free_port()}"
    done = cli(project, "register", MLFLOW_TRACKING_URI=uri)
    assert done.returncode == 1, done.stderr
    assert uri in done.stderr and "Traceback" not in done.stderr
    assert outputs(project) == before
    assert not store(project).exists()


@slow
def test_train_and_evaluate_need_no_tracking_store(project: Path) -> None:
    # Only `register` talks to MLflow: a server that is down stops no training.
    uri = f"http://127.0.0.1:{free_port()}"
    for stage in ("ingest", "prepare", "features", "train", "evaluate"):
        done = cli(project, stage, MLFLOW_TRACKING_URI=uri)
        assert done.returncode == 0, done.stderr
    assert Settings(project_root=project).metrics_file.is_file()


@slow
def test_tracking_off_writes_no_store_and_registers_nothing(project: Path) -> None:
    off = {ENV_PREFIX + "TRACKING": "false"}
    for stage in ("ingest", "prepare", "features", "train", "evaluate", "register"):
        done = cli(project, stage, **off)
        assert done.returncode == 0, done.stderr
    assert "no model registered" in done.stdout.lower() + done.stderr.lower()
    assert not store(project).exists()


@slow
def test_the_store_is_found_from_a_subfolder(project: Path) -> None:
    subfolder = project / "src"
    run([sys.executable, "-c", f"import {PACKAGE}.tracking.store as t, "
         f"{PACKAGE}.config as c; t.Tracker.connect(c.Settings())"],
        subfolder)  # fmt: skip
    assert store(project).is_file()
    assert not (subfolder / "mlflow.db").exists()
