"""Experiment tracking and the registry (MLflow), on each copy's own store.

One pipeline run is one MLflow run holding every parameter, the per-epoch and
the test metrics, provenance tags and the model; tracking changes no bit of
the pipeline's outputs and leaves the global random streams alone; the
``register`` gate moves ``champion`` only when it passes; an unreachable
server stops a stage, naming it, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import copy_project, run, subprocess_env, update_params
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.data.ingest import ingest
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.features.build import build_features
from {{ cookiecutter.package_name }}.modeling.evaluate import evaluate
from {{ cookiecutter.package_name }}.modeling.train import train
from {{ cookiecutter.package_name }}.params import load_params
from {{ cookiecutter.package_name }}.tracking.registry import CHAMPION, register
from {{ cookiecutter.package_name }}.tracking.runs import flatten, locked_requirements
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


@slow
def test_the_gate_decides_which_version_is_the_champion(project: Path) -> None:
    settings = run_pipeline(project)
    params = load_params(settings.params_file)
    name = params.registration.name
    client = client_of(project)
    # The pipeline registered its model; registering it again changes nothing.
    assert register(settings, params).passed  # type: ignore[union-attr]
    first = client.get_model_version_by_alias(name, CHAMPION)
    assert len(client.search_model_versions(f"name = '{name}'")) == 1
    # Unreachable floor: the new version is registered, the alias stays.
    metric = "rmse" if params.data.task == "regression" else "accuracy"
    floor = -1.0 if metric == "rmse" else 1.01
    update_params(project, "register", "threshold", floor)
    update_params(project, "train", "val_size", 0.3)
    settings = run_pipeline(project)
    params = load_params(settings.params_file)
    decision = register(settings, params)
    assert decision is not None and not decision.passed
    assert "register.threshold" in decision.reason
    assert client.get_model_version_by_alias(name, CHAMPION).version == first.version
    assert len(client.search_model_versions(f"name = '{name}'")) == 2
    # Registering the same run again adds no version.
    register(settings, params)
    assert len(client.search_model_versions(f"name = '{name}'")) == 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
