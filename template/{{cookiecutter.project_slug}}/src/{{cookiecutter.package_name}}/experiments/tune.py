"""Command ``tune``: search one model's hyperparameters with Optuna.

The search space is ``tune.space.<model>`` in ``params.yaml``; each trial
trains the model with the trial's values over the defaults of
``train.<model>``. A model fitted in one go is scored on ``tune.folds``
cross-validation folds of the training split; a model that trains in epochs
on the validation split of ``train.val_size``, reporting its validation loss
after each epoch so that the median pruner stops a poor trial early. The test
split is never read.

The TPE sampler is seeded from ``seed``: run alone, ``tune`` repeats its
trials, their values and the best parameters bit for bit. Several workers
(``--workers N`` here, ``--join`` on other machines) share one study through
Optuna's storage; each samples with its own seed, so none repeats another's
trials, but which trial sees which history depends on timing (see
docs/experiments.md).

The outcome is ``reports/tune/best_params.json`` and ``trials.csv``; with
``--apply`` the best values go into ``params.yaml``. With tracking on, the
study is one MLflow run and each trial a run nested under it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend

from ..config import Settings
from ..errors import ConfigError, PipelineError
from ..features.processed import load_processed, processed_targets
from ..features.transform import FeatureTransform, check_transform_matches
from ..modeling.evaluators import build_evaluator
from ..modeling.interfaces import Model, Resumable
from ..modeling.model import MODELS
from ..modeling.train import resolve_model, training_rows
from ..params import Params, SearchRange
from ..tracking.registry import ERROR_METRICS
from ..utils import atomic
from ..utils.arrays import Matrix
from ..utils.seeding import seed_everything
from .study_runs import METRIC_ATTR, StudyRuns

logger = logging.getLogger(__name__)

JOURNAL_FILE = "journal.log"
BEST_FILE = "best_params.json"
TRIALS_FILE = "trials.csv"
DEFAULT_METRICS = {"classification": "log_loss", "regression": "rmse"}
"""What ``tune.metric: auto`` minimises: a smooth score of the whole
prediction, where accuracy would move in steps."""


def suggest(trial: optuna.Trial, space: Mapping[str, SearchRange]) -> dict[str, Any]:
    """The trial's value of each hyperparameter of ``space``."""
    values: dict[str, Any] = {}
    for name, search in space.items():
        if search.choices is not None:
            values[name] = trial.suggest_categorical(name, search.choices)
        elif search.integer:
            values[name] = trial.suggest_int(
                name,
                int(search.low or 0),
                int(search.high or 0),
                step=int(search.step or 1),
                log=search.log,
            )
        else:
            values[name] = trial.suggest_float(
                name,
                float(search.low or 0),
                float(search.high or 0),
                step=search.step,
                log=search.log,
            )
    return values


def folds(targets: np.ndarray, count: int, task: str, seed: int) -> list[np.ndarray]:
    """Validation rows of each cross-validation fold, stratified by class."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (
        StratifiedKFold(count, shuffle=True, random_state=seed)
        if task == "classification"
        else KFold(count, shuffle=True, random_state=seed)
    )
    rows = np.zeros(len(targets))
    return [val for _, val in splitter.split(rows, targets)]


@dataclass
class Objective:
    """One trial: the model of ``name`` with the trial's values, scored."""

    settings: Settings
    params: Params
    name: str
    metric: str

    def __post_init__(self) -> None:
        transform = FeatureTransform.load(self.settings.transform_file)
        check_transform_matches(transform, self.params.data)
        self.evaluator = build_evaluator(self.params)
        self.epochs = isinstance(self.build({}), Resumable)
        if self.epochs:
            features, targets, n_fit = training_rows(
                self.settings, self.params, transform
            )
            self.split = (features[:n_fit], targets[:n_fit])
            self.validation = (features[n_fit:], targets[n_fit:])
        else:
            self.features = load_processed(self.settings.processed_file, transform)
            self.targets = processed_targets(
                self.settings.processed_file, self.params.data
            )
            self.folds = folds(
                self.targets,
                self.params.tune.folds,
                self.params.data.task,
                self.params.seed,
            )

    def build(self, values: Mapping[str, Any]) -> Model:
        hyperparameters = self.params.train.hyperparameters(self.name) | dict(values)
        data = self.params.data
        try:
            return MODELS[self.name].factory(
                hyperparameters, data.task, len(data.labels), self.params.seed
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"tune.space.{self.name} gives invalid hyperparameters "
                f"{dict(values)}: {' '.join(str(exc).split())}"
            ) from exc

    def score(self, model: Model, features: Matrix, targets: np.ndarray) -> float:
        scores = self.evaluator.metrics(targets, model.predict(features))
        if self.metric not in scores:
            raise ConfigError(
                f"tune.metric {self.metric!r} is not a metric of this task: use "
                f"auto or one of {', '.join(sorted(scores))}."
            )
        return scores[self.metric]

    def __call__(self, trial: optuna.Trial) -> float:
        values = suggest(trial, self.params.tune.space.get(self.name, {}))
        seed_everything(self.params.seed)
        if self.epochs:
            return self.by_epochs(trial, self.build(values))
        scores = []
        for step, val_rows in enumerate(self.folds):
            fit_rows = np.setdiff1d(np.arange(len(self.targets)), val_rows)
            model = self.build(values)
            model.fit(
                self.features[fit_rows],
                self.targets[fit_rows],
                self.features[val_rows],
                self.targets[val_rows],
                lambda epoch, metrics: None,
            )
            scores.append(
                self.score(model, self.features[val_rows], self.targets[val_rows])
            )
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    def by_epochs(self, trial: optuna.Trial, model: Model) -> float:
        """Train on the fit rows, pruned on the per-epoch validation loss."""

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            trial.report(metrics["val_loss"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        model.fit(*self.split, *self.validation, on_epoch)
        return self.score(model, *self.validation)


def tuned_model(params: Params, model: str | None) -> str:
    """The model to tune: ``model`` if given, else ``train.model``'s."""
    if model is None:
        return resolve_model(params)
    if model not in MODELS or params.data.task not in MODELS[model].tasks:
        fitting = [
            key for key, value in MODELS.items() if params.data.task in value.tasks
        ]
        raise ConfigError(
            f"Cannot tune {model!r} for a {params.data.task} task: use one of "
            f"{', '.join(fitting)}."
        )
    return model


def objective_metric(params: Params) -> str:
    """``tune.metric``, with ``auto`` resolved for the task."""
    metric = params.tune.metric
    return DEFAULT_METRICS[params.data.task] if metric == "auto" else metric


def storage(settings: Settings) -> BaseStorage | str:
    """``tune_storage`` from the settings, else the journal file in reports/tune."""
    if settings.tune_storage:
        return settings.tune_storage
    settings.tune_dir.mkdir(parents=True, exist_ok=True)
    path = settings.tune_dir / JOURNAL_FILE
    return JournalStorage(JournalFileBackend(str(path)))


def pruner(metric: str, epochs: bool) -> optuna.pruners.BasePruner:
    """The median pruner, except where the reported value is not the metric:
    an epoch-trained model reports its loss, which only an error metric
    follows the direction of."""
    if epochs and metric not in ERROR_METRICS:
        logger.info("No pruning: tune.metric %s is not a loss.", metric)
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def progress(total: int | None) -> Callable[[optuna.Study, Any], None]:
    """A callback printing one line per finished trial."""

    def line(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        shown = " ".join(
            f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
            for key, value in trial.params.items()
        )
        of = f" of {total}" if total else ""
        if trial.state == optuna.trial.TrialState.COMPLETE:
            outcome = f"{study.user_attrs[METRIC_ATTR]}={trial.value:.6g}"
        else:
            outcome = trial.state.name.lower()
        best = ""
        if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
            best = f" (best {study.best_value:.6g}, trial {study.best_trial.number})"
        logger.info("trial %d%s: %s%s %s", trial.number + 1, of, outcome, best, shown)

    return line


def shares(total: int, workers: int) -> list[int]:
    """``total`` trials split over ``workers`` as evenly as possible."""
    return [total // workers + (index < total % workers) for index in range(workers)]


def open_study(
    settings: Settings, params: Params, name: str, worker: int, fresh: bool
) -> tuple[optuna.Study, Objective]:
    """The study of ``name`` (emptied first when ``fresh``) and its objective."""
    metric = objective_metric(params)
    objective = Objective(settings, params, name, metric)
    study_name = f"{settings.experiment}-{name}"
    where = storage(settings)
    if fresh:
        try:
            optuna.delete_study(study_name=study_name, storage=where)
        except KeyError:
            pass
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=where,
        load_if_exists=True,
        direction="minimize" if metric in ERROR_METRICS else "maximize",
        sampler=optuna.samplers.TPESampler(seed=params.seed + worker),
        pruner=pruner(metric, objective.epochs),
    )
    study.set_user_attr(METRIC_ATTR, metric)
    return study, objective


def tune(
    settings: Settings,
    params: Params,
    *,
    model: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    workers: int = 1,
    join: bool = False,
    worker: int = 0,
    apply: bool = False,
) -> dict[str, Any] | None:
    """Search, then write the outcome (not when joining another's study).

    With ``workers`` > 1 this process starts that many worker processes, which
    share the study and split ``n_trials`` between them, and waits for them.
    """
    name = tuned_model(params, model)
    n_trials = n_trials or params.tune.n_trials
    timeout = timeout or params.tune.timeout
    study, objective = open_study(settings, params, name, worker, fresh=not join)
    runs = StudyRuns.open(settings, params, study, fresh=not join)
    logger.info(
        "Tuning %s for %s (%s): %s trials%s%s",
        name,
        objective.metric,
        study.direction.name.lower(),
        n_trials or "any number of",
        f", {timeout:g} s at most" if timeout else "",
        f", {workers} workers" if workers > 1 else "",
    )
    if workers > 1:
        run_workers(name, n_trials, timeout, workers)
    else:
        callbacks = [progress(None if join else n_trials)]
        if runs is not None:
            callbacks.append(runs.record_trial)
        study.optimize(
            objective, n_trials=n_trials, timeout=timeout, callbacks=callbacks
        )
    if join:
        return None
    outcome = write_outcome(settings, params, study, name)
    if runs is not None:
        runs.finish(study)
    if apply:
        apply_best(settings.params_file, name, outcome["params"], resolve_model(params))
        logger.info("Wrote the best parameters into %s", settings.params_file)
    return outcome


def apply_best(
    params_file: Path, name: str, values: Mapping[str, Any], current: str
) -> None:
    """Write ``values`` into ``train.<name>`` of ``params_file`` (and select
    ``name`` when ``train.model`` resolves to another model), in the style
    ``dvc exp run -S`` writes, comments kept."""
    from dvc.utils.serialize import modify_yaml

    with modify_yaml(params_file) as raw:
        train = raw.setdefault("train", {})
        section = train.get(name)
        if section is None:
            section = train[name] = {}
        for key, value in values.items():
            section[key] = value
        if current != name:
            train["model"] = name


def run_workers(
    name: str, n_trials: int | None, timeout: float | None, workers: int
) -> None:
    """Run ``workers`` processes that join the study, ``n_trials`` split between
    them, each worker on its share of the CPU cores (models that use every
    core would otherwise fight over them), and wait for them."""
    if n_trials is None:
        raise ConfigError("--workers needs n_trials (tune.n_trials or --n-trials).")
    package = __name__.split(".")[0]
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    environment = os.environ | {"OMP_NUM_THREADS": threads}
    helpers = []
    for worker, count in enumerate(shares(n_trials, workers), start=1):
        command = [sys.executable, "-m", package, "tune", "--join", "--model", name]
        command += ["--worker", str(worker), "--n-trials", str(count)]
        if timeout:
            command += ["--timeout", str(timeout)]
        if count:
            helpers.append(subprocess.Popen(command, env=environment))
    failed = [code for code in (helper.wait() for helper in helpers) if code]
    if failed:
        raise PipelineError(f"A tuning worker failed (exit codes {failed}).")


def write_outcome(
    settings: Settings, params: Params, study: optuna.Study, name: str
) -> dict[str, Any]:
    """``best_params.json`` and ``trials.csv`` (no timings: reruns compare equal)."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise PipelineError(
            "No trial completed: every one failed or was pruned. Widen tune.space "
            f"for {name} or raise the budget."
        )
    best = study.best_trial
    outcome: dict[str, Any] = {
        "model": name,
        "metric": study.user_attrs[METRIC_ATTR],
        "direction": study.direction.name.lower(),
        "value": best.value,
        "best_trial": best.number,
        "params": best.params,
        "n_trials": len(study.trials),
        "n_complete": len(complete),
        "seed": params.seed,
    }
    atomic.write_json(settings.tune_dir / BEST_FILE, outcome)
    table = study.trials_dataframe(attrs=("number", "value", "params", "state"))
    table = table.sort_values("number").reset_index(drop=True)
    atomic.write_csv(settings.tune_dir / TRIALS_FILE, table)
    logger.info(
        "Best: trial %d, %s=%.6g, %s",
        best.number,
        outcome["metric"],
        best.value,
        json.dumps(best.params),
    )
    return outcome
