"""Stage ``train``: fit the configured model on the processed training split.

A part of the training split (``train.val_size``, stratified by class for
classification) is held out to report validation scores after each epoch.
Progress goes to the log (one line per epoch) and to DVCLive in
``reports/live``; the model goes to ``models/`` and an environment record to
``reports/live/run_info.json``. Before anything trains, the model and the
evaluator are checked against the task, so a mismatch stops the run early.

A model that trains in epochs checkpoints to ``models/checkpoints/`` (ignored
by git, not a DVC output); ``train --resume`` continues from there, and logs
from the epoch it resumes at. Started by ``torchrun``, every process trains
and only rank 0 writes files. The ``register`` stage records the training in
MLflow afterwards: nothing here talks to a tracking store.
"""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import psutil
from dvclive.live import Live

from ..config import Settings
from ..data.split import split_indices
from ..errors import ConfigError
from ..features.processed import ProcessedFile, load_processed, processed_targets
from ..features.transform import FeatureTransform, check_transform_matches
from ..params import Params
from ..utils import run_info
from ..utils.arrays import IntArray, Matrix
from ..utils.seeding import seed_everything
from .evaluators import resolve_evaluator
from .interfaces import Model, Resumable, Streaming
from .model import DEFAULT_MODELS, MODELS, STREAMING

logger = logging.getLogger(__name__)

CURVE_FILE = "training_curve.png"
GIB = 2**30
MEMORY_SHARE = 0.5
"""The most of the free memory a training matrix may take: the model's own
work (trees' binned copy, a forest, the MLP's batches) needs room too."""


def is_main_process() -> bool:
    """True unless this is a rank other than 0 of a ``torchrun`` launch."""
    return int(os.environ.get("RANK", "0")) == 0


def fingerprint(params: Params, *data_files: Path) -> dict[str, str]:
    """What a checkpoint must match to be resumed: the parameters, the
    training data and the processes (how many, and whether torchrun started
    them)."""
    data = hashlib.sha256()
    for path in data_files:
        data.update(path.read_bytes())
    return {
        "params": hashlib.sha256(params.model_dump_json().encode()).hexdigest(),
        "data": data.hexdigest(),
        "processes": os.environ.get("WORLD_SIZE", "1, without torchrun"),
    }


def resolve_model(params: Params) -> str:
    """The registered model ``train.model`` names (``auto``: the task's default).

    Raises :class:`ConfigError` for an unknown model or one that cannot learn
    the task in ``data.task``.
    """
    task = params.data.task
    name = DEFAULT_MODELS[task] if params.train.model == "auto" else params.train.model
    entry = MODELS.get(name)
    if entry is None:
        raise ConfigError(
            f"Unknown model {name!r} in train.model: use auto or one of "
            f"{', '.join(MODELS)}."
        )
    if task not in entry.tasks:
        fitting = [key for key, value in MODELS.items() if task in value.tasks]
        raise ConfigError(
            f"Model {name!r} cannot learn a {task} task (data.task): set "
            f"train.model to auto or one of {', '.join(fitting)}."
        )
    unknown = [key for key in params.train.sections if key not in MODELS]
    if unknown:
        raise ConfigError(
            f"train.{unknown[0]} is not a registered model: its section would be "
            f"ignored. Models: {', '.join(MODELS)}."
        )
    return name


def build_model(params: Params) -> Model:
    """Create the model of ``train.model`` with its section's hyperparameters."""
    name = resolve_model(params)
    try:
        return MODELS[name].factory(
            params.train.hyperparameters(name),
            params.data.task,
            len(params.data.labels),
            params.seed,
        )
    except (TypeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(
            f"Invalid hyperparameters in train.{name}: {message}"
        ) from exc


def split_rows(
    settings: Settings, params: Params
) -> tuple[np.ndarray, IntArray, IntArray]:
    """The targets of the processed training split, and the positions of its
    fit and validation rows (each ascending)."""
    data = params.data
    targets = processed_targets(settings.processed_file, data)
    fit_rows, val_rows = split_indices(
        targets if data.task == "classification" else None,
        len(targets),
        params.train.val_size,
        params.seed,
    )
    return targets, fit_rows, val_rows


def training_rows(
    settings: Settings, params: Params, transform: FeatureTransform
) -> tuple[Matrix, np.ndarray, int]:
    """The processed training split in fit-then-validation row order, its
    targets, and the number of fit rows.

    The model gets two slices of one matrix, read in that order: no copies.
    """
    targets, fit_rows, val_rows = split_rows(settings, params)
    order = np.concatenate([fit_rows, val_rows])
    processed = ProcessedFile(settings.processed_file, transform.output_columns)
    check_memory(processed.n_rows, len(processed.columns), resolve_model(params))
    features = load_processed(settings.processed_file, transform, order)
    return features, targets[order], len(fit_rows)


def check_memory(rows: int, columns: int, model: str) -> None:
    """Refuse to load a training matrix that would take more than
    ``MEMORY_SHARE`` of the memory free now, naming the ways around it."""
    needed = rows * columns * np.dtype(np.float32).itemsize
    free = psutil.virtual_memory().available
    if needed <= MEMORY_SHARE * free:
        return
    raise ConfigError(
        f"The processed training split is {rows:,} rows x {columns} columns: "
        f"{needed / GIB:.1f} GiB as one matrix for {model}, more than "
        f"{MEMORY_SHARE:.0%} of the {free / GIB:.1f} GiB of memory free now. "
        f"{STREAMING}, or train on a machine with more free memory."
    )


def train(settings: Settings, params: Params, resume: bool = False) -> Path:
    """Fit and save the model; return the path of the saved model.

    With ``resume``, continue from the checkpoint of an interrupted run.
    """
    model = build_model(params)
    resolve_evaluator(params)
    main = is_main_process()
    seed_everything(params.seed)
    transform = FeatureTransform.load(settings.transform_file)
    check_transform_matches(transform, params.data)
    streaming = isinstance(model, Streaming) and model.streams
    if streaming:
        # Only the validation rows and one row group at a time are in memory.
        processed = ProcessedFile(settings.processed_file, transform.output_columns)
        targets, fit_rows, val_rows = split_rows(settings, params)
        features = processed.rows(val_rows)
    else:
        features, targets, n_fit = training_rows(settings, params, transform)
    done = 0
    if isinstance(model, Resumable):
        data_files = (settings.processed_file, settings.transform_file)
        done = model.use_checkpoints(
            settings.checkpoint_file, fingerprint(params, *data_files), resume
        )
    history: dict[str, list[float]] = {}
    live_log = (
        Live(dir=str(settings.live_dir), dvcyaml=False, save_dvc_exp=False, report=None)
        if main
        else nullcontext()
    )
    with live_log as live:

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            if live is None:
                return
            if epoch >= done:  # epochs before a resumed run's start are logged
                summary = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
                logger.info("epoch %d: %s", epoch + 1, summary)
            for key, value in metrics.items():
                history.setdefault(key, []).append(value)
                live.log_metric(key, value)
            live.next_step()

        if streaming:
            assert isinstance(model, Streaming)
            model.fit_stream(
                processed, targets, fit_rows, features, targets[val_rows], on_epoch
            )
        else:
            model.fit(
                features[:n_fit],
                targets[:n_fit],
                features[n_fit:],
                targets[n_fit:],
                on_epoch,
            )
        if live is not None and len(history.get("train_loss", [])) > 1:
            # matplotlib is imported only when there is a curve to draw.
            from .plots import training_curve_figure

            live.log_image(CURVE_FILE, training_curve_figure(history))
    del features, targets  # saving the model needs memory too
    if main:
        model.save(settings.model_file)
        run_info.write(settings.training_run_info_file, params.seed, "train")
        logger.info(
            "Saved the %s model to %s", resolve_model(params), settings.model_file
        )
    return settings.model_file
