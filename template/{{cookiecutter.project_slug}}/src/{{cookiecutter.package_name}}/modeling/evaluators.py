"""Evaluators: the metrics of a task, the plots a person looks at, and the one
rule that turns a model's outputs into predicted classes.

``evaluate.evaluator`` in ``params.yaml`` picks one by name (``auto``: by task
and number of classes). A binary evaluator predicts the second class when its
probability reaches ``evaluate.threshold``; the others take the most probable
class. :func:`class_positions` is that rule, for every path that predicts.

Each evaluator also names the plots of its data that ``dvc plots show`` draws
(``DVC_PLOTS``); :func:`dvc_plots` gives ``dvc.yaml``'s top-level ``plots``
for the data's evaluator, which ``init-data`` writes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..params import EvaluateParams, Params
from ..utils import atomic
from ..utils.arrays import FloatArray, IntArray
from .interfaces import Evaluator

DIGITS = 6
CURVE_POINTS = 1_000
"""Most points of a curve in its plot data and figure: plenty to draw it, few
enough for ``dvc plots`` to render and git to hold (a curve of a large test
split has a point per distinct score)."""
PLOT_DATA = "reports/plots"
"""The plot data folder as ``dvc.yaml`` names it (``Settings.plots_dir``)."""
FIGURES = [
    "reports/figures/evaluation",{% if cookiecutter.ml_framework == "pytorch" %}
    "reports/live/plots/images",{% endif %}
]
"""Folders of PNG figures that ``dvc plots show`` includes, whatever the task."""
{%- if cookiecutter.ml_framework == "pytorch" %}
TRAINING_PLOTS = [
    {
        "Training loss": {
            "x": "step",
            "y": {
                "reports/live/plots/metrics/train_loss.tsv": "train_loss",
                "reports/live/plots/metrics/val_loss.tsv": "val_loss",
            },
        }
    }
]
"""The training curve, from DVCLive's per-epoch logs."""
{%- else %}
TRAINING_PLOTS: list[dict[str, Any]] = []
"""None: a scikit-learn model logs one step, which is no curve."""
{%- endif %}


def csv_plot(title: str, template: str, x: str, file: str, y: str) -> dict[str, Any]:
    """A ``dvc.yaml`` plot of columns ``x`` and ``y`` of ``PLOT_DATA/file``."""
    return {title: {"template": template, "x": x, "y": {f"{PLOT_DATA}/{file}": y}}}


CONFUSION_PLOT = csv_plot(
    "Confusion matrix", "confusion", "actual", "confusion.csv", "predicted"
)


def sklearn_metrics() -> ModuleType:
    """scikit-learn's metrics, imported on first use: training and serving,
    which only decide classes, do not pay for loading them."""
    return importlib.import_module("sklearn.metrics")


def class_positions(outputs: FloatArray, threshold: float | None) -> IntArray:
    """The predicted class position of each row of probabilities: the second
    class where its probability reaches ``threshold`` (binary), else the most
    probable class."""
    if threshold is not None:
        return np.asarray(outputs[:, 1] >= threshold, dtype=np.int64)
    return np.asarray(outputs.argmax(axis=1), dtype=np.int64)


def decision_threshold(params: Params) -> float | None:
    """``evaluate.threshold`` when the binary evaluator decides, else None."""
    return params.evaluate.threshold if resolve_evaluator(params) == "binary" else None


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {name: round(float(value), DIGITS) for name, value in scores.items()}


def _write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    for name, table in tables.items():
        atomic.write_csv(folder / name, table)
    return [folder / name for name in tables]


def thinned(*columns: np.ndarray, points: int = CURVE_POINTS) -> list[np.ndarray]:
    """The columns of a curve at no more than ``points`` positions, evenly spread
    along it, the first and last included."""
    size = len(columns[0])
    if size <= points:
        return list(columns)
    keep = np.unique(np.linspace(0, size - 1, points).round().astype(np.int64))
    return [column[keep] for column in columns]


def _confusion(
    labels: np.ndarray, predicted: np.ndarray, class_names: list[str]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Confusion matrix and its long form for ``dvc plots``, by class name."""
    skm = sklearn_metrics()

    classes = list(range(len(class_names)))
    matrix = skm.confusion_matrix(labels, predicted, labels=classes)
    names = np.asarray(class_names, dtype=object)
    table = pd.DataFrame({"actual": names[labels], "predicted": names[predicted]})
    return matrix, table


class BinaryClassificationEvaluator:
    """Threshold and ranking metrics of a two-class problem.

    The second class of ``data.classes`` is the positive one; ``threshold``
    turns its probability into a predicted label.
    """

    DVC_PLOTS: ClassVar[list[dict[str, Any]]] = [
        CONFUSION_PLOT,
        csv_plot("ROC", "simple", "fpr", "roc.csv", "tpr"),
        csv_plot(
            "Precision-recall", "simple", "recall", "precision_recall.csv", "precision"
        ),
    ]

    def __init__(self, threshold: float, class_names: list[str]) -> None:
        self.threshold = threshold
        self.class_names = class_names

    def predict(self, proba: FloatArray) -> IntArray:
        """Predicted class position of each row."""
        return class_positions(proba, self.threshold)

    def metrics(self, targets: np.ndarray, outputs: FloatArray) -> dict[str, float]:
        """Accuracy, precision, recall, F1, ROC AUC, average precision, log loss."""
        skm = sklearn_metrics()

        predicted = self.predict(outputs)
        positive = outputs[:, 1]
        return _rounded(
            {
                "accuracy": skm.accuracy_score(targets, predicted),
                "balanced_accuracy": skm.balanced_accuracy_score(targets, predicted),
                "precision": skm.precision_score(targets, predicted, zero_division=0),
                "recall": skm.recall_score(targets, predicted, zero_division=0),
                "f1": skm.f1_score(targets, predicted, zero_division=0),
                "roc_auc": skm.roc_auc_score(targets, positive),
                "average_precision": skm.average_precision_score(targets, positive),
                "log_loss": skm.log_loss(targets, outputs, labels=[0, 1]),
            }
        )

    def plots(
        self,
        targets: np.ndarray,
        outputs: FloatArray,
        figures_dir: Path,
        plot_data_dir: Path,
    ) -> list[Path]:
        """Confusion matrix, ROC and precision-recall: PNGs and CSV plot data."""
        skm = sklearn_metrics()

        # Imported here, so that training does not load matplotlib.
        from .plots import confusion_matrix_figure, curve_figure, save_figures

        matrix, confusion = _confusion(targets, self.predict(outputs), self.class_names)
        fpr, tpr, thresholds = skm.roc_curve(targets, outputs[:, 1])
        auc = skm.auc(fpr, tpr)
        fpr, tpr, thresholds = thinned(fpr, tpr, thresholds)
        precision, recall = thinned(
            *skm.precision_recall_curve(targets, outputs[:, 1])[:2]
        )
        written = _write_tables(
            {
                "roc.csv": pd.DataFrame(
                    {"fpr": fpr, "tpr": tpr, "threshold": thresholds}
                ),
                "precision_recall.csv": pd.DataFrame(
                    {"recall": recall, "precision": precision}
                ),
                "confusion.csv": confusion,
            },
            plot_data_dir,
        )
        figures = {
            "confusion_matrix.png": confusion_matrix_figure(matrix, self.class_names),
            "roc_curve.png": curve_figure(
                fpr,
                tpr,
                xlabel="False positive rate",
                ylabel="True positive rate",
                title=f"ROC curve (AUC = {auc:.3f})",
                diagonal=True,
            ),
            "precision_recall_curve.png": curve_figure(
                recall,
                precision,
                xlabel="Recall",
                ylabel="Precision",
                title="Precision-recall curve",
            ),
        }
        return written + save_figures(figures, figures_dir)


class MulticlassClassificationEvaluator:
    """Metrics of a problem with two or more classes; the most probable class wins."""

    DVC_PLOTS: ClassVar[list[dict[str, Any]]] = [
        CONFUSION_PLOT,
        csv_plot("Per-class scores", "bar_horizontal", "f1", "per_class.csv", "class"),
    ]

    def __init__(self, class_names: list[str]) -> None:
        self.class_names = class_names

    def metrics(self, targets: np.ndarray, outputs: FloatArray) -> dict[str, float]:
        """Accuracy, balanced accuracy, macro and weighted F1, log loss, ROC AUC."""
        skm = sklearn_metrics()

        predicted = class_positions(outputs, None)
        classes = list(range(len(self.class_names)))
        return _rounded(
            {
                "accuracy": skm.accuracy_score(targets, predicted),
                "balanced_accuracy": skm.balanced_accuracy_score(targets, predicted),
                "f1_macro": skm.f1_score(
                    targets, predicted, average="macro", zero_division=0
                ),
                "f1_weighted": skm.f1_score(
                    targets, predicted, average="weighted", zero_division=0
                ),
                "log_loss": skm.log_loss(targets, outputs, labels=classes),
                "roc_auc_ovr": _roc_auc_ovr(targets, outputs),
            }
        )

    def per_class(self, targets: np.ndarray, outputs: FloatArray) -> pd.DataFrame:
        """Precision, recall, F1 and support of each class, by class name."""
        skm = sklearn_metrics()

        classes = list(range(len(self.class_names)))
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            targets, class_positions(outputs, None), labels=classes, zero_division=0
        )
        return pd.DataFrame(
            {
                "class": self.class_names,
                "precision": np.round(precision, DIGITS),
                "recall": np.round(recall, DIGITS),
                "f1": np.round(f1, DIGITS),
                "support": support,
            }
        )

    def plots(
        self,
        targets: np.ndarray,
        outputs: FloatArray,
        figures_dir: Path,
        plot_data_dir: Path,
    ) -> list[Path]:
        """Confusion matrix and per-class scores: PNGs and CSV plot data."""
        # Imported here, so that training does not load matplotlib.
        from .plots import bar_chart_figure, confusion_matrix_figure, save_figures

        matrix, confusion = _confusion(
            targets, class_positions(outputs, None), self.class_names
        )
        table = self.per_class(targets, outputs)
        written = _write_tables(
            {"confusion.csv": confusion, "per_class.csv": table}, plot_data_dir
        )
        figures = {
            "confusion_matrix.png": confusion_matrix_figure(matrix, self.class_names),
            "per_class.png": bar_chart_figure(
                table.set_index("class")[["precision", "recall", "f1"]],
                title="Scores per class",
            ),
        }
        return written + save_figures(figures, figures_dir)


def _roc_auc_ovr(targets: np.ndarray, outputs: FloatArray) -> float:
    """One-vs-rest ROC AUC over the classes present, macro-averaged."""
    skm = sklearn_metrics()

    present = np.unique(targets)
    scores = [
        skm.roc_auc_score(targets == label, outputs[:, label]) for label in present
    ]
    return float(np.mean(scores)) if len(present) > 1 else float("nan")


class RegressionEvaluator:
    """Error metrics of predicted values, and the plots that show where they err."""

    DVC_PLOTS: ClassVar[list[dict[str, Any]]] = [
        csv_plot(
            "Predicted against actual",
            "scatter",
            "actual",
            "predicted_vs_actual.csv",
            "predicted",
        ),
        csv_plot("Residuals", "scatter", "predicted", "residuals.csv", "residual"),
    ]

    def metrics(self, targets: np.ndarray, outputs: FloatArray) -> dict[str, float]:
        """Root mean squared error, mean absolute error and R squared."""
        skm = sklearn_metrics()

        return _rounded(
            {
                "rmse": np.sqrt(skm.mean_squared_error(targets, outputs)),
                "mae": skm.mean_absolute_error(targets, outputs),
                "r2": skm.r2_score(targets, outputs),
            }
        )

    def plots(
        self,
        targets: np.ndarray,
        outputs: FloatArray,
        figures_dir: Path,
        plot_data_dir: Path,
    ) -> list[Path]:
        """Predicted against actual, and residuals: PNGs and CSV plot data."""
        # Imported here, so that training does not load matplotlib.
        from .plots import save_figures, scatter_figure

        residuals = targets - outputs
        written = _write_tables(
            {
                "predicted_vs_actual.csv": pd.DataFrame(
                    {"actual": targets, "predicted": outputs}
                ),
                "residuals.csv": pd.DataFrame(
                    {"predicted": outputs, "residual": residuals}
                ),
            },
            plot_data_dir,
        )
        low, high = float(min(targets.min(), outputs.min())), float(
            max(targets.max(), outputs.max())
        )
        figures = {
            "predicted_vs_actual.png": scatter_figure(
                targets,
                outputs,
                xlabel="Actual",
                ylabel="Predicted",
                title="Predicted against actual",
                line=((low, high), (low, high)),
            ),
            "residuals.png": scatter_figure(
                outputs,
                residuals,
                xlabel="Predicted",
                ylabel="Actual - predicted",
                title="Residuals",
                line=((low, high), (0.0, 0.0)),
            ),
        }
        return written + save_figures(figures, figures_dir)


@dataclass(frozen=True)
class EvaluatorEntry:
    """An evaluator registered by name: the task and class counts it scores."""

    task: str
    min_classes: int
    max_classes: int | None
    factory: Callable[[EvaluateParams, list[str]], Evaluator]
    plots: list[dict[str, Any]]


EVALUATORS: dict[str, EvaluatorEntry] = {
    "binary": EvaluatorEntry(
        "classification",
        2,
        2,
        lambda params, names: BinaryClassificationEvaluator(params.threshold, names),
        BinaryClassificationEvaluator.DVC_PLOTS,
    ),
    "multiclass": EvaluatorEntry(
        "classification",
        2,
        None,
        lambda params, names: MulticlassClassificationEvaluator(names),
        MulticlassClassificationEvaluator.DVC_PLOTS,
    ),
    "regression": EvaluatorEntry(
        "regression",
        0,
        0,
        lambda params, names: RegressionEvaluator(),
        RegressionEvaluator.DVC_PLOTS,
    ),
}


def resolve_evaluator(params: Params) -> str:
    """The evaluator ``evaluate.evaluator`` names (``auto``: by task and classes).

    Raises :class:`ConfigError` for an unknown evaluator or one that cannot
    score the task and classes in ``data``.
    """
    data = params.data
    n_classes = len(data.labels)
    name = params.evaluate.evaluator
    if name == "auto":
        if data.task == "regression":
            name = "regression"
        else:
            name = "binary" if n_classes == 2 else "multiclass"
    entry = EVALUATORS.get(name)
    if entry is None:
        raise ConfigError(
            f"Unknown evaluator {name!r} in evaluate.evaluator: use auto or one "
            f"of {', '.join(EVALUATORS)}."
        )
    too_many = entry.max_classes is not None and n_classes > entry.max_classes
    if entry.task != data.task or n_classes < entry.min_classes or too_many:
        what = f"{n_classes} classes" if data.task == "classification" else "values"
        raise ConfigError(
            f"The {name!r} evaluator cannot score a {data.task} task with {what}: "
            "set evaluate.evaluator to auto."
        )
    return name


def build_evaluator(params: Params) -> Evaluator:
    """Create the evaluator that ``evaluate.evaluator`` resolves to."""
    entry = EVALUATORS[resolve_evaluator(params)]
    return entry.factory(params.evaluate, [str(label) for label in params.data.labels])


def dvc_plots(params: Params) -> list[Any]:
    """``dvc.yaml``'s top-level ``plots``: the plot data of the evaluator
    ``params`` resolve to, the training curve and the figure folders, so that
    ``dvc plots show`` finds every file it is told to draw."""
    return [*EVALUATORS[resolve_evaluator(params)].plots, *TRAINING_PLOTS, *FIGURES]
