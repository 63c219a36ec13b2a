"""Figures for people: confusion matrix, curves, scores per class, scatter plots
and the training curve.

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
import pandas as pd  # noqa: E402
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


def bar_chart_figure(table: pd.DataFrame, *, title: str) -> Figure:
    """Grouped bars: one group per row of ``table``, one bar per column, in [0, 1]."""
    figure, axes = plt.subplots(figsize=(max(4.5, 0.9 * len(table) + 2), 4))
    positions = np.arange(len(table))
    width = 0.8 / max(len(table.columns), 1)
    for offset, column in enumerate(table.columns):
        axes.bar(positions + offset * width, table[column], width, label=column)
    axes.set_xticks(positions + width * (len(table.columns) - 1) / 2)
    axes.set_xticklabels([str(name) for name in table.index], rotation=30, ha="right")
    axes.set(ylim=(0, 1.05), title=title)
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    return figure


def scatter_figure(
    x: FloatArray,
    y: FloatArray,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    line: tuple[tuple[float, float], tuple[float, float]],
) -> Figure:
    """Points of ``y`` against ``x`` with a reference line (x pair, y pair)."""
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.scatter(x, y, s=10, alpha=0.6)
    axes.plot(*line, linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def training_curve_figure(history: dict[str, list[float]]) -> Figure:
    """Losses (left axis) and the validation score (right axis) per epoch."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for name in ("train_loss", "val_loss"):
        if name in history:
            axes.plot(history[name], label=name)
    axes.set(xlabel="Epoch", ylabel="Loss", title="Training curve")
    scores = [
        name for name in history if name.startswith("val_") and name != "val_loss"
    ]
    if scores:
        right = axes.twinx()
        right.plot(history[scores[0]], color="tab:green", label=scores[0])
        right.set_ylabel(scores[0])
        right.legend(loc="center right")
    axes.legend(loc="upper right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure
