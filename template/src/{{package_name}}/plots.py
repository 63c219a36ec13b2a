"""Figures for people: confusion matrix, ROC, precision-recall, training curve.

Every function draws with matplotlib's file-only Agg backend and writes the
PNG atomically. Without timestamps in the metadata, the same data gives the
same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from . import atomic  # noqa: E402
from .interfaces import FloatArray, IntArray  # noqa: E402

PNG_METADATA = {"Software": None}


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as PNG to ``path`` atomically and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
    plt.close(figure)
    atomic.write_bytes(path, buffer.getvalue())
    return path


def confusion_matrix_figure(matrix: IntArray, class_names: Sequence[str]) -> Figure:
    """Counts of true (rows) against predicted (columns) classes."""
    figure, axes = plt.subplots(figsize=(4.5, 4))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = np.arange(len(class_names))
    axes.set(
        xticks=ticks,
        yticks=ticks,
        xticklabels=class_names,
        yticklabels=class_names,
        xlabel="Predicted",
        ylabel="True",
        title="Confusion matrix",
    )
    threshold = matrix.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour)
    figure.tight_layout()
    return figure


def curve_figure(
    x: FloatArray,
    y: FloatArray,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    diagonal: bool = False,
) -> Figure:
    """A single curve in the unit square, e.g. ROC or precision-recall."""
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.plot(x, y, linewidth=2)
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel, title=title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def training_curve_figure(history: dict[str, list[float]]) -> Figure:
    """Losses (left axis) and validation accuracy (right axis) per epoch."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for name in ("train_loss", "val_loss"):
        if name in history:
            axes.plot(history[name], label=name)
    axes.set(xlabel="Epoch", ylabel="Loss", title="Training curve")
    if "val_accuracy" in history:
        right = axes.twinx()
        right.plot(history["val_accuracy"], color="tab:green", label="val_accuracy")
        right.set_ylabel("Validation accuracy")
        right.legend(loc="center right")
    axes.legend(loc="upper right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure
