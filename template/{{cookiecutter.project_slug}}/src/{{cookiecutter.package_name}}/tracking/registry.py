"""Stage ``register``: record the pipeline's run and, when the gate of
``params.yaml`` passes, register its model as a new version and move the
``champion`` alias to it.

Every version carries the signature of the data it was trained on (task,
target, classes, feature columns and their kinds: :mod:`.signature`) as tags.
The gate (``register``): ``metric`` (``auto``: accuracy for classification,
rmse for regression) must reach ``threshold`` (at least for a score, at most
for an error such as rmse) and, with ``beat_champion``, be strictly better
than the current champion's, if that champion was trained on data of the same
signature; a champion of other data is no rival, so the first model that
passes on new data becomes the champion. A model that fails the gate adds a
run to the history and no version to the registry, so experiments do not
flood it. Aliases only, never the deprecated stages. Registered models are
loaded back by URI (``models:/<name>@champion``) with
:func:`.store.downloaded_model`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import mlflow
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from ..config import Settings
from ..errors import ConfigError
from ..params import Params, load_params
from .runs import MODEL_URI_TAG, TEST_PREFIX, read_metrics, record_run
from .signature import HASH_TAG, signature_tags, summary
from .store import Tracker, TrackingError, downloaded_model, shown_uri, using

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


def champion_signature(tracker: Tracker, champion: ModelVersion) -> str:
    """The data signature hash of the champion; a version registered without
    one gets its tags now, from the ``params.yaml`` it bundles."""
    recorded = champion.tags.get(HASH_TAG)
    if recorded:
        return str(recorded)
    uri = f"models:/{champion.name}/{champion.version}"
    with downloaded_model(tracker.settings, uri) as files:
        data = load_params(files["params"]).data
    tags = signature_tags(data)
    for key, value in tags.items():
        tracker.client.set_model_version_tag(
            champion.name, champion.version, key, value
        )
    return tags[HASH_TAG]


def rival(
    tracker: Tracker, params: Params, run: Run, metric: str
) -> tuple[str, float] | None:
    """The champion's version and ``metric``, if there is a champion to beat:
    another run's model, trained on data of the same signature."""
    name, client = params.registration.name, tracker.client
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    if current.run_id == run.info.run_id:
        return None
    if champion_signature(tracker, current) != signature_tags(params.data)[HASH_TAG]:
        logger.info(
            "The %s (version %s) was trained on other data; this model predicts "
            "%s: it has no champion of its data to beat.",
            CHAMPION,
            current.version,
            summary(params.data),
        )
        return None
    best = client.get_run(str(current.run_id)).data.metrics.get(TEST_PREFIX + metric)
    return (str(current.version), best) if best is not None else None


def promote(tracker: Tracker, params: Params, run: Run) -> tuple[ModelVersion, bool]:
    """Make the run's model the champion: its version, tagged with its data
    signature, and whether that version is new."""
    name, client = params.registration.name, tracker.client
    tags = signature_tags(params.data)
    existing = client.search_model_versions(
        f"name = '{name}' and run_id = '{run.info.run_id}'"
    )
    if existing:
        version = existing[0]
        for key, value in tags.items():
            client.set_model_version_tag(name, version.version, key, value)
    else:
        version = mlflow.register_model(run.data.tags[MODEL_URI_TAG], name, tags=tags)
    client.set_registered_model_alias(name, CHAMPION, version.version)
    return version, not existing


def register(settings: Settings, params: Params) -> Gate | None:
    """Record the run; if the gate passes, register its model (once per run)
    and make it the champion.

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
    with using(tracker.uri):
        try:
            champion = rival(tracker, params, run, metric)
            decision = gate(params, metric, float(scores[metric]), champion)
            if decision.passed:
                version, new = promote(tracker, params, run)
        except MlflowException as exc:
            raise TrackingError(
                f"The registry at {shown_uri(tracker.uri)} refused model {name!r}: "
                f"{exc.message}"
            ) from exc
    if not decision.passed:
        logger.info(
            "Recorded run %s; registered no version of %s, and the %s stays where "
            "it was: %s.",
            run.info.run_id,
            name,
            CHAMPION,
            decision.reason,
        )
    else:
        outcome = (
            "Registered %s version %s and made it the %s: %s."
            if new
            else "%s version %s (registered before) is the %s: %s."
        )
        logger.info(outcome, name, version.version, CHAMPION, decision.reason)
    return decision
