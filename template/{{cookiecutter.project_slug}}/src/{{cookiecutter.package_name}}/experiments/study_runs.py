"""A tuning study in MLflow: one parent run per study, one nested run per trial.

The parent run's id is kept in the study itself (a user attribute), so that
workers in other processes, or on other machines, nest their trials under the
same run. The best trial's run is tagged ``best=true`` at the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import optuna
from mlflow.entities import Metric, Param, RunTag

from ..config import Settings
from ..params import Params
from ..tracking.store import Tracker, kept_random_state, shown_uri

logger = logging.getLogger(__name__)

PARENT_ATTR = "mlflow_run_id"
METRIC_ATTR = "metric"
PARENT_TAG = "mlflow.parentRunId"


@dataclass
class StudyRuns:
    """The MLflow runs of one study."""

    tracker: Tracker
    parent: str

    @classmethod
    def open(
        cls, settings: Settings, params: Params, study: optuna.Study, fresh: bool
    ) -> StudyRuns | None:
        """Start the study's parent run (``fresh``) or find the one a first
        worker started; None with tracking off."""
        if not settings.tracking:
            return None
        tracker = Tracker.connect(settings)
        if not fresh and PARENT_ATTR in study.user_attrs:
            return cls(tracker, str(study.user_attrs[PARENT_ATTR]))
        with kept_random_state():
            run = tracker.client.create_run(
                tracker.experiment_id,
                run_name=f"tune-{study.study_name}",
                tags={"tune.study": study.study_name, "tune.seed": str(params.seed)},
            )
        study.set_user_attr(PARENT_ATTR, run.info.run_id)
        logger.info(
            "Tracking the study as run %s (%s)", run.info.run_id, shown_uri(tracker.uri)
        )
        return cls(tracker, run.info.run_id)

    def record_trial(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial
    ) -> None:
        """A finished trial as a nested run: its values, state and score."""
        client = self.tracker.client
        tags = {PARENT_TAG: self.parent, "tune.state": trial.state.name.lower()}
        with kept_random_state():
            run = client.create_run(
                self.tracker.experiment_id,
                run_name=f"trial-{trial.number}",
                tags=tags,
            )
            metrics = []
            if trial.value is not None:
                metrics.append(Metric(study.user_attrs[METRIC_ATTR], trial.value, 0, 0))
            metrics += [
                Metric(f"intermediate_{study.user_attrs[METRIC_ATTR]}", value, 0, step)
                for step, value in sorted(trial.intermediate_values.items())
            ]
            client.log_batch(
                run.info.run_id,
                metrics=metrics,
                params=[Param(k, str(v)) for k, v in trial.params.items()],
                tags=[RunTag("tune.trial", str(trial.number))],
            )
            client.set_terminated(run.info.run_id)

    def finish(self, study: optuna.Study) -> None:
        """Tag the best trial's run and give the parent the best outcome."""
        client = self.tracker.client
        best = study.best_trial
        metric = study.user_attrs[METRIC_ATTR]
        with kept_random_state():
            for run in client.search_runs(
                [self.tracker.experiment_id],
                filter_string=f"tags.`{PARENT_TAG}` = '{self.parent}' "
                f"and tags.`tune.trial` = '{best.number}'",
            ):
                client.set_tag(run.info.run_id, "best", "true")
            client.log_batch(
                self.parent,
                metrics=[Metric(f"best_{metric}", float(best.value or 0.0), 0, 0)],
                params=[Param(f"best.{k}", str(v)) for k, v in best.params.items()],
                tags=[
                    RunTag("tune.best_trial", str(best.number)),
                    RunTag("tune.n_trials", str(len(study.trials))),
                ],
            )
            client.set_terminated(self.parent)
