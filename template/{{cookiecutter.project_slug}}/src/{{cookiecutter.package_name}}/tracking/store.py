"""The connection to the MLflow tracking store, and models downloaded from it.

With no configuration the store is ``mlflow.db`` at the project root, and
artifacts go to ``mlartifacts/`` there; ``MLFLOW_TRACKING_URI`` (from the
environment or the project's ``.env``) points at a shared server instead.
Every MLflow call runs with the global random state put back afterwards, so
tracking never shifts a seeded stream.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mlflow
import numpy as np
from dotenv import load_dotenv
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..config import ENV_PREFIX, Settings
from ..errors import ConfigError, PipelineError
from ..params import columns_path

MODEL_HASH_TAG = "model_sha256"


def bundle_files(settings: Settings) -> dict[str, Path]:
    """The files an MLflow model of this pipeline carries, by artifact name."""
    return {
        "params": settings.params_file,
        "columns": columns_path(settings.params_file),
        "transform": settings.transform_file,
        "model": settings.model_file,
    }


class TrackingError(PipelineError):
    """The tracking store cannot be reached or refused a request."""


def default_tracking_uri(settings: Settings) -> str:
    """The embedded store at the project root, wherever the command runs."""
    return f"sqlite:///{settings.tracking_store_file}"


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
        answer: before anything is recorded.
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
                        location = settings.tracking_artifacts_dir.as_uri()
                    experiment_id = client.create_experiment(
                        name, artifact_location=location
                    )
                else:
                    experiment_id = experiment.experiment_id
        except (MlflowException, OSError) as exc:
            raise TrackingError(
                f"The MLflow tracking store {shown_uri(uri)} cannot be used: "
                f"{' '.join(str(exc).split())[:300]} Start the server or fix "
                f"MLFLOW_TRACKING_URI, or set {ENV_PREFIX}TRACKING=false to run "
                "without tracking."
            ) from exc
        return cls(settings, client, uri, experiment_id)

    def run_of(self, digest: str) -> Run | None:
        """The newest run of the model file whose SHA-256 is ``digest``."""
        with kept_random_state():
            runs = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.{MODEL_HASH_TAG} = '{digest}'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
        return runs[0] if runs else None


@contextmanager
def downloaded_model(settings: Settings, uri: str) -> Iterator[dict[str, Path]]:
    """The bundled files of the MLflow model ``uri`` (``models:/<name>@champion``,
    ``runs:/<id>/model``...), by artifact name, in a temporary folder that is
    removed when the block ends: load what you need inside it."""
    tracking = tracking_uri(settings)
    with tempfile.TemporaryDirectory(prefix="model-") as destination:
        try:
            with using(tracking):
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=destination, tracking_uri=tracking
                )
        except MlflowException as exc:
            raise ConfigError(f"Model {uri!r} cannot be loaded: {exc.message}") from exc
        folder = Path(local) / "artifacts"
        files = {
            key: folder / path.name for key, path in bundle_files(settings).items()
        }
        # Models registered before columns.yaml list the columns in params.yaml.
        missing = [
            path.name
            for key, path in files.items()
            if not path.is_file() and key != "columns"
        ]
        if missing:
            raise ConfigError(
                f"Model {uri!r} is not a model of this pipeline: it lacks "
                f"{', '.join(missing)}."
            )
        yield files
