"""Typed view of ``params.yaml``: the data's description, every hyperparameter
and the seed.

DVC tracks the same file, so ``dvc exp run -S train.<model>.<name>=<value>``
changes a value here and re-runs only the stages that declare it. The ``data``
section is the one description of the data that the schema, the feature
transform and training all read; ``init-data`` writes it from a CSV file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from .errors import ConfigError

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
Label = Union[StrictInt, StrictStr]
"""A class label as it appears in the data: an integer or a string."""


class FeatureSpec(BaseModel):
    """One feature column: its kind, whether it may be missing, its bounds and,
    for a categorical column, optionally the only values it may take (without
    them, a category unseen in training encodes to all zeros)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["numeric", "categorical"] = "numeric"
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: list[StrictStr] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _bounds_fit_the_kind(self) -> FeatureSpec:
        has_bounds = self.min is not None or self.max is not None
        if self.kind == "categorical" and has_bounds:
            raise ValueError("min and max apply to numeric columns only")
        if self.kind == "numeric" and self.categories is not None:
            raise ValueError("categories apply to categorical columns only")
        if self.categories and len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must not repeat")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class DataParams(BaseModel):
    """Where the data comes from and what it must look like."""

    model_config = ConfigDict(extra="forbid")

    source: str = "sklearn:breast_cancer"
    task: Task = "classification"
    target: str = "target"
    classes: list[Label] | None = None
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    features: dict[str, FeatureSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _classes_fit_the_task(self) -> DataParams:
        if self.task == "classification":
            if self.classes is None or len(self.classes) < 2:
                raise ValueError("classification needs at least 2 classes")
            if len(set(self.classes)) != len(self.classes):
                raise ValueError("classes must not repeat")
        elif self.classes is not None:
            raise ValueError("regression takes no classes: set classes to null")
        if self.target in self.features:
            raise ValueError(f"the target {self.target!r} is also listed as a feature")
        return self

    @property
    def numeric(self) -> list[str]:
        """Numeric feature columns, in the order of ``params.yaml``."""
        return [name for name, spec in self.features.items() if spec.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        """Categorical feature columns, in the order of ``params.yaml``."""
        return [
            name for name, spec in self.features.items() if spec.kind == "categorical"
        ]

    @property
    def labels(self) -> list[Label]:
        """The classes of a classification task; empty for regression."""
        return list(self.classes or [])


class FeaturesParams(BaseModel):
    """How numeric features are scaled before training."""

    model_config = ConfigDict(extra="forbid")

    scaler: Literal["standard", "minmax", "none"] = "standard"


class TrainParams(BaseModel):
    """Which model to train; each other key is one model's hyperparameters.

    ``model: auto`` takes the default model of the task (see
    ``modeling.model.MODELS``).
    """

    model_config = ConfigDict(extra="allow")

    model: str = "auto"
    val_size: float = Field(default=0.2, gt=0.0, lt=1.0)

    def hyperparameters(self, model: str) -> dict[str, Any]:
        """The section ``train.<model>``, empty when it is absent."""
        section = (self.model_extra or {}).get(model) or {}
        if not isinstance(section, dict):
            raise ConfigError(
                f"train.{model} must be a mapping of hyperparameters, got {section!r}."
            )
        return dict(section)

    @property
    def sections(self) -> list[str]:
        """Names of the hyperparameter sections present."""
        return list(self.model_extra or {})


class EvaluateParams(BaseModel):
    """How predictions are scored."""

    model_config = ConfigDict(extra="forbid")

    evaluator: str = "auto"
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)


class MonitorParams(BaseModel):
    """How ``monitor`` decides that new data has drifted from the training split.

    A column drifts when its p-value, corrected across columns
    (Benjamini-Hochberg), is below ``alpha`` and its effect size reaches its
    threshold: ``ks_statistic`` or ``psi`` for numeric columns, ``cramers_v``
    for categorical ones.
    """

    model_config = ConfigDict(extra="forbid")

    current: str = "data/interim/test.parquet"
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    ks_statistic: float = Field(default=0.1, ge=0.0, le=1.0)
    psi: float = Field(default=0.2, ge=0.0)
    cramers_v: float = Field(default=0.1, ge=0.0, le=1.0)
    psi_bins: int = Field(default=10, ge=2, le=100)
    min_expected: float = Field(default=5.0, gt=0.0)


class RegisterParams(BaseModel):
    """Which registered model ``register`` writes to, and when the evaluated
    model becomes its ``champion``: ``metric`` (``auto``: accuracy for
    classification, rmse for regression) must reach ``threshold`` (at least
    for a score, at most for an error such as rmse) and, with
    ``beat_champion``, be strictly better than the current champion's if that
    champion was trained on data of the same signature. A model that fails
    adds no version to the registry."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="model", min_length=1, pattern=r"^[\w.-]+$")
    metric: str = "auto"
    threshold: float | None = None
    beat_champion: bool = True


class Params(BaseModel):
    """The whole of ``params.yaml``."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(ge=0, lt=2**32)
    data: DataParams
    features: FeaturesParams = Field(default_factory=FeaturesParams)
    train: TrainParams = Field(default_factory=TrainParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)
    # `register` would shadow pydantic's (ABCMeta's) BaseModel.register.
    registration: RegisterParams = Field(
        default_factory=RegisterParams, alias="register"
    )


def parse_params(raw: Any, path: Path) -> Params:
    """Check a parsed ``params.yaml``; raise :class:`ConfigError` if invalid."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'file'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"Parameter file {path} is invalid: {problems}.") from exc


def load_params(path: Path) -> Params:
    """Read and check ``params.yaml``; raise :class:`ConfigError` if invalid."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Parameter file {path} does not exist.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"Parameter file {path} is not valid YAML: {exc}") from exc
    return parse_params(raw, path)
