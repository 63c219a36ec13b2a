"""Shared fixtures: small valid tables, own-data sets and throw-away copies of
the project."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import settings

from {{ cookiecutter.package_name }}.config import ENV_PREFIX
from {{ cookiecutter.package_name }}.params import (
    DataParams,
    FeatureSpec,
    Yaml12Loader,
)
from {{ cookiecutter.package_name }}.utils.hashseed import HASH_SEED

# Model code imports heavy libraries on first use: time limits would be noise.
settings.register_profile("project", deadline=None)
settings.load_profile("project")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = (
    "dvc.yaml",
    "params.yaml",
    "columns.yaml",
    "pyproject.toml",
    "poetry.lock",
    ".dvcignore",
    ".gitignore",
)
PROJECT_DIRS = ("src", "data/external")
MLFLOW_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME")


def make_frame(n_rows: int = 40, n_features: int = 3, seed: int = 0) -> pd.DataFrame:
    """A valid labelled table: non-negative float features, 0/1 target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        rng.uniform(0.0, 10.0, size=(n_rows, n_features)),
        columns=[f"f{i}" for i in range(n_features)],
    )
    frame["target"] = np.arange(n_rows, dtype=np.int64) % 2
    return frame


def frame_params(frame: pd.DataFrame, **changes: Any) -> DataParams:
    """The data section describing :func:`make_frame`'s table (min 0)."""
    features = {
        str(name): FeatureSpec(min=0.0) for name in frame.columns if name != "target"
    }
    fields: dict[str, Any] = {"classes": [0, 1], "features": features}
    return DataParams(**{**fields, **changes})


def passengers(n_rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """A table like a ship's passenger list: an id, text columns, missing ages."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n_rows)
    cabin_class = rng.choice([1, 2, 3], n_rows)
    age = rng.normal(30, 12, n_rows).clip(1, 80).round(1)
    age[rng.random(n_rows) < 0.2] = np.nan
    port = rng.choice(["C", "Q", "S"], n_rows).astype(object)
    port[rng.random(n_rows) < 0.05] = None
    score = (
        2.0 * (sex == "female") - 0.8 * (cabin_class - 2) + rng.normal(0, 0.7, n_rows)
    )
    return pd.DataFrame(
        {
            "passenger_id": np.arange(1000, 1000 + n_rows),
            "cabin_class": cabin_class,
            "sex": sex,
            "age": age,
            "port": port,
            "survived": np.where(score > 0.5, "yes", "no"),
        }
    )


def iris_with_names() -> pd.DataFrame:
    """scikit-learn's bundled iris table, labelled by species name."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["species"] = np.asarray(bunch.target_names)[bunch.target]
    return frame


def diabetes_progression() -> pd.DataFrame:
    """scikit-learn's bundled diabetes table: a float regression target."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.rename(columns={"target": "progression"}).astype(float)


def daily_weather(n_days: int = 730, seed: int = 0) -> pd.DataFrame:
    """Two years of daily weather whose kind follows the season: the date,
    written day first, is the only clue to it besides humidity and wind."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2022-01-01", periods=n_days, freq="D")
    cold = np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 15) / 365.25)
    humidity = rng.uniform(30, 100, n_days).round(1)
    warmth = -10 * cold + rng.normal(0, 3, n_days)
    weather = np.select(
        [warmth < -5, (warmth < 2) & (humidity > 65), warmth > 6],
        ["snow", "rain", "sun"],
        "cloud",
    )
    return pd.DataFrame(
        {
            "date": days.strftime("%d/%m/%Y"),
            "humidity": humidity,
            "wind": rng.gamma(2, 3, n_days).round(1),
            "weather": weather,
        }
    )


EXCEL_EXPORT = {"sep": ";", "decimal": ",", "encoding": "utf-8-sig"}
"""How Excel writes a CSV file in much of Europe: semicolons, decimal commas
and a byte-order mark."""
# Own-data sets of the pipeline tests: (table, target column, how its CSV file
# is written). Iris keeps scikit-learn's column names, e.g. 'sepal length (cm)'.
DATA_SETS: dict[str, tuple[Callable[[], pd.DataFrame], str, dict[str, str]]] = {
    "multiclass-string-labels": (iris_with_names, "species", EXCEL_EXPORT),
    "categorical-with-missing": (passengers, "survived", {}),
    "regression": (diabetes_progression, "progression", {}),
    "dated": (daily_weather, "weather", {}),
}


def write_data_set(name: str, directory: Path) -> tuple[Path, str]:
    """Write the data set ``name`` as a CSV file in ``directory`` the way its
    users' files are written; the file and the target column."""
    make, target, written_as = DATA_SETS[name]
    path = directory / f"{name}.csv"
    make().to_csv(path, index=False, **written_as)
    return path, target


def copy_project(destination: Path) -> Path:
    """Copy what the pipeline needs (not data outputs) into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        if (PROJECT_ROOT / name).exists():
            shutil.copy2(PROJECT_ROOT / name, destination / name)
    for name in PROJECT_DIRS:
        shutil.copytree(
            PROJECT_ROOT / name,
            destination / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        )
    return destination


def subprocess_env(**extra: str | None) -> dict[str, str]:
    """Environment for child processes: this interpreter's ``python`` first.

    A variable given as ``None`` in ``extra`` is left out.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONHASHSEED"}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONHASHSEED="0",
        DVC_NO_ANALYTICS="1",
        CUBLAS_WORKSPACE_CONFIG=":4096:8",
    )
    env = {key: value for key, value in env.items() if not key.startswith(ENV_PREFIX)}
    merged = {**env, **extra}
    return {key: value for key, value in merged.items() if value is not None}


def run(
    args: list[str], cwd: Path, **extra: str | None
) -> subprocess.CompletedProcess[str]:
    """Run a command in ``cwd``; fail the test with its output if it fails."""
    result = subprocess.run(
        args, cwd=cwd, env=subprocess_env(**extra), capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dvc(root: Path, *args: str) -> str:
    return run([sys.executable, "-m", "dvc", *args], root).stdout


def git(root: Path, *args: str) -> str:
    return run(["git", *args], root).stdout


def git_repository(root: Path) -> None:
    """Make ``root`` a git + DVC repository with one commit."""
    git(root, "init", "-q")
    git(root, "config", "user.name", "Pipeline Test")
    git(root, "config", "user.email", "pipeline-test@example.com")
    dvc(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Project")


PACKAGE = "{{ cookiecutter.package_name }}"
# Python runs a `sitecustomize` module it finds on its path at start-up: this
# one records, when the process ends, the package modules the process loaded.
RECORDER = """
import atexit, json, os, sys

def _record_imports():
    package = os.environ["RECORD_IMPORTS_PACKAGE"]
    loaded = {
        module.__file__
        for name, module in list(sys.modules.items())
        if name.split(".")[0] == package and getattr(module, "__file__", None)
    }
    folder = os.environ["RECORD_IMPORTS_DIR"]
    with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as handle:
        json.dump({"argv": sys.argv, "files": sorted(loaded)}, handle)

atexit.register(_record_imports)
"""


@pytest.fixture(scope="session")
def imports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the first ``dvc repro`` records the modules each stage imported."""
    return tmp_path_factory.mktemp("imports")


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory, imports: Path) -> Path:
    """A git+DVC copy of the project after one committed ``dvc repro``, shared
    by the pipeline tests (each leaves it as it found it)."""
    root = copy_project(tmp_path_factory.mktemp("pipeline") / "project")
    git_repository(root)
    recorder = tmp_path_factory.mktemp("recorder")
    (recorder / "sitecustomize.py").write_text(RECORDER)
    run(
        [sys.executable, "-m", "dvc", "repro"],
        root,
        PYTHONPATH=str(recorder),
        RECORD_IMPORTS_DIR=str(imports),
        RECORD_IMPORTS_PACKAGE=PACKAGE,
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Run the pipeline")
    return root


def adopt(root: Path, name: str) -> dict[str, Any]:
    """Write the data set ``name`` to data/external and run ``init-data`` on it;
    ``params.yaml`` as written, with ``data.features`` from ``columns.yaml``."""
    path, target = write_data_set(name, root / "data" / "external")
    module = "{{ cookiecutter.package_name }}"
    run(
        [sys.executable, "-m", module, "init-data", str(path), "--target", target], root
    )
    params: dict[str, Any] = yaml.load(
        (root / "params.yaml").read_text(), Loader=Yaml12Loader
    )
    columns = yaml.load((root / "columns.yaml").read_text(), Loader=Yaml12Loader)
    params["data"]["features"] = columns
    return params


def update_params(root: Path, section: str, key: str, value: object) -> None:
    """Set ``section.key`` (or top-level ``key`` if section is empty)."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    (params[section] if section else params)[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(autouse=True, scope="session")
def _hash_seed() -> Iterator[None]:
    """Behave as the pipeline does, which runs with the project's hash seed;
    track into each copy's own store, never a server the shell points at."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONHASHSEED", HASH_SEED)
        for name in MLFLOW_VARIABLES:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project in a temporary folder, used as the project root."""
    root = copy_project(tmp_path / "project")
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv(ENV_PREFIX + "PROJECT_ROOT", str(root))
    monkeypatch.chdir(root)
    return root
