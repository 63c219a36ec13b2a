"""The building blocks of the pipeline, as small structural interfaces.

Anything with the right methods fits: register a new data source in
``data.SOURCES``, a new model in ``model.MODELS`` or a new evaluator in
``evaluate.EVALUATORS``, then select it by name in ``params.yaml``. The
pipeline code itself does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Matrix = NDArray[np.float32]
"""A model's input: one row of float32 features per example, as the feature
transform writes it (half the memory of float64, and what networks use)."""

ProgressCallback = Callable[[int, dict[str, float]], None]
"""Called as ``callback(epoch, metrics)`` after each epoch of training (once,
with epoch 0, for a model that is fit in one go)."""


class DataSource(Protocol):
    """Somewhere a labelled table comes from."""

    def load(self) -> pd.DataFrame:
        """Return the whole table, features and target column."""


class Model(Protocol):
    """A model of one task that maps a float feature matrix to predictions.

    For classification, targets are class positions ``0 .. n_classes - 1`` and
    :meth:`predict` returns an ``(n_rows, n_classes)`` array of probabilities
    whose rows sum to 1. For regression, targets are float values and
    :meth:`predict` returns an ``(n_rows,)`` array of values.
    """

    def fit(
        self,
        features: Matrix,
        targets: np.ndarray,
        val_features: Matrix,
        val_targets: np.ndarray,
        on_epoch: ProgressCallback,
    ) -> None:
        """Train on the first pair, reporting progress on the validation pair."""

    def predict(self, features: Matrix) -> FloatArray:
        """Probabilities (classification) or values (regression) of each row."""

    def save(self, path: Path) -> None:
        """Write the trained model to ``path`` atomically."""


@runtime_checkable
class Resumable(Protocol):
    """A model that trains in epochs and can save and resume its training."""

    def use_checkpoints(
        self, path: Path, fingerprint: dict[str, str], resume: bool
    ) -> None:
        """Checkpoint to ``path``; with ``resume``, continue from the checkpoint
        there, refusing one whose ``fingerprint`` differs."""


class Evaluator(Protocol):
    """Scores predictions and draws the plots a person looks at."""

    def metrics(self, targets: np.ndarray, outputs: FloatArray) -> dict[str, float]:
        """Return named scores of the model's ``outputs`` against ``targets``."""

    def plots(
        self,
        targets: np.ndarray,
        outputs: FloatArray,
        figures_dir: Path,
        plot_data_dir: Path,
    ) -> list[Path]:
        """Write PNG figures and DVC plot data; return the paths written."""


ModelFactory = Callable[[Mapping[str, Any], str, int, int], Model]
"""Builds a model as ``factory(hyperparameters, task, n_classes, seed)``;
``n_classes`` is 0 for regression."""


@dataclass(frozen=True)
class ModelEntry:
    """A model registered by name: the tasks it can learn and how to build it."""

    tasks: frozenset[str]
    factory: ModelFactory
