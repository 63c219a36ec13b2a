"""Typed view of ``params.yaml`` and ``columns.yaml``: the data's description,
every hyperparameter and the seed.

DVC tracks ``params.yaml``, so ``dvc exp run -S train.<model>.<name>=<value>``
changes a value there and re-runs only the stages that declare it. Its
``data`` section (source, task, target, classes) and ``columns.yaml`` beside
it (each feature column's kind) are the one description of the data that the
schema, the feature transform and training all read, as ``params.data``;
``init-data`` writes both from a data file. ``columns.yaml`` is a plain
dependency of the stages, not a DVC parameter file, so that ``dvc exp show``
lists hyperparameters rather than one column per feature.

Both files are read as DVC reads and writes them (YAML 1.2): only ``true`` and
``false`` are booleans, so a label ``no`` stays text after ``dvc exp run -S``
rewrites the file without quotes.
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
Checks = Literal["warn", "error"]
CHECKS: tuple[Checks, ...] = ("warn", "error")
Engine = Literal["pandas", "dask"]
ENGINES: tuple[Engine, ...] = ("pandas", "dask")
Label = Union[StrictInt, StrictStr]
"""A class label as it appears in the data: an integer or a string."""
COLUMNS_FILE = "columns.yaml"
"""The feature columns' description, beside ``params.yaml``."""
BOOL = "tag:yaml.org,2002:bool"


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans (``true``/``false`` only),
    as DVC reads ``params.yaml``: ``yes``, ``no``, ``on``, ``off`` are text."""


class Yaml12Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper that quotes a string only where YAML 1.2 needs it,
    as DVC writes ``params.yaml``."""


for _cls in (Yaml12Loader, Yaml12Dumper):
    _cls.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _cls.add_implicit_resolver(
        BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without a zone, as the pipeline holds dates."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class FeatureSpec(BaseModel):
    """One feature column: its kind, whether it may be missing, its bounds
    (numbers, or dates for a date column), for a categorical column optionally
    the only values it may take, and for a date column how its dates are
    written."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["numeric", "categorical", "datetime"] = "numeric"
    nullable: bool = False
    min: float | datetime | None = None
    max: float | datetime | None = None
    categories: list[StrictStr] | None = Field(default=None, min_length=1)
    format: str | None = None
    """How a date column's text is written, as a strptime format such as
    ``%d/%m/%Y``; none for ISO 8601 (``2024-12-31``, ``2024-12-31T23:59``)."""

    @field_validator("min", "max")
    @classmethod
    def _dates_in_utc(cls, bound: float | datetime | None) -> float | datetime | None:
        return naive_utc(bound) if isinstance(bound, datetime) else bound

    @model_validator(mode="after")
    def _bounds_fit_the_kind(self) -> FeatureSpec:
        bounds = [bound for bound in (self.min, self.max) if bound is not None]
        dated = [isinstance(bound, datetime) for bound in bounds]
        if self.kind == "categorical" and bounds:
            raise ValueError("min and max apply to numeric and datetime columns only")
        if self.kind == "numeric" and any(dated):
            raise ValueError("a numeric column's min and max are numbers")
        if self.kind == "datetime" and not all(dated):
            raise ValueError(
                "a datetime column's min and max are dates, e.g. 2020-01-31"
            )
        if self.kind != "categorical" and self.categories is not None:
            raise ValueError("categories apply to categorical columns only")
        if self.kind != "datetime" and self.format is not None:
            raise ValueError("format applies to datetime columns only")
        if self.categories and len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must not repeat")
        if len(bounds) == 2 and bounds[0] > bounds[1]:  # type: ignore[operator]
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class DataParams(BaseModel):
    """Where the data comes from and what it must look like: the ``data``
    section of ``params.yaml``, with ``features`` read from ``columns.yaml``."""

    model_config = ConfigDict(extra="forbid")

    source: str = "sklearn:breast_cancer"
    task: Task = "classification"
    target: str = "target"
    classes: list[Label] | None = None
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    """How a CSV source separates its fields (``init-data`` detects it)."""
    encoding: str = "utf-8"
    """A CSV source's text encoding, e.g. ``utf-8-sig`` when it starts with a
    byte-order mark, as Excel writes it."""
    decimal: Literal[".", ","] = "."
    """A CSV source's decimal mark: ``,`` for numbers written like ``5,1``."""
    checks: Checks = "warn"
    """What a data-quality or leakage finding does (see ``data.checks``)."""
    engine: Engine = "pandas"
    """What runs the data stages: pandas in this process, or Dask's partitions
    for tables larger than memory (the outputs are the same)."""
    features: dict[str, FeatureSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _text_format_is_readable(self) -> DataParams:
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            message = f"encoding {self.encoding!r} is not one Python reads"
            raise ValueError(message) from None
        if self.delimiter in ('"', "\n", "\r") or self.delimiter == self.decimal:
            raise ValueError(f"delimiter {self.delimiter!r} cannot separate fields")
        return self

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
    def dates(self) -> list[str]:
        """Date and time feature columns, in the order of ``params.yaml``."""
        return [name for name, spec in self.features.items() if spec.kind == "datetime"]

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
    min_category_share: float = Field(default=0.01, ge=0.0, lt=1.0)
    """A category seen in a smaller share of the training rows is pooled with
    the others as rare into one ``<other>`` level, which also takes the values
    unseen in training: one-hot width stays bounded."""


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


class SearchRange(BaseModel):
    """One hyperparameter's search range in ``tune.space.<model>``: ``low`` to
    ``high`` (integers when both are; ``log`` for a log scale, ``step`` for a
    grid), or a list of ``choices``."""

    model_config = ConfigDict(extra="forbid")

    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _range_or_choices(self) -> SearchRange:
        if self.choices is not None:
            if self.low is not None or self.high is not None or not self.choices:
                raise ValueError("give either non-empty choices or low and high")
            return self
        if self.low is None or self.high is None or self.low >= self.high:
            raise ValueError("give low < high, or choices")
        if self.log and self.low <= 0:
            raise ValueError("a log scale needs low > 0")
        return self

    @property
    def integer(self) -> bool:
        """Both ends are integers: the values searched are too."""
        return isinstance(self.low, int) and isinstance(self.high, int)


class TuneParams(BaseModel):
    """How ``tune`` searches: its budget, the metric and each model's space."""

    model_config = ConfigDict(extra="forbid")

    n_trials: int | None = Field(default=30, ge=1)
    timeout: float | None = Field(default=None, gt=0.0)
    folds: int = Field(default=5, ge=2)
    metric: str = "auto"
    space: dict[str, dict[str, SearchRange]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_a_budget(self) -> TuneParams:
        if self.n_trials is None and self.timeout is None:
            raise ValueError("set n_trials, timeout or both: a search needs an end")
        return self


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


class DaskParams(BaseModel):
    """How the Dask engine runs (``data.engine: dask``); none of it changes
    what the stages write, so no stage depends on it."""

    model_config = ConfigDict(extra="forbid")

    workers: int | None = Field(default=None, ge=1)
    """Worker processes of the local cluster, one thread each; None: one per core."""
    memory_limit: str = "auto"
    """Each local worker's memory (``4GiB``); beyond it a worker spills to disk.
    ``auto``: the machine's memory shared among the workers. The environment
    variable ``DASK_MEMORY_LIMIT`` takes precedence."""
    blocksize: str = "64MiB"
    """Bytes of a CSV source read per partition."""


class Params(BaseModel):
    """The whole of ``params.yaml``, with ``data.features`` from ``columns.yaml``."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(ge=0, lt=2**32)
    data: DataParams
    features: FeaturesParams = Field(default_factory=FeaturesParams)
    train: TrainParams = Field(default_factory=TrainParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)
    tune: TuneParams = Field(default_factory=TuneParams)
    dask: DaskParams = Field(default_factory=DaskParams)
    # `register` would shadow pydantic's (ABCMeta's) BaseModel.register.
    registration: RegisterParams = Field(
        default_factory=RegisterParams, alias="register"
    )


Columns = TypeAdapter(dict[str, FeatureSpec])


def problems(exc: ValidationError) -> str:
    """Pydantic's errors as ``location: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or 'file'}: {err['msg']}"
        for err in exc.errors()
    )


def parse_params(raw: Any, path: Path) -> Params:
    """Check a parsed ``params.yaml`` (with ``data.features``); raise
    :class:`ConfigError` if invalid."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"Parameter file {path} is invalid: {problems(exc)}."
        ) from exc


def parse_columns(raw: Any, path: Path) -> dict[str, FeatureSpec]:
    """Check a parsed ``columns.yaml``; raise :class:`ConfigError` if invalid."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            f"Column description {path} must map each feature column to its kind, "
            "e.g. `age: {kind: numeric}`: run `init-data FILE --target COLUMN`."
        )
    try:
        return Columns.validate_python(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"Column description {path} is invalid: {problems(exc)}."
        ) from exc


def read_yaml(path: Path, what: str) -> Any:
    """``path`` parsed as DVC parses it; :class:`ConfigError` if it cannot be."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} does not exist.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc


def columns_path(params_file: Path) -> Path:
    """The ``columns.yaml`` that goes with ``params_file``: the file beside it."""
    return params_file.with_name(COLUMNS_FILE)


def load_params(path: Path) -> Params:
    """Read and check ``params.yaml`` and the ``columns.yaml`` beside it; raise
    :class:`ConfigError` if either is invalid.

    A ``params.yaml`` that still lists ``data.features`` itself (the layout of
    models registered before ``columns.yaml``) is read without it.
    """
    raw = read_yaml(path, "Parameter file")
    data = raw.get("data") if isinstance(raw, dict) else None
    columns = columns_path(path)
    if isinstance(data, dict) and "features" not in data:
        data["features"] = parse_columns(
            read_yaml(columns, "Column description"), columns
        )
    elif isinstance(data, dict) and columns.is_file():
        raise ConfigError(
            f"{path} lists data.features and {columns} describes the columns too: "
            f"move data.features into {columns.name}."
        )
    return parse_params(raw, path)
