"""Experiment tracking and the model registry, with MLflow.

DVC owns the data, the pipeline and the canonical model file; MLflow keeps the
history of runs to browse and compare, and the registry. One pipeline run is
one MLflow run:

- ``train`` creates it, named after the model, and records every parameter of
  ``params.yaml`` (flattened), the per-epoch metrics, where the model came from
  (git commit, dirty flag, ``DVC_EXP_NAME``, the MD5 of its data files as
  dvc.lock records them, the seed, the run information) and the model itself,
  as an MLflow model that takes raw rows (:class:`PipelineModel`);
- ``evaluate`` finds the run by the SHA-256 of the model file and adds the test
  metrics and the figures;
- ``register`` registers the run's model and moves the ``champion`` alias to it
  when the gate of ``params.yaml`` (``register``) passes.

Every MLflow call happens after the stage has computed its own outputs, with
the global random state put back afterwards, so tracking never changes a bit of
them. With no configuration the store is ``mlflow.db`` at the project root and
artifacts go to ``mlartifacts/`` there; ``MLFLOW_TRACKING_URI`` points at a
shared server instead, and ``<ENV_PREFIX>TRACKING=false`` turns tracking off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import subprocess
import tempfile
import tomllib
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml
from dotenv import load_dotenv
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.pyfunc.model import PythonModel, PythonModelContext
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from .config import ENV_PREFIX, MODEL_FILE, Settings
from .data import TRAIN_FILE
from .errors import ConfigError, PipelineError
from .features import TRANSFORM_FILE
from .params import Params

logger = logging.getLogger(__name__)

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
MODEL_NAME = "model"
MODEL_HASH_TAG = "model_sha256"
MODEL_URI_TAG = "logged_model_uri"
CHAMPION = "champion"
TEST_PREFIX = "test_"
# Metrics where smaller is better; every other metric is a score.
ERROR_METRICS = frozenset({"rmse", "mae", "log_loss"})
DEFAULT_METRICS = {"classification": "accuracy", "regression": "rmse"}
# What MLflow accepts in a parameter or metric name.
UNSAFE_KEY = re.compile(r"[^\w./ :-]")
EXAMPLE_ROWS = 5
EXAMPLE_SCAN_ROWS = 1_000


class TrackingError(PipelineError):
    """The tracking store cannot be reached or refused a request."""


def default_tracking_uri(settings: Settings) -> str:
    """The embedded store at the project root, wherever the command runs."""
    return f"sqlite:///{settings.project_root / STORE_FILE}"


def tracking_uri(settings: Settings) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the project's embedded store.

    MLflow reads its variables from the environment; those in the project's
    ``.env`` are added to it first, without overriding any that are set.
    """
    load_dotenv(settings.project_root / ".env", override=False)
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(settings)


def shown_uri(uri: str) -> str:
    """``uri`` without a user name or password, fit for a message."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def kept_random_state() -> Iterator[None]:
    """Put Python's and NumPy's global random state back after the block.

    MLflow draws from the global ``random`` module (for example to name a run
    that has no name): a seeded stream must not be shifted by tracking.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextmanager
def using(uri: str) -> Iterator[None]:
    """MLflow's module-level API against ``uri`` for this block only, with the
    random state kept. Setting the URI also sets ``MLFLOW_TRACKING_URI`` in
    this process's environment, which must not outlive the block."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        with kept_random_state():
            yield
    finally:
        # None is MLflow's own way to go back to no URI set.
        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]


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


class PipelineModel(PythonModel):
    """The pipeline as an MLflow model: raw feature columns in, the columns of
    ``predict`` out (``prediction`` and, for classification, ``proba_<class>``).

    It bundles ``params.yaml``, the fitted transform and the model file, and
    predicts with the same :class:`~.predict.Predictor` as every other path.
    """

    def load_context(self, context: PythonModelContext) -> None:
        from .predict import Predictor

        files = {key: Path(path) for key, path in context.artifacts.items()}
        self.predictor = Predictor.from_files(
            files["params"], files["transform"], files["model"]
        )

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        # A DataFrame hint: MLflow checks the input against the signature only.
        return self.predictor.predict(pd.DataFrame(model_input), "The input")


def example_rows(path: Path, columns: list[str]) -> pd.DataFrame:
    """The model's input example: the first ``EXAMPLE_ROWS`` complete rows among
    the first ``EXAMPLE_SCAN_ROWS`` of ``path`` (the very first rows when none
    is complete). Only those rows are read."""
    parquet = pq.ParquetFile(path)
    batch = next(parquet.iter_batches(batch_size=EXAMPLE_SCAN_ROWS, columns=columns))
    rows: pd.DataFrame = batch.to_pandas()
    example = rows.dropna().head(EXAMPLE_ROWS)
    return rows.head(EXAMPLE_ROWS) if example.empty else example


def bundle_files(settings: Settings) -> dict[str, str]:
    """The files an MLflow model of this pipeline carries, by artifact name."""
    return {
        "params": str(settings.params_file),
        "transform": str(settings.models_dir / TRANSFORM_FILE),
        "model": str(settings.models_dir / MODEL_FILE),
    }


@cache
def _downloaded(tracking: str, uri: str) -> Path:
    destination = Path(tempfile.mkdtemp(prefix="model-"))
    try:
        with using(tracking):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(destination), tracking_uri=tracking
            )
    except MlflowException as exc:
        raise ConfigError(f"Model {uri!r} cannot be loaded: {exc.message}") from exc
    return Path(local)


def downloaded_model(settings: Settings, uri: str) -> dict[str, Path]:
    """The bundled files of the MLflow model ``uri`` (``models:/<name>@champion``,
    ``runs:/<id>/model``...), downloaded once per process."""
    folder = _downloaded(tracking_uri(settings), uri) / "artifacts"
    names = {key: Path(path).name for key, path in bundle_files(settings).items()}
    files = {key: folder / name for key, name in names.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise ConfigError(
            f"Model {uri!r} is not a model of this pipeline: it lacks "
            f"{', '.join(missing)}."
        )
    return files


@dataclass
class Tracker:
    """A connection to the tracking store and this project's experiment."""

    settings: Settings
    client: MlflowClient
    uri: str
    experiment_id: str

    @classmethod
    def connect(cls, settings: Settings) -> Tracker:
        """Reach the store and find (or create) the experiment.

        Raises :class:`TrackingError`, naming the store, when it does not
        answer: before the stage has written anything.
        """
        uri = tracking_uri(settings)
        client = MlflowClient(tracking_uri=uri)
        name = settings.experiment
        try:
            with kept_random_state():
                experiment = client.get_experiment_by_name(name)
                if experiment is None:
                    location = None
                    if uri == default_tracking_uri(settings):
                        location = (settings.project_root / ARTIFACTS_DIR).as_uri()
                    experiment_id = client.create_experiment(
                        name, artifact_location=location
                    )
                else:
                    experiment_id = experiment.experiment_id
        except (MlflowException, OSError) as exc:
            raise TrackingError(
                f"The MLflow tracking store {shown_uri(uri)} cannot be used: "
                f"{' '.join(str(exc).split())[:300]} Start the server or fix "
                "MLFLOW_TRACKING_URI, or set "
                f"{ENV_PREFIX}TRACKING=false to run "
                "without tracking."
            ) from exc
        return cls(settings, client, uri, experiment_id)

    def run_of(self, model_path: Path) -> Run | None:
        """The newest run that trained the model file ``model_path``."""
        digest = file_sha256(model_path)
        with kept_random_state():
            runs = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.{MODEL_HASH_TAG} = '{digest}'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
        return runs[0] if runs else None

    def log_training(
        self, params: Params, history: Mapping[str, list[float]], run_info: Path
    ) -> str:
        """Record a finished training as a new run; return its id."""
        settings = self.settings
        model_path = settings.models_dir / MODEL_FILE
        digest = file_sha256(model_path)
        raw = yaml.safe_load(settings.params_file.read_text(encoding="utf-8"))
        info = json.loads(run_info.read_text(encoding="utf-8"))
        tags = {
            MODEL_HASH_TAG: digest,
            "seed": str(params.seed),
            "run_info": json.dumps(info, sort_keys=True),
            **git_tags(settings.project_root),
        }
        for path in (
            settings.processed_dir / TRAIN_FILE,
            settings.models_dir / TRANSFORM_FILE,
        ):
            relative = path.relative_to(settings.project_root).as_posix()
            tags[safe_key(f"data_md5.{relative}")] = file_md5(path)
        if os.environ.get("DVC_EXP_NAME"):
            tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
        name = os.environ.get("DVC_EXP_NAME") or f"train-{digest[:12]}"
        metrics = [
            Metric(safe_key(key), float(value), 0, step)
            for key, values in history.items()
            for step, value in enumerate(values)
        ]
        with kept_random_state():
            run = self.client.create_run(self.experiment_id, run_name=name)
            run_id: str = run.info.run_id
            self.client.log_batch(
                run_id,
                metrics=metrics,
                params=[Param(k, v) for k, v in flatten(raw).items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            self.client.log_artifacts(run_id, str(settings.live_dir), "training")
            model_uri = self.log_model(run_id, params)
            self.client.set_tag(run_id, MODEL_URI_TAG, model_uri)
            self.client.set_terminated(run_id)
        logger.info("Tracked the training as run %s (%s)", run_id, shown_uri(self.uri))
        return run_id

    def log_model(self, run_id: str, params: Params) -> str:
        """Log the pipeline as an MLflow model in ``run_id``; return its URI."""
        from .predict import Predictor

        settings = self.settings
        files = bundle_files(settings)
        predictor = Predictor.from_files(
            *(Path(files[key]) for key in ("params", "transform", "model"))
        )
        example = example_rows(
            settings.interim_dir / TRAIN_FILE, list(params.data.features)
        )
        # Inputs as the schema declares them (a numeric column takes any
        # number, a categorical one text), whatever the example happens to hold.
        inputs = Schema(
            [
                ColSpec("double" if spec.kind == "numeric" else "string", name)
                for name, spec in params.data.features.items()
            ]
        )
        with warnings.catch_warnings():
            # Labels are never missing: an integer output column is right.
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer")
            outputs = infer_signature(
                example, predictor.predict(example, "The example")
            ).outputs
        with (
            using(self.uri),
            mlflow.start_run(run_id=run_id),
            warnings.catch_warnings(),
        ):
            # MLflow compares the example's columns with a range, which pandas 3
            # deprecates; the example's columns are names, so nothing changes.
            warnings.filterwarnings("ignore", "Operation with range is deprecated")
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME,
                python_model=Path(__file__).with_name("mlflow_model.py"),
                artifacts=files,
                code_paths=[str(Path(__file__).parent)],
                signature=ModelSignature(inputs, outputs),
                input_example=example,
                pip_requirements=locked_requirements(settings.project_root),
            )
        return str(info.model_uri)

    def log_evaluation(self, scores: Mapping[str, float]) -> str | None:
        """Add the test metrics and figures to the run that trained the model."""
        settings = self.settings
        run = self.run_of(settings.models_dir / MODEL_FILE)
        if run is None:
            logger.warning(
                "No tracked run trained %s (was tracking off?): the test metrics "
                "are not tracked. Run `dvc repro -f train` to track both.",
                MODEL_FILE,
            )
            return None
        run_id: str = run.info.run_id
        metrics = [
            Metric(safe_key(TEST_PREFIX + key), float(value), 0, 0)
            for key, value in scores.items()
        ]
        with kept_random_state():
            self.client.log_batch(run_id, metrics=metrics)
            for folder, name in (
                (settings.evaluation_figures_dir, "evaluation"),
                (settings.plots_dir, "plots"),
            ):
                if folder.is_dir():
                    self.client.log_artifacts(run_id, str(folder), name)
        logger.info("Tracked the test metrics in run %s", run_id)
        return run_id


@dataclass
class Gate:
    """Whether a model may become the champion, and why (not)."""

    passed: bool
    reason: str


def better(metric: str, value: float, other: float) -> bool:
    """``value`` beats ``other``: lower for an error metric, higher otherwise."""
    return value < other if metric in ERROR_METRICS else value > other


def gate(
    params: Params, metric: str, value: float, champion: tuple[str, float] | None
) -> Gate:
    """Apply ``register.threshold`` and ``register.beat_champion``."""
    rule = params.registration
    shown = f"{metric} {value:.6g}"
    threshold = rule.threshold
    if threshold is not None and better(metric, threshold, value):
        side = "above" if metric in ERROR_METRICS else "below"
        return Gate(False, f"{shown} is {side} register.threshold {threshold:.6g}")
    if rule.beat_champion and champion is not None:
        version, best = champion
        if not better(metric, value, best):
            return Gate(
                False,
                f"{shown} does not beat the champion (version {version}, "
                f"{metric} {best:.6g})",
            )
    return Gate(True, f"{shown} passes the gate")


def gate_metric(params: Params, scores: Mapping[str, float]) -> str:
    """The metric of ``reports/metrics.json`` that ``register.metric`` names."""
    metric = params.registration.metric
    if metric == "auto":
        metric = DEFAULT_METRICS[params.data.task]
    if metric not in scores:
        raise ConfigError(
            f"register.metric {metric!r} is not a metric of this task: use auto "
            f"or one of {', '.join(sorted(scores))}."
        )
    return metric


def register(settings: Settings, params: Params) -> Gate | None:
    """Register the evaluated model; move ``champion`` to it if the gate passes.

    Returns None when tracking is off: there is no registry to write to.
    """
    from .evaluate import METRICS_FILE

    if not settings.tracking:
        logger.warning("Tracking is off: no model registered.")
        return None
    metrics_path = settings.reports_dir / METRICS_FILE
    if not metrics_path.is_file():
        raise ConfigError(f"{metrics_path} does not exist: run the evaluate stage.")
    scores = json.loads(metrics_path.read_text(encoding="utf-8"))
    metric = gate_metric(params, scores)
    tracker = Tracker.connect(settings)
    run = tracker.run_of(settings.models_dir / MODEL_FILE)
    if run is None or MODEL_URI_TAG not in run.data.tags:
        raise ConfigError(
            f"No tracked run trained models/{MODEL_FILE}: run `dvc repro -f train "
            "evaluate` with tracking on, then register."
        )
    name = params.registration.name
    client = tracker.client
    with using(tracker.uri):
        try:
            existing = client.search_model_versions(
                f"name = '{name}' and run_id = '{run.info.run_id}'"
            )
            version = (
                existing[0]
                if existing
                else mlflow.register_model(run.data.tags[MODEL_URI_TAG], name)
            )
            try:
                current = client.get_model_version_by_alias(name, CHAMPION)
            except MlflowException:
                current = None
            champion = None
            if current is not None and current.version != version.version:
                champion_run = client.get_run(str(current.run_id))
                best = champion_run.data.metrics.get(TEST_PREFIX + metric)
                champion = (current.version, best) if best is not None else None
            decision = gate(params, metric, float(scores[metric]), champion)
            if decision.passed:
                client.set_registered_model_alias(name, CHAMPION, version.version)
        except MlflowException as exc:
            raise TrackingError(
                f"The registry at {shown_uri(tracker.uri)} refused model {name!r}: "
                f"{exc.message}"
            ) from exc
    if decision.passed:
        logger.info(
            "Registered %s version %s and made it the %s: %s.",
            name, version.version, CHAMPION, decision.reason,
        )  # fmt: skip
    else:
        logger.info(
            "Registered %s version %s; %s stays where it was: %s.",
            name, version.version, CHAMPION, decision.reason,
        )  # fmt: skip
    return decision
