"""Finding a better model, end to end in a throw-away git repository: the
baseline in the evaluation, ``tune`` (repeatable alone, shared by parallel
workers, nested in MLflow, applied to params.yaml and trained by ``dvc
repro``) and ``report`` (a metric's change between two commits).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PACKAGE, dvc, git, run, update_params
from mlflow.tracking import MlflowClient

from {{ cookiecutter.package_name }}.params import Yaml12Loader

pytestmark = pytest.mark.slow

TUNED = "{{ 'mlp' if cookiecutter.ml_framework == 'pytorch' else 'hist_gradient_boosting' }}"


def tune(root: Path, *args: str) -> str:
    done = run([sys.executable, "-m", PACKAGE, "tune", *args], root)
    return done.stdout + done.stderr


def outcome(root: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    folder = root / "reports" / "tune"
    best = json.loads((folder / "best_params.json").read_text())
    trials = list(csv.DictReader(io.StringIO((folder / "trials.csv").read_text())))
    return best, trials


def params_of(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(
        (root / "params.yaml").read_text(), Loader=Yaml12Loader
    )
    return loaded


@pytest.fixture(scope="module")
def tuning(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Path:
    """A copy of the pipeline's committed repository with its own tracking
    store and a small search budget (two folds, committed)."""
    root = tmp_path_factory.mktemp("experiments") / "project"
    shutil.copytree(repo, root, symlinks=True)
    for store in ("mlflow.db", "mlartifacts"):
        shutil.rmtree(root / store, ignore_errors=True)
        (root / store).unlink(missing_ok=True)
    update_params(root, "tune", "folds", 2)
    git(root, "commit", "-q", "-am", "Search with two folds")
    return root


def test_every_evaluation_scores_a_baseline(tuning: Path) -> None:
    metrics = json.loads((tuning / "reports" / "metrics.json").read_text())
    assert metrics["baseline_balanced_accuracy"] == 0.5
    # breast_cancer: the majority class holds about 63% of the rows.
    assert 0.55 < metrics["baseline_accuracy"] < 0.7
    assert metrics["accuracy"] > metrics["baseline_accuracy"] + 0.2
    assert metrics["log_loss"] < metrics["baseline_log_loss"]


def test_tune_alone_repeats_its_trials_bit_for_bit(tuning: Path) -> None:
    tune(tuning, "--n-trials", "4")
    first = outcome(tuning)
    log = tune(tuning, "--n-trials", "4")
    second = outcome(tuning)

    assert first == second
    best, trials = first
    assert best["model"] == TUNED
    assert [row["number"] for row in trials] == ["0", "1", "2", "3"]
    assert len({tuple(row.items()) for row in trials}) == 4
    assert len(re.findall(r"trial \d of 4", log)) == 4


def test_parallel_workers_share_one_study(tuning: Path) -> None:
    tune(tuning, "--n-trials", "6", "--workers", "2")

    best, trials = outcome(tuning)
    assert best["n_trials"] == 6
    assert sorted(int(row["number"]) for row in trials) == list(range(6))
    tried = {
        tuple(value for key, value in row.items() if key.startswith("params_"))
        for row in trials
    }
    assert len(tried) == 6, "two workers drew the same values"
    client = MlflowClient(f"sqlite:///{tuning / 'mlflow.db'}")
    (experiment,) = client.search_experiments(filter_string="name != 'Default'")
    parents = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`tune.study` != ''",
        order_by=["attributes.start_time DESC"],
    )
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'",
    )
    assert len(children) == 6
    marked = [run for run in children if run.data.tags.get("best") == "true"]
    assert [run.data.tags["tune.trial"] for run in marked] == [str(best["best_trial"])]
    # what parallel runs keep: each trial's value follows from its parameters
    printed = run([sys.executable, "-c", RETRY_TRIALS, TUNED], tuning).stdout
    values, again = json.loads(printed.splitlines()[-1])
    assert values and again == values


RETRY_TRIALS = """
import json, sys
import optuna
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.experiments.tune import Objective, storage
from {{ cookiecutter.package_name }}.params import load_params

settings = Settings()
params = load_params(settings.params_file)
name = sys.argv[1]
study = optuna.load_study(
    study_name=f"{settings.experiment}-{name}", storage=storage(settings)
)
objective = Objective(settings, params, name, study.user_attrs["metric"])
complete = [t for t in study.trials if t.state.name == "COMPLETE"][:2]
again = [objective(optuna.trial.FixedTrial(t.params)) for t in complete]
print(json.dumps([[t.value for t in complete], again]))
"""


def test_applied_parameters_are_trained_and_reported(tuning: Path) -> None:
    before = params_of(tuning)["train"][TUNED]
    tune(tuning, "--n-trials", "3", "--apply")
    best, _ = outcome(tuning)
    section = params_of(tuning)["train"][TUNED]
    assert {key: section[key] for key in best["params"]} == best["params"]

    dvc(tuning, "repro")

    trained = yaml.safe_load((tuning / "dvc.lock").read_text())["stages"]["train"]
    locked = trained["params"]["params.yaml"]["train"][TUNED]
    assert {key: locked[key] for key in best["params"]} == best["params"]
    text = run(
        [sys.executable, "-m", PACKAGE, "report", "--base", "HEAD"], tuning
    ).stdout
    changed = table_rows(text, "Parameters")
    assert set(changed) == {
        f"`train.{TUNED}.{key}`"
        for key, value in best["params"].items()
        if value != before[key]
    }
    metrics = table_rows(text, "Test metrics")
    base, workspace, delta = (float(cell) for cell in metrics["log_loss"][:3])
    assert delta == pytest.approx(workspace - base, abs=2e-4)
    assert base != workspace
    assert float(metrics["accuracy"][3]) == pytest.approx(
        json.loads((tuning / "reports" / "metrics.json").read_text())[
            "baseline_accuracy"
        ],
        abs=1e-4,
    )


def table_rows(markdown: str, heading: str) -> dict[str, list[str]]:
    """The rows of the table under ``### heading``, by first cell."""
    section = markdown.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    return {row[0]: row[1:] for row in cells}
