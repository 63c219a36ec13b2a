"""Stage ``train``: fit the configured model on the processed training split.

A stratified part of the training split (``train.val_size``) is held out to
report validation loss and accuracy after each epoch. Progress goes to the log
(one line per epoch) and to DVCLive in ``reports/live``; the model goes to
``models/`` and an environment record to ``reports/live/run_info.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dvclive.live import Live

from . import run_info
from .config import Settings
from .data import TRAIN_FILE, stratified_indices
from .errors import ConfigError
from .features import load_processed
from .interfaces import Model
from .model import MODEL_FILE, MODELS
from .params import Params
from .seeding import seed_everything

logger = logging.getLogger(__name__)

RUN_INFO_FILE = "run_info.json"
CURVE_FILE = "training_curve.png"


def build_model(
    name: str, hyperparameters: Mapping[str, Any], n_classes: int, seed: int
) -> Model:
    """Create the model registered as ``name`` in ``model.MODELS``."""
    factory = MODELS.get(name)
    if factory is None:
        raise ConfigError(
            f"Unknown model {name!r} in train.model: use one of {', '.join(MODELS)}."
        )
    try:
        return factory(hyperparameters, n_classes, seed)
    except (TypeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"Invalid hyperparameters for {name!r}: {message}") from exc


def train(settings: Settings, params: Params) -> Path:
    """Fit, track and save the model; return the path of the saved model."""
    model = build_model(
        params.train.model,
        params.train.hyperparameters,
        len(params.data.classes),
        params.seed,
    )
    seed_everything(params.seed)
    features, labels = load_processed(settings.processed_dir / TRAIN_FILE, params.data)
    fit_rows, val_rows = stratified_indices(labels, params.train.val_size, params.seed)
    history: dict[str, list[float]] = {}
    with Live(
        dir=str(settings.live_dir),
        dvcyaml=False,
        save_dvc_exp=False,
        report=None,
    ) as live:

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            summary = " ".join(f"{key}={value:.4f}" for key, value in metrics.items())
            logger.info("epoch %d: %s", epoch + 1, summary)
            for key, value in metrics.items():
                history.setdefault(key, []).append(value)
                live.log_metric(key, value)
            live.next_step()

        model.fit(
            features[fit_rows],
            labels[fit_rows],
            features[val_rows],
            labels[val_rows],
            on_epoch,
        )
        if len(history.get("train_loss", [])) > 1:
            # matplotlib is imported only when there is a curve to draw.
            from .plots import training_curve_figure

            live.log_image(CURVE_FILE, training_curve_figure(history))
    model_path = settings.models_dir / MODEL_FILE
    model.save(model_path)
    run_info.write(settings.live_dir / RUN_INFO_FILE, params.seed, "train")
    logger.info("Saved %s model to %s", params.train.model, model_path)
    return model_path
