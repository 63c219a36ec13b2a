"""The building blocks of the pipeline, as small structural interfaces.

Anything with the right methods fits: register a new data source in
``data.SOURCES``, a new model in ``model.MODELS`` or a new evaluator in
``evaluate.EVALUATORS``, then select it by name in ``params.yaml``. The
pipeline code itself does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

ProgressCallback = Callable[[int, dict[str, float]], None]
"""Called as ``callback(epoch, metrics)`` after each epoch of training (once,
with epoch 0, for a model that is fit in one go)."""


class DataSource(Protocol):
    """Somewhere a labelled table comes from."""

    def load(self) -> pd.DataFrame:
        """Return the whole table, features and target column."""


class Model(Protocol):
    """A classifier that maps a float feature matrix to class probabilities.

    Labels are class indices ``0 .. n_classes - 1``.
    """

    def fit(
        self,
        features: FloatArray,
        labels: IntArray,
        val_features: FloatArray,
        val_labels: IntArray,
        on_epoch: ProgressCallback,
    ) -> None:
        """Train on the first pair, reporting progress on the validation pair."""

    def predict_proba(self, features: FloatArray) -> FloatArray:
        """Return an ``(n_rows, n_classes)`` array whose rows sum to 1."""

    def save(self, path: Path) -> None:
        """Write the trained model to ``path`` atomically."""


class Evaluator(Protocol):
    """Scores predictions and draws the plots a person looks at."""

    def metrics(self, labels: IntArray, proba: FloatArray) -> dict[str, float]:
        """Return named scores of ``proba`` against the true ``labels``."""

    def plots(
        self,
        labels: IntArray,
        proba: FloatArray,
        figures_dir: Path,
        plot_data_dir: Path,
    ) -> list[Path]:
        """Write PNG figures and DVC plot data; return the paths written."""


ModelFactory = Callable[[Mapping[str, Any], int, int], Model]
"""Builds a model as ``factory(hyperparameters, n_classes, seed)``."""
