"""Stage ``evaluate``: score the trained model on the held-out test split.

The raw test rows go through the same :class:`~.predictor.Predictor` as any
prediction does, a row group at a time. A trivial baseline fitted on the
training split (the class shares, or the mean) is scored beside the model, as
``baseline_<metric>``: a score means little until it beats that. Writes
``reports/metrics.json`` (DVC metrics, with keys fixed per evaluator), PNG
figures under ``reports/figures/evaluation``, plot data for ``dvc plots``
under ``reports/plots`` and an environment record in
``reports/run_info.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..config import Settings
from ..data.schema import validate_frame
from ..data.tables import read_row_groups
from ..features.processed import processed_targets
from ..features.targets import encode_targets
from ..params import DataParams, Params
from ..utils import atomic, run_info
from ..utils.arrays import FloatArray
from ..utils.seeding import seed_everything
from .evaluators import build_evaluator
from .predictor import Predictor

logger = logging.getLogger(__name__)


def remove_stale(folder: Path, keep: list[Path], suffix: str) -> None:
    """Delete files with ``suffix`` in ``folder`` that this run did not write.

    After a change of task, the plots of the previous task would linger.
    """
    for path in folder.glob(f"*{suffix}"):
        if path not in keep:
            path.unlink()


BASELINE_PREFIX = "baseline_"


def baseline_outputs(
    train_targets: np.ndarray, n_rows: int, data: DataParams
) -> FloatArray:
    """What a model that ignores the features predicts for ``n_rows`` rows,
    fitted on the training targets: each class's share of them (the majority
    class wins), or their mean."""
    if data.task == "regression":
        return np.full(n_rows, float(np.mean(train_targets)))
    counts = np.bincount(train_targets, minlength=len(data.labels))
    return np.tile(counts / counts.sum(), (n_rows, 1))


def summary(scores: dict[str, float]) -> str:
    """The metrics as one line, each with its baseline's beside it."""
    shown = []
    for name, value in scores.items():
        if name.startswith(BASELINE_PREFIX):
            continue
        baseline = scores.get(BASELINE_PREFIX + name)
        against = "" if baseline is None else f" (baseline {baseline:.4f})"
        shown.append(f"{name}={value:.4f}{against}")
    return " ".join(shown)


def test_outputs(
    predictor: Predictor, test_path: Path, data: DataParams
) -> tuple[np.ndarray, FloatArray]:
    """The encoded targets of the test split and the model's outputs, read and
    predicted a row group at a time: only those two are kept whole."""
    targets, outputs = [], []
    for part in read_row_groups(test_path, "test data"):
        test = validate_frame(part, data, str(test_path))
        targets.append(encode_targets(test[data.target], data))
        outputs.append(predictor.outputs(test))
    return np.concatenate(targets), np.concatenate(outputs)


def evaluate(settings: Settings, params: Params) -> dict[str, float]:
    """Score the saved model on the test split and write metrics and plots."""
    data = params.data
    seed_everything(params.seed)
    evaluator = build_evaluator(params)
    predictor = Predictor.from_project(settings, params)
    targets, outputs = test_outputs(predictor, settings.test_file, data)
    scores = evaluator.metrics(targets, outputs)
    train_targets = processed_targets(settings.processed_file, data)
    baseline = baseline_outputs(train_targets, len(targets), data)
    for name, value in evaluator.metrics(targets, baseline).items():
        scores[BASELINE_PREFIX + name] = value
    scores["n_test"] = float(len(targets))
    written = evaluator.plots(
        targets, outputs, settings.evaluation_figures_dir, settings.plots_dir
    )
    remove_stale(settings.evaluation_figures_dir, written, ".png")
    remove_stale(settings.plots_dir, written, ".csv")
    atomic.write_json(settings.metrics_file, scores)
    run_info.write(settings.evaluation_run_info_file, params.seed, "evaluate")
    logger.info("Test metrics: %s", summary(scores))
    return scores
