"""Data sources, the raw snapshot, validation and the stratified split.

Stages: ``ingest`` copies the configured source to ``data/raw``; ``prepare``
validates it and splits it into ``data/interim/{train,test}.csv``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from . import atomic
from .config import Settings
from .errors import ConfigError, DataValidationError
from .interfaces import DataSource, IntArray
from .params import DataParams, Params
from .schema import build_schema, validate

logger = logging.getLogger(__name__)

RAW_FILE = "dataset.csv"
TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"


class BreastCancerSource:
    """scikit-learn's bundled Wisconsin breast cancer data (works offline)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def load(self) -> pd.DataFrame:
        """Return 569 rows of 30 non-negative float features and a 0/1 target."""
        from sklearn.datasets import load_breast_cancer

        frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
        return frame.rename(columns={"target": self.target})


class CsvSource:
    """A CSV file supplied by the user, for example under ``data/external``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> pd.DataFrame:
        """Read the file; raise a pipeline error if it is absent or unreadable."""
        if not self.path.is_file():
            raise ConfigError(
                f"Data source {self.path} does not exist: set data.source in "
                "params.yaml to a CSV file or to 'sklearn:breast_cancer'."
            )
        return read_csv(self.path, "data source")


SourceFactory = Callable[[DataParams], DataSource]

SOURCES: dict[str, SourceFactory] = {
    "sklearn:breast_cancer": lambda data: BreastCancerSource(data.target),
}


def get_source(data: DataParams, project_root: Path) -> DataSource:
    """Return the source registered under ``data.source``, else a CSV path."""
    factory = SOURCES.get(data.source)
    if factory is not None:
        return factory(data)
    path = Path(data.source).expanduser()
    return CsvSource(path if path.is_absolute() else project_root / path)


def read_csv(path: Path, what: str) -> pd.DataFrame:
    """Read a CSV file, turning absence or a parse failure into a clear error."""
    try:
        return pd.read_csv(path)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{what} {path} does not exist: run the earlier stages."
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            f"{what} {path} is not a readable CSV: {exc}"
        ) from exc


def feature_columns(frame: pd.DataFrame, data: DataParams) -> list[str]:
    """The configured feature columns, or every column except the target."""
    if data.features is not None:
        return list(data.features)
    return [str(column) for column in frame.columns if column != data.target]


def validate_dataset(frame: pd.DataFrame, data: DataParams, what: str) -> pd.DataFrame:
    """Check a labelled table against the schema built from ``data``."""
    schema = build_schema(
        feature_columns(frame, data), data.target, data.classes, data.min_value
    )
    return validate(frame, schema, what)


def stratified_indices(
    labels: np.ndarray, test_size: float, seed: int
) -> tuple[IntArray, IntArray]:
    """Row positions of a stratified train/test split, in ascending order.

    Each class sends ``round(count * test_size)`` randomly chosen rows to the
    test side, so both sides keep the class proportions; the choice depends
    only on ``seed``. Raises :class:`DataValidationError` when a class would
    be missing from either side.
    """
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        n_test = int(np.floor(len(positions) * test_size + 0.5))
        if not 0 < n_test < len(positions):
            raise DataValidationError(
                f"Cannot split the data: class {label!r} has {len(positions)} "
                f"row(s), too few to appear in both splits with test_size="
                f"{test_size}."
            )
        is_test[rng.permutation(positions)[:n_test]] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def stratified_split(
    frame: pd.DataFrame, target: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into train and test, keeping class proportions, reproducibly."""
    train, test = stratified_indices(frame[target].to_numpy(), test_size, seed)
    return frame.iloc[train], frame.iloc[test]


def ingest(settings: Settings, params: Params) -> Path:
    """Load the configured source, validate it and write ``data/raw``."""
    source = get_source(params.data, settings.project_root)
    frame = validate_dataset(source.load(), params.data, f"source {params.data.source}")
    path = settings.raw_dir / RAW_FILE
    atomic.write_csv(path, frame)
    logger.info("Wrote %d rows x %d columns to %s", *frame.shape, path)
    return path


def prepare(settings: Settings, params: Params) -> tuple[Path, Path]:
    """Validate the raw snapshot and write a stratified train/test split."""
    raw_path = settings.raw_dir / RAW_FILE
    frame = validate_dataset(read_csv(raw_path, "raw data"), params.data, str(raw_path))
    train, test = stratified_split(
        frame, params.data.target, params.data.test_size, params.seed
    )
    train_path = settings.interim_dir / TRAIN_FILE
    test_path = settings.interim_dir / TEST_FILE
    atomic.write_csv(train_path, train)
    atomic.write_csv(test_path, test)
    logger.info(
        "Split %d rows into %d train, %d test", len(frame), len(train), len(test)
    )
    return train_path, test_path
