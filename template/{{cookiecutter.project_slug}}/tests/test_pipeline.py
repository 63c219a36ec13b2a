"""The DVC pipeline end to end, in a throw-away git repository.

The first ``dvc repro`` runs every stage; a second runs none; forced re-runs
write bit-identical outputs; changing a training parameter re-runs only
the stages after ``features``; ``dvc exp run -S`` changes one line of
params.yaml, and ``dvc exp show`` lists the committed baseline and the
experiment with their metrics and hyperparameters in at most
``EXP_SHOW_COLUMNS`` columns; ``dvc plots show`` draws every declared plot
without a warning, for the adopted data sets too. The MLflow store at the
project root then holds one run with the training and test metrics, tagged
with the git commit, and the registered model's ``champion`` alias points at
that run's version. Own data
sets adopted with ``init-data`` (string labels of three classes, categorical
columns with missing values, a regression target) run end to end with no
further edit, and an adopted file travels to a fresh clone with ``dvc push``
and ``dvc pull``. Runs by hand (``sample``, ``monitor FILE``, ``predict``)
leave the pipeline up to date. Every package module a stage imports
(recorded while it runs) is one of its deps, so editing the code behind an
output makes it stale.
Everything checked is parsed from dvc.lock, dvc.yaml or JSON.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    DATA_SETS,
    PACKAGE,
    PROJECT_ROOT,
    adopt,
    copy_project,
    dvc,
    git,
    git_repository,
    run,
    update_params,
)
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow

UPSTREAM = ("ingest", "prepare", "features")
EXP_SHOW_COLUMNS = 150
"""Most columns of `dvc exp show --csv` (docs/pipeline.md): DVC's 5, the
metrics (about 30 with the baselines'), the parameters (about 80, half of them
the search space of `tune`) and one hash per dependency."""
DOWNSTREAM = ("train", "evaluate", "register", "monitor")


def read_lock(root: Path) -> dict[str, Any]:
    lock: dict[str, Any] = yaml.safe_load((root / "dvc.lock").read_text())
    return lock


def out_hashes(root: Path) -> dict[str, str]:
    """``{output path: md5}`` for every output of every stage in dvc.lock."""
    return {
        out["path"]: out["md5"]
        for stage in read_lock(root)["stages"].values()
        for out in stage.get("outs", [])
    }


def stage_outputs(root: Path) -> dict[str, list[str]]:
    return {
        name: [out["path"] for out in stage.get("outs", [])]
        for name, stage in read_lock(root)["stages"].items()
    }


def modified_times(root: Path) -> dict[str, int]:
    """Latest modification time (ns) of each output file or folder."""
    times = {}
    for outputs in stage_outputs(root).values():
        for name in outputs:
            path = root / name
            files = (
                [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            )
            times[name] = max(p.stat().st_mtime_ns for p in files)
    return times


def imported_by_stage(imports: Path) -> dict[str, set[str]]:
    """``{stage: {src/<package>/... file}}`` from the recorded stage processes."""
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    imported: dict[str, set[str]] = {}
    for record in imports.glob("*.json"):
        process = json.loads(record.read_text())
        argv = process["argv"]
        stage = next((arg for arg in argv[1:] if arg in stages), None)
        if stage is None or not argv[0].endswith("__main__.py"):
            continue  # dvc itself, or a process of no stage
        package_dir = Path(argv[0]).parent
        imported.setdefault(stage, set()).update(
            (Path("src") / Path(file).relative_to(package_dir.parent)).as_posix()
            for file in process["files"]
        )
    return imported


def test_every_module_a_stage_imports_is_one_of_its_deps(
    repo: Path, imports: Path
) -> None:
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    imported = imported_by_stage(imports)
    assert set(imported) == set(stages), "some stage was not recorded"
    uncovered = {
        stage: sorted(
            file
            for file in files
            if not any(
                file == dep or file.startswith(dep.rstrip("/") + "/")
                for dep in stages[stage]["deps"]
            )
        )
        for stage, files in imported.items()
    }
    assert uncovered == dict.fromkeys(stages, [])
    # The CLI imports a stage's module when the stage runs: recorded too.
    assert f"src/{PACKAGE}/modeling/train.py" in imported["train"]


def test_editing_the_split_function_makes_train_and_what_follows_stale(
    repo: Path,
) -> None:
    split = repo / "src" / PACKAGE / "data" / "split.py"
    source = split.read_text()
    edited = source.replace(
        "    rng = np.random.default_rng(seed)\n",
        "    rng = np.random.default_rng(seed + 1)\n",
        1,
    )
    assert edited != source
    split.write_text(edited)
    try:
        stale = set(json.loads(dvc(repo, "status", "--json")))
    finally:
        git(repo, "checkout", "--", split.relative_to(repo).as_posix())
    assert set(DOWNSTREAM) <= stale
    assert json.loads(dvc(repo, "status", "--json")) == {}


def test_first_repro_writes_every_output(repo: Path) -> None:
    lock = read_lock(repo)
    assert set(lock["stages"]) == {*UPSTREAM, *DOWNSTREAM}
    for path in out_hashes(repo):
        assert (repo / path).exists(), path
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert metrics["roc_auc"] > 0.9
    assert metrics["accuracy"] > 0.85
    figures = {p.name for p in (repo / "reports" / "figures" / "evaluation").iterdir()}
    assert figures == {
        "confusion_matrix.png",
        "roc_curve.png",
        "precision_recall_curve.png",
    }


def test_runs_by_hand_leave_the_pipeline_and_git_clean(repo: Path) -> None:
    drift = repo / "reports" / "drift" / "drift.json"
    before = drift.read_bytes()
    cli = [sys.executable, "-m", PACKAGE]
    run([*cli, "sample", "30"], repo)
    run([*cli, "monitor", "samples/new_rows.csv"], repo)
    run([*cli, "predict", "samples/new_rows.csv", "samples/scored.csv"], repo)
    adhoc = json.loads((repo / "reports" / "adhoc" / "drift.json").read_text())
    assert adhoc["rows"]["current"] == 30
    assert drift.read_bytes() == before
    assert json.loads(dvc(repo, "status", "--json")) == {}
    # What they wrote is ignored by git.
    assert git(repo, "status", "--porcelain") == ""


def test_first_repro_tracks_one_run_and_promotes_its_model(repo: Path) -> None:
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    (experiment,) = [
        e for e in client.search_experiments() if e.name != "Default"
    ]  # fmt: skip
    (tracked,) = client.search_runs([experiment.experiment_id])
    written = json.loads((repo / "reports" / "metrics.json").read_text())
    metrics = tracked.data.metrics
    assert {f"test_{key}": value for key, value in written.items()}.items() <= (
        metrics.items()
    )
    assert {"train_loss", "val_loss"} <= set(metrics)
    tags = tracked.data.tags
    commit = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["git_dirty"] == "False"
    params = yaml.safe_load((repo / "params.yaml").read_text())
    name = params["register"]["name"]
    champion = client.get_model_version_by_alias(name, "champion")
    assert champion.run_id == tracked.info.run_id
    # The store is the run history, not a pipeline output: git ignores it.
    assert git(repo, "status", "--porcelain", "--ignored", "mlflow.db").startswith("!!")


def test_second_repro_runs_nothing(repo: Path) -> None:
    lock_before, times_before = read_lock(repo), modified_times(repo)
    dvc(repo, "repro")
    assert read_lock(repo) == lock_before
    assert modified_times(repo) == times_before
    assert json.loads(dvc(repo, "status", "--json")) == {}


def test_forced_repro_is_bitwise_reproducible(repo: Path) -> None:
    expected = out_hashes(repo)
    for _ in range(2):
        dvc(repo, "repro", "-f")
        assert out_hashes(repo) == expected


def test_changing_a_train_param_reruns_only_the_stages_after_it(repo: Path) -> None:
    outputs, times_before = stage_outputs(repo), modified_times(repo)
    lock_before = read_lock(repo)
    update_params(repo, "train", "val_size", 0.25)

    dvc(repo, "repro")

    times_after = modified_times(repo)
    for stage in UPSTREAM:
        for path in outputs[stage]:
            assert times_after[path] == times_before[path], f"{stage} re-ran"
        assert read_lock(repo)["stages"][stage] == lock_before["stages"][stage]
    for stage in DOWNSTREAM:
        for path in outputs[stage]:
            assert times_after[path] > times_before[path], f"{stage} did not run"
    train_params = read_lock(repo)["stages"]["train"]["params"]["params.yaml"]
    assert train_params["train"]["val_size"] == 0.25

    git(repo, "checkout", "--", "params.yaml")
    dvc(repo, "repro")
    assert read_lock(repo) == lock_before


@pytest.fixture(scope="module")
def experiment(repo: Path) -> str:
    """One ``dvc exp run -S`` on the committed run; params.yaml before it."""
    before = (repo / "params.yaml").read_text()
    dvc(repo, "exp", "run", "-S", "train.val_size=0.3")
    return before


def test_experiment_with_a_changed_param_is_listed(repo: Path, experiment: str) -> None:
    rows = json.loads(dvc(repo, "exp", "show", "--json"))
    experiments = [
        rev
        for row in rows
        for experiment in row.get("experiments") or []
        for rev in experiment["revs"]
    ]
    assert len(experiments) == 1
    data = experiments[0]["data"]
    assert data["params"]["params.yaml"]["data"]["train"]["val_size"] == 0.3
    metrics = data["metrics"]["reports/metrics.json"]["data"]
    assert {"accuracy", "f1", "roc_auc", "log_loss"} <= set(metrics)
    assert "reports/live/metrics.json" in data["metrics"]


def test_own_data_travels_to_a_fresh_clone_with_dvc_push_and_pull(
    tmp_path: Path,
) -> None:
    root = copy_project(tmp_path / "project")
    git_repository(root)
    # The project's own DVC configuration: its default remote is a folder
    # beside the project.
    shutil.copy2(PROJECT_ROOT / ".dvc" / "config", root / ".dvc" / "config")
    make, target, _ = DATA_SETS["categorical-with-missing"]
    origin = tmp_path / "downloads" / "passengers.csv"
    origin.parent.mkdir()
    make().head(120).to_csv(origin, index=False)
    run([sys.executable, "-m", PACKAGE, "init-data", str(origin), "--target", target],
        root)  # fmt: skip
    adopted = "data/external/passengers.csv"
    assert git(root, "ls-files", "data/external").split() == [
        "data/external/.gitkeep",
        f"{adopted}.dvc",
    ]
    dvc(root, "repro")
    ingest = read_lock(root)["stages"]["ingest"]["deps"]
    assert adopted in [dep["path"] for dep in ingest]
    assert "data/external" not in [dep["path"] for dep in ingest]
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Own data")
    dvc(root, "push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    assert not (clone / adopted).exists()
    dvc(clone, "pull")
    assert (clone / adopted).read_bytes() == origin.read_bytes()
    assert json.loads(dvc(clone, "status", "--json")) == {}
    lock_before, times_before = read_lock(clone), modified_times(clone)
    dvc(clone, "repro")
    assert read_lock(clone) == lock_before
    assert modified_times(clone) == times_before


def test_exp_run_set_changes_only_that_line_of_params_yaml(
    repo: Path, experiment: str
) -> None:
    assert git(repo, "diff", "--numstat", "--", "params.yaml").split() == [
        "1",
        "1",
        "params.yaml",
    ]
    before = experiment.splitlines()
    after = (repo / "params.yaml").read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after) if old != new]
    assert [new.split("#")[0].split() for _, new in changed] == [["val_size:", "0.3"]]


def test_exp_show_fits_the_baseline_metrics_and_hyperparameters(
    repo: Path, experiment: str
) -> None:
    header, *rows = csv.reader(io.StringIO(dvc(repo, "exp", "show", "--csv")))
    assert len(header) <= EXP_SHOW_COLUMNS, header
    table = {row[header.index("rev")]: dict(zip(header, row)) for row in rows}
    baseline = table[git(repo, "branch", "--show-current").strip()]
    (name,) = [rev for rev, row in table.items() if row["typ"] == "branch_base"]
    # The committed run is the baseline row, with its metrics and parameters.
    for row, val_size in ((baseline, "0.2"), (table[name], "0.3")):
        assert float(row["accuracy"]) > 0.85
        assert row["drift"] in ("False", "True") and row["drifted_columns"].isdigit()
        assert row["train.val_size"] == val_size
    # Neither one column per feature nor the drift test of each column.
    assert not [c for c in header if c.startswith("data.features") or "p_value" in c]
    # The table a person reads: every metric and parameter in full.
    shown = dvc(repo, "exp", "show")
    assert "…" not in shown and "train.val_size" in shown and "drifted_share" in shown


def plots_warnings(root: Path) -> list[str]:
    """What `dvc plots show` says besides where it wrote the page."""
    result = run([sys.executable, "-m", "dvc", "plots", "show"], root)
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.strip() and "dvc_plots" not in line]


def test_plots_show_draws_every_declared_plot_without_a_warning(repo: Path) -> None:
    assert plots_warnings(repo) == []
    page = repo / "dvc_plots" / "index.html"
    assert page.is_file()
    assert git(repo, "status", "--porcelain", "--ignored", "dvc_plots").startswith("!!")


# Scores a person would call sensible on each own data set, and the metric keys
# its evaluator must write.
EXPECTED = {
    "multiclass-string-labels": (
        {"accuracy": 0.8, "f1_macro": 0.8, "roc_auc_ovr": 0.9},
        {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss"},
        "per_class.png",
    ),
    "categorical-with-missing": (
        {"accuracy": 0.75, "roc_auc": 0.8},
        {"accuracy", "precision", "recall", "f1", "roc_auc", "average_precision"},
        "roc_curve.png",
    ),
    "regression": (
        {"r2": 0.3},
        {"rmse", "mae", "r2"},
        "residuals.png",
    ),
    # Without its calendar features the season, and the weather, are a guess.
    "dated": (
        {"balanced_accuracy": 0.55},
        {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss"},
        "per_class.png",
    ),
}


@pytest.mark.parametrize("name", sorted(DATA_SETS))
def test_own_data_runs_end_to_end_after_init_data(tmp_path: Path, name: str) -> None:
    root = copy_project(tmp_path / "project")
    git_repository(root)
    params = adopt(root, name)
    dvc(root, "repro")
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    minimums, keys, figure = EXPECTED[name]
    assert keys <= set(metrics)
    for key, minimum in minimums.items():
        assert metrics[key] > minimum, metrics
    assert (root / "reports" / "figures" / "evaluation" / figure).is_file()
    # The monitor stage checks the test split against the training split.
    drift = json.loads((root / "reports" / "drift" / "drift.json").read_text())
    assert drift["drift"] is False, drift["drifted_columns"]
    tested = {*params["data"]["features"], "label", "prediction"}
    assert set(drift["columns"]) == tested
    # init-data declared the plots this task's evaluator writes.
    assert plots_warnings(root) == []
    # A second run has nothing to do: the pipeline's inputs are all declared.
    assert json.loads(dvc(root, "status", "--json")) == {}
