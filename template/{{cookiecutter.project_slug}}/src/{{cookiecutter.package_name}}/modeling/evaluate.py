"""Stage ``evaluate``: score the trained model on the held-out test split.

The raw test rows go through the same :class:`~.predictor.Predictor` as any
prediction does. Writes ``reports/metrics.json`` (DVC metrics, with keys fixed
per evaluator), PNG figures under ``reports/figures/evaluation``, plot data for
``dvc plots`` under ``reports/plots`` and an environment record in
``reports/run_info.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..data.schema import validate_frame
from ..data.tables import read_table
from ..features.targets import encode_targets
from ..params import Params
from ..utils import atomic, run_info
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


def evaluate(settings: Settings, params: Params) -> dict[str, float]:
    """Score the saved model on the test split and write metrics and plots."""
    data = params.data
    seed_everything(params.seed)
    evaluator = build_evaluator(params)
    predictor = Predictor.from_project(settings, params)
    test_path = settings.test_file
    test = validate_frame(read_table(test_path, "test data"), data, str(test_path))
    targets = encode_targets(test[data.target], data)
    outputs = predictor.outputs(test)
    scores = evaluator.metrics(targets, outputs)
    scores["n_test"] = float(len(targets))
    written = evaluator.plots(
        targets, outputs, settings.evaluation_figures_dir, settings.plots_dir
    )
    remove_stale(settings.evaluation_figures_dir, written, ".png")
    remove_stale(settings.plots_dir, written, ".csv")
    atomic.write_json(settings.metrics_file, scores)
    run_info.write(settings.evaluation_run_info_file, params.seed, "evaluate")
    logger.info(
        "Test metrics: %s",
        " ".join(f"{name}={value:.4f}" for name, value in scores.items()),
    )
    return scores
