"""Stage ``evaluate``: score the trained model on the held-out test split.

Writes ``reports/metrics.json`` (DVC metrics), PNG figures under
``reports/figures``, plot data for ``dvc plots`` under ``reports/plots`` and an
environment record in ``reports/run_info.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from . import atomic, run_info
from .config import Settings
from .data import TEST_FILE
from .errors import ConfigError
from .features import TRANSFORM_FILE, Scaler, load_processed
from .interfaces import Evaluator, FloatArray, IntArray
from .model import MODEL_FILE, load_model
from .params import EvaluateParams, Params
from .plots import confusion_matrix_figure, curve_figure, save_figure
from .seeding import seed_everything

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
RUN_INFO_FILE = "run_info.json"
DIGITS = 6


class BinaryClassificationEvaluator:
    """Threshold and ranking metrics of a two-class problem.

    Class index 1 is the positive class; ``threshold`` turns its probability
    into a predicted label.
    """

    def __init__(self, threshold: float, class_names: list[str]) -> None:
        if len(class_names) != 2:
            raise ConfigError(
                f"The 'binary' evaluator needs exactly 2 classes, got "
                f"{len(class_names)}: register another evaluator in "
                "evaluate.EVALUATORS and set evaluate.evaluator."
            )
        self.threshold = threshold
        self.class_names = class_names

    def predict(self, proba: FloatArray) -> IntArray:
        """Predicted class index of each row."""
        return np.asarray(proba[:, 1] >= self.threshold, dtype=np.int64)

    def metrics(self, labels: IntArray, proba: FloatArray) -> dict[str, float]:
        """Accuracy, precision, recall, F1, ROC AUC, average precision, log loss."""
        predicted = self.predict(proba)
        positive = proba[:, 1]
        scores = {
            "accuracy": skm.accuracy_score(labels, predicted),
            "balanced_accuracy": skm.balanced_accuracy_score(labels, predicted),
            "precision": skm.precision_score(labels, predicted, zero_division=0),
            "recall": skm.recall_score(labels, predicted, zero_division=0),
            "f1": skm.f1_score(labels, predicted, zero_division=0),
            "roc_auc": skm.roc_auc_score(labels, positive),
            "average_precision": skm.average_precision_score(labels, positive),
            "log_loss": skm.log_loss(labels, proba, labels=[0, 1]),
        }
        return {name: round(float(value), DIGITS) for name, value in scores.items()}

    def plots(
        self,
        labels: IntArray,
        proba: FloatArray,
        figures_dir: Path,
        plot_data_dir: Path,
    ) -> list[Path]:
        """Confusion matrix, ROC and precision-recall: PNGs and CSV plot data."""
        predicted = self.predict(proba)
        fpr, tpr, roc_thresholds = skm.roc_curve(labels, proba[:, 1])
        precision, recall, _ = skm.precision_recall_curve(labels, proba[:, 1])
        matrix = skm.confusion_matrix(labels, predicted, labels=[0, 1])
        names = np.asarray(self.class_names)
        tables = {
            "roc.csv": pd.DataFrame(
                {"fpr": fpr, "tpr": tpr, "threshold": roc_thresholds}
            ),
            "precision_recall.csv": pd.DataFrame(
                {"recall": recall, "precision": precision}
            ),
            "confusion.csv": pd.DataFrame(
                {"actual": names[labels], "predicted": names[predicted]}
            ),
        }
        written = []
        for name, table in tables.items():
            atomic.write_csv(plot_data_dir / name, table)
            written.append(plot_data_dir / name)
        auc = skm.auc(fpr, tpr)
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
        for name, figure in figures.items():
            written.append(save_figure(figure, figures_dir / name))
        return written


EvaluatorFactory = Callable[[EvaluateParams, list[str]], Evaluator]

EVALUATORS: dict[str, EvaluatorFactory] = {
    "binary": lambda params, names: BinaryClassificationEvaluator(
        params.threshold, names
    ),
}


def build_evaluator(params: EvaluateParams, class_names: list[str]) -> Evaluator:
    """Create the evaluator registered as ``params.evaluator``."""
    factory = EVALUATORS.get(params.evaluator)
    if factory is None:
        raise ConfigError(
            f"Unknown evaluator {params.evaluator!r} in evaluate.evaluator: "
            f"use one of {', '.join(EVALUATORS)}."
        )
    return factory(params, class_names)


def evaluate(settings: Settings, params: Params) -> dict[str, float]:
    """Score the saved model on the test split and write metrics and plots."""
    seed_everything(params.seed)
    class_names = [str(value) for value in params.data.classes]
    evaluator = build_evaluator(params.evaluate, class_names)
    scaler = Scaler.load(settings.models_dir / TRANSFORM_FILE)
    features, labels = load_processed(
        settings.processed_dir / TEST_FILE, params.data, scaler.columns
    )
    model = load_model(settings.models_dir / MODEL_FILE)
    proba = model.predict_proba(features)
    scores = evaluator.metrics(labels, proba)
    scores["n_test"] = float(len(labels))
    evaluator.plots(labels, proba, settings.figures_dir, settings.plots_dir)
    atomic.write_json(settings.reports_dir / METRICS_FILE, scores)
    run_info.write(settings.reports_dir / RUN_INFO_FILE, params.seed, "evaluate")
    logger.info(
        "Test metrics: %s",
        " ".join(f"{name}={value:.4f}" for name, value in scores.items()),
    )
    return scores
