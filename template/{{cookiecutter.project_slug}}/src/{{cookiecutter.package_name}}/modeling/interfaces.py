"""The building blocks of modeling, as small structural interfaces.

Anything with the right methods fits: register a new model in
``modeling.model.MODELS`` or a new evaluator in
``modeling.evaluators.EVALUATORS`` (a new data source in
``data.sources.SOURCES``), then select it by name in ``params.yaml``. The
pipeline code itself does not change, and tests can fake any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..utils.arrays import FloatArray, IntArray, Matrix

ProgressCallback = Callable[[int, dict[str, float]], None]
"""Called as ``callback(epoch, metrics)`` after each epoch of training (once,
with epoch 0, for a model that is fit in one go)."""


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
    ) -> int:
        """Checkpoint to ``path``; with ``resume``, continue from the checkpoint
        there, refusing one whose ``fingerprint`` differs. Returns the number of
        epochs done already, whose progress :meth:`Model.fit` reports again."""


class Blocks(Protocol):
    """A matrix read a block of rows at a time, such as the row groups of the
    processed training split (:class:`~..features.processed.ProcessedFile`)."""

    starts: IntArray
    """The position of each block's first row, ascending."""

    def block(self, group: int) -> Matrix:
        """The rows of block ``group``."""


@runtime_checkable
class Streaming(Protocol):
    """A model that can learn a block of rows at a time, so that the training
    matrix never has to be in memory as a whole."""

    @property
    def streams(self) -> bool:
        """Whether, as configured, it trains by :meth:`fit_stream`."""

    def fit_stream(
        self,
        blocks: Blocks,
        targets: np.ndarray,
        rows: IntArray,
        val_features: Matrix,
        val_targets: np.ndarray,
        on_epoch: ProgressCallback,
    ) -> None:
        """Train on the ``rows`` (ascending positions) of ``blocks``, whose
        targets are ``targets`` (one per row of ``blocks``), reporting progress
        on the validation pair."""


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
