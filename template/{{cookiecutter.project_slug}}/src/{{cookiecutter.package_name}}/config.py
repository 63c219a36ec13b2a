"""Settings that differ between machines, and the path of every artifact.

Every path is resolved against the project root, which is found by walking up
from the working directory to the folder that holds ``dvc.yaml`` or
``pyproject.toml``. Each setting can be overridden by an environment variable
(or a ``.env`` file line) named ``ENV_PREFIX`` + the setting in capitals, for
example ``<ENV_PREFIX>DATA_DIR=/mnt/datasets``. See ``.env.example``.

The stages read and write their files only through the properties below, and
``dvc.yaml`` names the same files: this module is the one place to look up
(or change) where anything lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
ROOT_MARKERS = ("dvc.yaml", "pyproject.toml")
MODEL_FILE = "{{ 'model.pt' if cookiecutter.ml_framework == 'pytorch' else 'model.pkl' }}"
"""The trained model's file name in ``models/``."""
TRANSFORM_FILE = "transform.json"
"""The fitted feature transform's file name in ``models/``."""
METRICS_FILE = "metrics.json"
RUN_INFO_FILE = "run_info.json"
TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"


def find_project_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above ``start`` that holds a root marker.

    Falls back to ``start`` itself (the working directory by default) so that
    the package still works when installed outside a project checkout.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if any((candidate / marker).is_file() for marker in ROOT_MARKERS):
            return candidate
    return here


def split_keys(keys: SecretStr) -> list[str]:
    """The comma-separated keys of ``keys``, blanks trimmed."""
    return [key.strip() for key in keys.get_secret_value().split(",") if key.strip()]


class Settings(BaseSettings):
    """Paths and options of one run, read from the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore"
    )

    project_root: Path = Field(default_factory=find_project_root)
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    params_file: Path = Path("params.yaml")
    log_level: str = "INFO"
    # `json`: one JSON object per line, for log aggregators. LOG_FORMAT without
    # the prefix is honoured too.
    log_format: Literal["text", "json"] = Field(
        default="text",
        validation_alias=AliasChoices(ENV_PREFIX + "LOG_FORMAT", "LOG_FORMAT"),
    )
    # Serving (`serve` and the API). PORT without the prefix is honoured too,
    # as platforms that run containers set it.
    host: str = "127.0.0.1"
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        validation_alias=AliasChoices(ENV_PREFIX + "PORT", "PORT"),
    )
    workers: int = Field(default=1, ge=1)
    model_uri: str | None = None
    max_rows: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=4 * 2**20, ge=1)
    # Comma-separated keys: when set, scoring needs `Authorization: Bearer <key>`.
    api_keys: SecretStr | None = None
    # Whether GET /metrics stays open when keys are set.
    metrics_public: bool = True
    # Experiment tracking (MLflow): where is MLFLOW_TRACKING_URI's job; the
    # experiment can also be named by MLflow's own MLFLOW_EXPERIMENT_NAME.
    tracking: bool = True
    experiment: str = Field(
        default="{{ cookiecutter.project_slug }}",
        min_length=1,
        validation_alias=AliasChoices(
            ENV_PREFIX + "EXPERIMENT", "MLFLOW_EXPERIMENT_NAME"
        ),
    )
    # Where `tune` keeps its study: empty for a journal file in reports/tune,
    # or an Optuna storage URL (a database) that workers on several machines share.
    tune_storage: str | None = None

    @field_validator("api_keys")
    @classmethod
    def _names_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Set but empty (an unset shell variable) must not open the service.
        if value is not None and not split_keys(value):
            raise ValueError(
                "is set but names no key: give one or more, comma-separated"
            )
        return value

    @property
    def api_key_list(self) -> list[str]:
        """The keys of ``api_keys``; empty when scoring is open."""
        return split_keys(self.api_keys) if self.api_keys else []

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        """Make every relative path absolute, relative to the project root."""
        self.project_root = self.project_root.expanduser().resolve()
        for name in ("data_dir", "models_dir", "reports_dir", "params_file"):
            path = Path(getattr(self, name)).expanduser()
            if not path.is_absolute():
                path = self.project_root / path
            setattr(self, name, path)
        self.log_level = self.log_level.upper()
        return self

    # The pipeline's definition, read to know which files its stages own.
    @property
    def pipeline_file(self) -> Path:
        """``dvc.yaml``: the stages, their dependencies and outputs."""
        return self.project_root / "dvc.yaml"

    # Data: data/{external,raw,interim,processed}.
    @property
    def external_dir(self) -> Path:
        """Data from third parties, as received: the adopted source file,
        versioned by DVC (``init-data``)."""
        return self.data_dir / "external"

    @property
    def raw_file(self) -> Path:
        """The ingested snapshot of the source: data as it arrived."""
        return self.data_dir / "raw" / "dataset.parquet"

    @property
    def interim_dir(self) -> Path:
        """Validated, split data."""
        return self.data_dir / "interim"

    @property
    def train_file(self) -> Path:
        """The training split, raw columns."""
        return self.interim_dir / TRAIN_FILE

    @property
    def test_file(self) -> Path:
        """The held-out test split, raw columns."""
        return self.interim_dir / TEST_FILE

    @property
    def processed_file(self) -> Path:
        """The training split as the model's float32 matrix and its target."""
        return self.data_dir / "processed" / TRAIN_FILE

    # Models: the fitted transform, the model and training checkpoints.
    @property
    def transform_file(self) -> Path:
        """The fitted feature transform, as JSON."""
        return self.models_dir / TRANSFORM_FILE

    @property
    def model_file(self) -> Path:
        """The trained model: the file the reproducibility proof hashes."""
        return self.models_dir / MODEL_FILE

    @property
    def checkpoint_file(self) -> Path:
        """Training state for ``train --resume`` (ignored by git and DVC)."""
        return self.models_dir / "checkpoints" / "last.pt"

    # Reports: metrics, run records, figures and plot data.
    @property
    def live_dir(self) -> Path:
        """DVCLive's training log: per-epoch metrics and the training curve."""
        return self.reports_dir / "live"

    @property
    def training_run_info_file(self) -> Path:
        """What the training ran on (versions, device, switches)."""
        return self.live_dir / RUN_INFO_FILE

    @property
    def metrics_file(self) -> Path:
        """Test metrics of the evaluated model."""
        return self.reports_dir / METRICS_FILE

    @property
    def evaluation_run_info_file(self) -> Path:
        """What the evaluation ran on."""
        return self.reports_dir / RUN_INFO_FILE

    @property
    def figures_dir(self) -> Path:
        """Figures for people."""
        return self.reports_dir / "figures"

    @property
    def evaluation_figures_dir(self) -> Path:
        """Figures written by evaluation (replaced on every evaluation)."""
        return self.figures_dir / "evaluation"

    @property
    def plots_dir(self) -> Path:
        """Plot data (CSV) for ``dvc plots``, written by evaluation."""
        return self.reports_dir / "plots"

    @property
    def tune_dir(self) -> Path:
        """The outcome of ``tune``: best parameters, trials, the study journal."""
        return self.reports_dir / "tune"

    @property
    def drift_dir(self) -> Path:
        """The monitor's report and figure."""
        return self.reports_dir / "drift"

    @property
    def drift_report_file(self) -> Path:
        """The drift report, as deterministic JSON."""
        return self.drift_dir / "drift.json"

    @property
    def drift_metrics_file(self) -> Path:
        """The drift summary: the monitor stage's DVC metric."""
        return self.drift_dir / METRICS_FILE

    @property
    def drift_figure_file(self) -> Path:
        """The drift figure: reference against current, per column."""
        return self.drift_dir / "drift.png"

    @property
    def adhoc_dir(self) -> Path:
        """Reports of runs by hand (``monitor FILE``), outside every stage's
        outputs (ignored by git)."""
        return self.reports_dir / "adhoc"

    # Rows to try the model on, outside the pipeline's folders (ignored by git).
    @property
    def samples_file(self) -> Path:
        """Where ``sample`` writes rows of the test split by default."""
        return self.project_root / "samples" / "new_rows.csv"

    # Tracking: MLflow's embedded store, used when MLFLOW_TRACKING_URI is unset.
    @property
    def tracking_store_file(self) -> Path:
        """MLflow's SQLite store at the project root (ignored by git)."""
        return self.project_root / "mlflow.db"

    @property
    def tracking_artifacts_dir(self) -> Path:
        """Where the embedded store keeps the runs' artifacts."""
        return self.project_root / "mlartifacts"
