"""Figures of a model for people: confusion matrix, curves, scores per class,
scatter plots and the training curve, drawn in the project's one style
(:mod:`..utils.figures`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..utils.arrays import FloatArray, IntArray
from ..utils.figures import new_figure, save_figure


def save_figures(figures: Mapping[str, Figure], folder: Path) -> list[Path]:
    """Write each figure as ``folder/<name>``; the paths written."""
    return [save_figure(figure, folder / name) for name, figure in figures.items()]


def confusion_matrix_figure(matrix: IntArray, class_names: Sequence[str]) -> Figure:
    """Counts of true (rows) against predicted (columns) classes."""
    figure, axes = new_figure(5, 4.5)
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
    axes.grid(False)
    threshold = matrix.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if count > threshold else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour)
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
    figure, axes = new_figure(4.5, 4)
    axes.plot(x, y, linewidth=2)
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel, title=title)
    return figure


def bar_chart_figure(table: pd.DataFrame, *, title: str) -> Figure:
    """Grouped bars: one group per row of ``table``, one bar per column, in [0, 1]."""
    figure, axes = new_figure(max(4.5, 0.9 * len(table) + 2), 4.5)
    positions = np.arange(len(table))
    width = 0.8 / max(len(table.columns), 1)
    for offset, column in enumerate(table.columns):
        axes.bar(positions + offset * width, table[column], width, label=column)
    axes.set_xticks(positions + width * (len(table.columns) - 1) / 2)
    axes.set_xticklabels([str(name) for name in table.index], rotation=30, ha="right")
    axes.set(ylim=(0, 1.05), title=title)
    axes.legend(loc="lower right")
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
    figure, axes = new_figure(4.5, 4)
    axes.scatter(x, y, s=10, alpha=0.6)
    axes.plot(*line, linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return figure


def training_curve_figure(history: dict[str, list[float]]) -> Figure:
    """Losses (left axis) and the validation score (right axis) per epoch."""
    figure, axes = new_figure(6.5, 4)
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
        right.grid(False)
        right.legend(loc="center right")
        figure.subplots_adjust(right=1 - 0.8 / figure.get_figwidth())  # its label
    axes.legend(loc="upper right")
    return figure
