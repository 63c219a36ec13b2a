"""Stage ``register``: record the pipeline's run, register its model, and
move the ``champion`` alias to it when the gate of ``params.yaml`` passes.

The gate (``register``): ``metric`` (``auto``: accuracy for classification,
rmse for regression) must reach ``threshold`` (at least for a score, at most
for an error such as rmse) and, with ``beat_champion``, be strictly better than
the current champion's. Aliases only, never the deprecated stages.
Registered models are loaded back by URI (``models:/<name>@champion``) with
:func:`.store.downloaded_model`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException

from ..config import Settings
from ..errors import ConfigError
from ..params import Params
from .runs import MODEL_URI_TAG, TEST_PREFIX, read_metrics, record_run
from .store import Tracker, TrackingError, shown_uri, using

logger = logging.getLogger(__name__)

CHAMPION = "champion"
# Metrics where smaller is better; every other metric is a score.
ERROR_METRICS = frozenset({"rmse", "mae", "log_loss"})
DEFAULT_METRICS = {"classification": "accuracy", "regression": "rmse"}


@dataclass
class Gate:
    """Whether a model may become the champion, and why (not)."""

    passed: bool
    reason: str


def better(metric: str, value: float, other: float) -> bool:
    """``value`` beats ``other``: lower for an error metric, higher otherwise."""
    return value < other if metric in ERROR_METRICS else value > other


def gate(
    params: Params, metric: str, value: float, champion: tuple[str, float] | None
) -> Gate:
    """Apply ``register.threshold`` and ``register.beat_champion``."""
    rule = params.registration
    shown = f"{metric} {value:.6g}"
    threshold = rule.threshold
    if threshold is not None and better(metric, threshold, value):
        side = "above" if metric in ERROR_METRICS else "below"
        return Gate(False, f"{shown} is {side} register.threshold {threshold:.6g}")
    if rule.beat_champion and champion is not None:
        version, best = champion
        if not better(metric, value, best):
            return Gate(
                False,
                f"{shown} does not beat the champion (version {version}, "
                f"{metric} {best:.6g})",
            )
    return Gate(True, f"{shown} passes the gate")


def gate_metric(params: Params, scores: Mapping[str, float]) -> str:
    """The metric of ``reports/metrics.json`` that ``register.metric`` names."""
    metric = params.registration.metric
    if metric == "auto":
        metric = DEFAULT_METRICS[params.data.task]
    if metric not in scores:
        raise ConfigError(
            f"register.metric {metric!r} is not a metric of this task: use auto "
            f"or one of {', '.join(sorted(scores))}."
        )
    return metric


def register(settings: Settings, params: Params) -> Gate | None:
    """Record the run, register its model, move ``champion`` if the gate passes.

    Returns None when tracking is off: there is no registry to write to.
    """
    if not settings.tracking:
        logger.warning("Tracking is off: no run recorded, no model registered.")
        return None
    scores = read_metrics(settings)
    metric = gate_metric(params, scores)
    tracker = Tracker.connect(settings)
    run = record_run(tracker, params)
    name = params.registration.name
    client = tracker.client
    with using(tracker.uri):
        try:
            existing = client.search_model_versions(
                f"name = '{name}' and run_id = '{run.info.run_id}'"
            )
            version = (
                existing[0]
                if existing
                else mlflow.register_model(run.data.tags[MODEL_URI_TAG], name)
            )
            try:
                current = client.get_model_version_by_alias(name, CHAMPION)
            except MlflowException:
                current = None
            champion = None
            if current is not None and current.version != version.version:
                champion_run = client.get_run(str(current.run_id))
                best = champion_run.data.metrics.get(TEST_PREFIX + metric)
                champion = (current.version, best) if best is not None else None
            decision = gate(params, metric, float(scores[metric]), champion)
            if decision.passed:
                client.set_registered_model_alias(name, CHAMPION, version.version)
        except MlflowException as exc:
            raise TrackingError(
                f"The registry at {shown_uri(tracker.uri)} refused model {name!r}: "
                f"{exc.message}"
            ) from exc
    outcome = (
        "Registered %s version %s and made it the %s: %s."
        if decision.passed
        else "Registered %s version %s; %s stays where it was: %s."
    )
    logger.info(outcome, name, version.version, CHAMPION, decision.reason)
    return decision
