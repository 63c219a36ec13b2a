"""One pipeline run is one MLflow run, recorded from the files the stages wrote.

The run holds every parameter of ``params.yaml`` (flattened), the per-epoch
metrics DVCLive logged, the test metrics of ``reports/metrics.json``, where
the model came from (git commit, dirty flag, ``DVC_EXP_NAME``, the MD5 of its
data files as dvc.lock records them, the seed, the run information), the
training log and evaluation figures as artifacts, and the model itself as an
MLflow model that takes raw rows (see :mod:`..serving.pyfunc`). A run is found
again by the SHA-256 of the model file, so recording the same model twice adds
nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import subprocess
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pyarrow.parquet as pq
import yaml
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema

from ..config import Settings
from ..errors import ConfigError
from ..params import Params
from .store import (
    MODEL_HASH_TAG,
    Tracker,
    bundle_files,
    kept_random_state,
    shown_uri,
    using,
)

logger = logging.getLogger(__name__)

MODEL_NAME = "model"
MODEL_URI_TAG = "logged_model_uri"
TEST_PREFIX = "test_"
# What MLflow accepts in a parameter or metric name.
UNSAFE_KEY = re.compile(r"[^\w./ :-]")
EXAMPLE_ROWS = 5
EXAMPLE_SCAN_ROWS = 1_000
# The "models from code" file MLflow runs to load the pipeline's model: it
# lives with serving, which the model is for; it is logged by path.
MODEL_CODE = Path(__file__).parents[1] / "serving" / "mlflow_model.py"

MLFLOW_TYPES = {"numeric": "double", "categorical": "string", "datetime": "datetime"}
"""The MLflow signature's type of each kind of feature column."""


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_md5(path: Path) -> str:
    """MD5 of a file's bytes: the hash dvc.lock records for a file."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def safe_key(key: str) -> str:
    """``key`` with every character MLflow refuses in a name replaced by ``_``."""
    return UNSAFE_KEY.sub("_", key)


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """``{"train.mlp.lr": "0.001", ...}``: one entry per leaf of ``tree``."""
    if isinstance(tree, Mapping) and tree:
        flat: dict[str, str] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    value = json.dumps(tree) if isinstance(tree, (list, Mapping)) else str(tree)
    return {safe_key(prefix.rstrip(".")): value}


def locked_requirements(project_root: Path) -> list[str] | None:
    """``name==version`` of every package the project needs to run, from
    ``poetry.lock`` (the main group, with its environment markers); None
    without a lock, which leaves MLflow to infer them."""
    lock = project_root / "poetry.lock"
    if not lock.is_file():
        logger.warning("No %s: MLflow infers the model's requirements.", lock)
        return None
    pins = []
    for package in tomllib.loads(lock.read_text(encoding="utf-8"))["package"]:
        if "main" not in package.get("groups", ["main"]):
            continue
        markers = package.get("markers")
        if isinstance(markers, Mapping):
            markers = markers.get("main")
        pin = f"{package['name']}=={package['version']}"
        pins.append(f"{pin}; {markers}" if markers else pin)
    return pins


def git_tags(project_root: Path) -> dict[str, str]:
    """The commit checked out and whether the working tree has changes."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=project_root, capture_output=True, text=True
            )
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"mlflow.source.git.commit": commit, "git_dirty": str(bool(status))}


def training_history(live_dir: Path) -> dict[str, list[float]]:
    """The per-epoch metrics DVCLive wrote (``plots/metrics/<name>.tsv``)."""
    folder = live_dir / "plots" / "metrics"
    history: dict[str, list[float]] = {}
    for path in sorted(folder.rglob("*.tsv")):
        name = path.relative_to(folder).with_suffix("").as_posix()
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        column = path.stem
        history[name] = [float(row[column]) for row in rows]
    return history


def example_rows(path: Path, columns: list[str]) -> pd.DataFrame:
    """The model's input example: the first ``EXAMPLE_ROWS`` complete rows among
    the first ``EXAMPLE_SCAN_ROWS`` of ``path`` (the very first rows when none
    is complete). Only those rows are read."""
    parquet = pq.ParquetFile(path)
    batch = next(parquet.iter_batches(batch_size=EXAMPLE_SCAN_ROWS, columns=columns))
    rows: pd.DataFrame = batch.to_pandas()
    example = rows.dropna().head(EXAMPLE_ROWS)
    return rows.head(EXAMPLE_ROWS) if example.empty else example


def read_metrics(settings: Settings) -> dict[str, float]:
    """The test metrics the evaluate stage wrote."""
    path = settings.metrics_file
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: run the evaluate stage.")
    scores: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))
    return scores


def run_tags(settings: Settings, params: Params, digest: str) -> dict[str, str]:
    """Where the model came from: its hash, seed, environment, code and data."""
    info = json.loads(settings.training_run_info_file.read_text(encoding="utf-8"))
    tags = {
        MODEL_HASH_TAG: digest,
        "seed": str(params.seed),
        "run_info": json.dumps(info, sort_keys=True),
        **git_tags(settings.project_root),
    }
    for path in (settings.processed_file, settings.transform_file):
        relative = path.relative_to(settings.project_root).as_posix()
        tags[safe_key(f"data_md5.{relative}")] = file_md5(path)
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


def model_signature(settings: Settings, params: Params) -> tuple[Any, Any]:
    """The MLflow model's signature and input example.

    Inputs are typed as the schema declares them (a numeric column takes any
    number, a categorical one text), whatever the example happens to hold;
    outputs are those of the pipeline's own predictor on the example.
    """
    # Imported here: it loads the ML framework, which recording a run that
    # already has its model (as `dvc repro -f` does) never needs.
    from ..modeling.predictor import Predictor

    predictor = Predictor.from_project(settings, params)
    example = example_rows(settings.train_file, list(params.data.features))
    inputs = Schema(
        [
            ColSpec(MLFLOW_TYPES[spec.kind], name)
            for name, spec in params.data.features.items()
        ]
    )
    with warnings.catch_warnings():
        # Labels are never missing: an integer output column is right.
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer")
        outputs = infer_signature(
            example, predictor.predict(example, "The example")
        ).outputs
    return ModelSignature(inputs, outputs), example


def log_model(tracker: Tracker, run_id: str, params: Params) -> str:
    """Log the pipeline as an MLflow model in ``run_id``; return its URI."""
    settings = tracker.settings
    signature, example = model_signature(settings, params)
    with (
        using(tracker.uri),
        mlflow.start_run(run_id=run_id),
        warnings.catch_warnings(),
    ):
        # MLflow compares the example's columns with a range, which pandas 3
        # deprecates; the example's columns are names, so nothing changes.
        warnings.filterwarnings("ignore", "Operation with range is deprecated")
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=MODEL_CODE,
            artifacts={key: str(path) for key, path in bundle_files(settings).items()},
            code_paths=[str(MODEL_CODE.parents[1])],
            signature=signature,
            input_example=example,
            pip_requirements=locked_requirements(settings.project_root),
        )
    return str(info.model_uri)


def start_run(tracker: Tracker, params: Params, digest: str) -> str:
    """A new run with the training: parameters, per-epoch metrics, tags, the
    training log and the model; its id."""
    settings = tracker.settings
    raw = yaml.safe_load(settings.params_file.read_text(encoding="utf-8"))
    metrics = [
        Metric(safe_key(key), value, 0, step)
        for key, values in training_history(settings.live_dir).items()
        for step, value in enumerate(values)
    ]
    name = os.environ.get("DVC_EXP_NAME") or f"train-{digest[:12]}"
    with kept_random_state():
        run = tracker.client.create_run(tracker.experiment_id, run_name=name)
        run_id: str = run.info.run_id
        tracker.client.log_batch(
            run_id,
            metrics=metrics,
            params=[Param(k, v) for k, v in flatten(raw).items()],
            tags=[RunTag(k, v) for k, v in run_tags(settings, params, digest).items()],
        )
        tracker.client.log_artifacts(run_id, str(settings.live_dir), "training")
        model_uri = log_model(tracker, run_id, params)
        tracker.client.set_tag(run_id, MODEL_URI_TAG, model_uri)
        tracker.client.set_terminated(run_id)
    logger.info("Tracked the training as run %s (%s)", run_id, shown_uri(tracker.uri))
    return run_id


def log_evaluation(tracker: Tracker, run: Run, scores: Mapping[str, float]) -> None:
    """Add the test metrics and the evaluation's figures and plot data to
    ``run``, unless it holds these metrics already."""
    tracked = {
        key.removeprefix(TEST_PREFIX): value
        for key, value in run.data.metrics.items()
        if key.startswith(TEST_PREFIX)
    }
    wanted = {safe_key(key): float(value) for key, value in scores.items()}
    if tracked == wanted:
        return
    settings, run_id = tracker.settings, run.info.run_id
    metrics = [Metric(TEST_PREFIX + key, value, 0, 0) for key, value in wanted.items()]
    with kept_random_state():
        tracker.client.log_batch(run_id, metrics=metrics)
        for folder, name in (
            (settings.evaluation_figures_dir, "evaluation"),
            (settings.plots_dir, "plots"),
        ):
            if folder.is_dir():
                tracker.client.log_artifacts(run_id, str(folder), name)
    logger.info("Tracked the test metrics in run %s", run_id)


def record_run(tracker: Tracker, params: Params) -> Run:
    """The run of the evaluated model, created (or completed) from the stages'
    files: the same model recorded twice is one run."""
    settings = tracker.settings
    if not settings.model_file.is_file():
        raise ConfigError(
            f"Model {settings.model_file} does not exist: run the train stage."
        )
    scores = read_metrics(settings)
    digest = file_sha256(settings.model_file)
    run = tracker.run_of(digest)
    if run is None or MODEL_URI_TAG not in run.data.tags:
        start_run(tracker, params, digest)
        run = tracker.run_of(digest)
        assert run is not None
    log_evaluation(tracker, run, scores)
    with kept_random_state():
        return tracker.client.get_run(run.info.run_id)
