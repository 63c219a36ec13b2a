"""Typed view of ``params.yaml``: every hyperparameter and the seed.

DVC tracks the same file, so ``dvc exp run -S train.<name>=<value>`` changes a
value here and re-runs only the stages that declare it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError


class DataParams(BaseModel):
    """Where the data comes from and what it must look like."""

    model_config = ConfigDict(extra="forbid")

    source: str = "sklearn:breast_cancer"
    target: str = "target"
    classes: list[int] = Field(default_factory=lambda: [0, 1], min_length=2)
    features: list[str] | None = None
    min_value: float | None = 0.0
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)


class FeaturesParams(BaseModel):
    """How features are scaled before training."""

    model_config = ConfigDict(extra="forbid")

    scaler: Literal["standard", "minmax", "none"] = "standard"


class TrainParams(BaseModel):
    """Which model to train; every other key is one of its hyperparameters."""

    model_config = ConfigDict(extra="allow")

    model: str
    val_size: float = Field(default=0.2, gt=0.0, lt=1.0)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The keys of the ``train`` section other than ``model``/``val_size``."""
        return dict(self.model_extra or {})


class EvaluateParams(BaseModel):
    """How predictions are scored."""

    model_config = ConfigDict(extra="forbid")

    evaluator: str = "binary"
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)


class Params(BaseModel):
    """The whole of ``params.yaml``."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(ge=0, lt=2**32)
    data: DataParams = Field(default_factory=DataParams)
    features: FeaturesParams = Field(default_factory=FeaturesParams)
    train: TrainParams
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)


def load_params(path: Path) -> Params:
    """Read and check ``params.yaml``; raise :class:`ConfigError` if invalid."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Parameter file {path} does not exist.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"Parameter file {path} is not valid YAML: {exc}") from exc
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"Parameter file {path} is invalid: {problems}.") from exc
