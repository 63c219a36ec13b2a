"""Slow tier: a rendered project per framework installs from its lock and
passes its own checks, with the real tools (Poetry, nox, pre-commit)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import Project, render, run, tool

pytestmark = pytest.mark.slow

# One project per framework; each on another supported Python. The short name
# gives a package of 8 characters, where black once joined lines of the
# generated tests that the template had split: its own `nox` must pass too.
BUILDS = {
    "pytorch": {"ml_framework": "pytorch", "python_version": "3.12"},
    "sklearn": {
        "ml_framework": "sklearn",
        "python_version": "3.11",
        "project_name": "Churn Sk",
    },
}
# The project's environment stays out of the user's cache and shell.
ISOLATED = {
    "POETRY_VIRTUALENVS_IN_PROJECT": "true",
    "DVC_NO_ANALYTICS": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


def git_commit_all(path: Path) -> None:
    identity = ["-c", "user.name=reproml tests", "-c", "user.email=tests@example.org"]
    run("git", "init", "-q", "-b", "main", cwd=path)
    run("git", "add", "-A", cwd=path)
    run("git", *identity, "commit", "-q", "-m", "Start from reproml", cwd=path)


@pytest.fixture(
    scope="module",
    params=[pytest.param(name, marks=pytest.mark.xdist_group(name)) for name in BUILDS],
)
def installed(request: pytest.FixtureRequest, tmp_path_factory) -> Project:
    """A rendered project, committed to git and installed from its lock."""
    answers = BUILDS[request.param]
    python = f"python{answers['python_version']}"
    if shutil.which(python) is None:
        pytest.fail(f"{python} is needed on PATH to build the {request.param} project")
    project = render(tmp_path_factory.mktemp(request.param) / "project", **answers)
    git_commit_all(project.path)
    poetry = tool("poetry")
    run(poetry, "env", "use", python, cwd=project.path, env=ISOLATED)
    run(poetry, "install", "--no-interaction", cwd=project.path, env=ISOLATED)
    return project


def installed_distributions(project: Project) -> list[tuple[str, str]]:
    """(name, version) of every distribution in the project's environment."""
    listing = run(
        project.path / ".venv" / "bin" / "python",
        "-c",
        "import importlib.metadata as m, json;"
        "print(json.dumps([[d.metadata['Name'], d.version]"
        " for d in m.distributions()]))",
        cwd=project.path,
    )
    return [(canonical(name), version) for name, version in json.loads(listing.stdout)]


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_lock_passes_poetry_check(installed: Project) -> None:
    run(tool("poetry"), "check", "--lock", "--no-interaction", cwd=installed.path)


def test_environment_holds_exactly_the_locked_versions(installed: Project) -> None:
    lock = installed.toml("poetry.lock")
    locked = {(canonical(p["name"]), p["version"]) for p in lock["package"]}
    ignored = {
        canonical(installed.answers["project_slug"]),
        "pip",
        "setuptools",
        "wheel",
    }
    present = [d for d in installed_distributions(installed) if d[0] not in ignored]
    names = [name for name, _ in present]
    # Two versions of one package would have been installed over each other.
    assert sorted({n for n in names if names.count(n) > 1}) == []
    assert sorted(set(present) - locked) == []
    versions = dict(present)
    assert "pytest" in versions and "black" in versions
    if installed.answers["ml_framework"] == "pytorch":
        assert ("torch", versions["torch"]) in locked


def test_cli_entry_point_runs(installed: Project) -> None:
    script = installed.path / ".venv" / "bin" / installed.answers["project_slug"]
    report = json.loads(run(script, "info", cwd=installed.path).stdout)
    assert report["settings"]["project_root"] == str(installed.path.resolve())


def nox_sessions(project: Project, *sessions: str, posargs: tuple = ()) -> str:
    """Run the project's own nox sessions (its defaults when none are named)."""
    command = [tool("nox"), "--non-interactive", "--download-python", "never"]
    selection = ["-s", *sessions] if sessions else []
    extra = ["--", *posargs] if posargs else []
    completed = run(*command, *selection, *extra, cwd=project.path, env=ISOLATED)
    return completed.stdout + completed.stderr


def test_project_nox_default_sessions_pass(installed: Project) -> None:
    output = nox_sessions(installed)
    python = installed.answers["python_version"]
    for session in ("lint", f"tests({python})"):
        assert f"Session {session} was successful" in output


def test_project_integration_tests_pass(installed: Project) -> None:
    # the project's slow tests: dvc repro end to end (the default data and three
    # own data sets adopted with init-data), two-process reproducibility
    output = nox_sessions(installed, "integration", posargs=("-rA",))
    passed = set(re.findall(r"^PASSED \S+::(\S+)", output, flags=re.MULTILINE))
    own_data = {
        f"test_own_data_runs_end_to_end_after_init_data[{name}]"
        for name in (
            "categorical-with-missing",
            "multiclass-string-labels",
            "regression",
        )
    }
    # the Dask engine on a real scheduler writes the pandas engine's files
    dask_engine = {
        f"test_the_engines_write_the_same_files[{name}]"
        for name in (
            "categorical-with-missing",
            "dated",
            "awkward-csv",
            "awkward-parquet",
        )
    } | {
        "test_without_a_scheduler_a_local_cluster_runs_the_stage",
        "test_monitor_counts_a_large_reference_over_every_row_on_the_cluster",
    }
    reproducible = {
        f"test_same_seed_same_weights_and_metrics[{name}]"
        for name in ("default", "regression")
    } | {
        "test_tracking_changes_no_bit_of_the_pipeline_outputs",
        "test_an_unreachable_server_stops_register_naming_it_and_writes_nothing",
        "test_train_and_evaluate_need_no_tracking_store",
        "test_every_module_a_stage_imports_is_one_of_its_deps",
        "test_editing_the_split_function_makes_train_and_what_follows_stale",
        "test_own_data_travels_to_a_fresh_clone_with_dvc_push_and_pull",
        "test_runs_by_hand_leave_the_pipeline_and_git_clean",
        # the registry: the champion follows new data; a loser adds no version
        "test_the_champion_follows_new_data_with_its_signature",
        "test_a_model_that_does_not_beat_the_champion_of_its_data_adds_no_version",
        # dvc exp show: the baseline, metrics and hyperparameters in few columns;
        # `dvc exp run -S` changes one line; `dvc plots show` warns about nothing
        "test_exp_show_fits_the_baseline_metrics_and_hyperparameters",
        "test_exp_run_set_changes_only_that_line_of_params_yaml",
        "test_plots_show_draws_every_declared_plot_without_a_warning",
        # a baseline in every evaluation; tune: repeatable alone, shared by two
        # workers, applied and trained; report: a metric's change between commits
        "test_every_evaluation_scores_a_baseline",
        "test_tune_alone_repeats_its_trials_bit_for_bit",
        "test_parallel_workers_share_one_study",
        "test_applied_parameters_are_trained_and_reported",
    }
    if installed.answers["ml_framework"] == "pytorch":
        # SIGKILL mid-training then --resume; two torchrun runs with 2 processes,
        # the split in memory or streamed by row groups
        reproducible |= {
            "test_killed_training_resumes_to_identical_weights_and_metrics",
            "test_two_ddp_runs_with_one_seed_give_identical_weights[tensor]",
            "test_two_ddp_runs_with_one_seed_give_identical_weights[stream]",
        }
    assert own_data | reproducible | dask_engine <= passed, output
    assert not re.search(r"\d+ failed", output), output


def test_project_nox_typecheck_docs_build_notebooks_pass(installed: Project) -> None:
    output = nox_sessions(installed, "typecheck", "docs", "build", "notebooks")
    # typecheck also runs deptry: declared and imported dependencies agree.
    assert "poetry run deptry ." in output
    assert "No dependency issues found" in output
    assert (installed.path / "site" / "index.html").is_file()
    assert sorted(p.suffix for p in (installed.path / "dist").iterdir()) == [
        ".gz",
        ".whl",
    ]


def test_nox_lab_serves_jupyterlab_on_loopback(
    installed: Project, tmp_path: Path
) -> None:
    port = free_loopback_port()
    command = [tool("nox"), "--non-interactive", "-s", "lab", "--"]
    command += ["--no-browser", f"--port={port}", "--IdentityProvider.token=lab-test"]
    if os.geteuid() == 0:  # CI's containers run as root, which Jupyter refuses
        command.append("--allow-root")
    process = subprocess.Popen(
        command,
        cwd=installed.path,
        env={**os.environ, **ISOLATED, "JUPYTER_RUNTIME_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # nox and the server it starts stop together
    )
    url = f"http://127.0.0.1:{port}/api/status?token=lab-test"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "JupyterLab did not answer"
            try:
                status, answer = http("GET", url)
                break
            except OSError:
                time.sleep(1)
        assert status == 200 and "started" in answer, answer
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/lab?token=lab-test"
        ) as page:
            assert b"JupyterLab" in page.read()
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    notebooks = installed.path / "notebooks"
    assert f"Serving notebooks from local directory: {notebooks}" in output, output


def pre_commit_changes_nothing(project: Project, runs: int = 1) -> None:
    """Run the project's hooks on every tracked file; they pass and change nothing."""
    # As a user runs it: the hooks call the tools of the project's environment.
    pre_commit = [tool("poetry"), "run", "pre-commit", "run", "--all-files"]
    before = run("git", "status", "--porcelain", cwd=project.path).stdout
    for _ in range(runs):
        run(*pre_commit, cwd=project.path, env=ISOLATED)
    assert run("git", "status", "--porcelain", cwd=project.path).stdout == before


def test_pre_commit_passes_twice_and_changes_nothing(installed: Project) -> None:
    pre_commit_changes_nothing(installed, runs=2)


def test_pipeline_and_reproducibility_proof(installed: Project) -> None:
    nox_sessions(installed, "pipeline")
    # What a user commits after a run (DVC stages dvc.lock itself) passes the hooks.
    run("git", "add", "-A", cwd=installed.path)
    pre_commit_changes_nothing(installed)
    metrics = json.loads((installed.path / "reports" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9, metrics
    evaluation = installed.path / "reports" / "figures" / "evaluation"
    figures = {p.name for p in evaluation.glob("*.png")}
    assert {"confusion_matrix.png", "roc_curve.png"} <= figures
    lock = yaml.safe_load((installed.path / "dvc.lock").read_text())
    assert set(lock["stages"]) == {
        "ingest", "prepare", "features", "train", "evaluate", "register", "monitor"
    }  # fmt: skip
    drift = json.loads(
        (installed.path / "reports" / "drift" / "drift.json").read_text()
    )
    assert drift["drift"] is False, drift["drifted_columns"]
    store = tracked(installed, f"sqlite:///{installed.path / 'mlflow.db'}")
    (tracked_run,) = store["runs"]
    assert_run_matches_the_pipeline(installed, tracked_run)
    assert store["champion"]["run_id"] == tracked_run["id"]
    assert store["pyfunc_equals_predict"] is True
    output = nox_sessions(installed, "reproduce")
    hashes = re.findall(r"run (\d): (model\.\w+) sha256 ([0-9a-f]{64})", output)
    assert len(hashes) == 2 and hashes[0][2] == hashes[1][2], output
    monitor_resample_and_shift(installed)


# Runs in the project's environment: what its MLflow store holds, and whether
# the champion, loaded as an MLflow model, predicts the raw test rows exactly as
# the `predict` command does.
STORE_REPORT = """
import json, subprocess, sys, tempfile
import mlflow, pandas as pd, yaml
from mlflow.tracking import MlflowClient
uri, package = sys.argv[1], sys.argv[2]
name = yaml.safe_load(open("params.yaml"))["register"]["name"]
client = MlflowClient(tracking_uri=uri)
runs = [
    {"id": r.info.run_id, "params": r.data.params, "metrics": r.data.metrics,
     "tags": r.data.tags}
    for e in client.search_experiments()
    for r in client.search_runs([e.experiment_id])
]
champion = client.get_model_version_by_alias(name, "champion")
test = pd.read_parquet("data/interim/test.parquet")
out = tempfile.mkdtemp() + "/out.parquet"
command = [sys.executable, "-m", package, "predict", "--model",
           f"models:/{name}@champion", "data/interim/test.parquet", out]
subprocess.run(command, check=True)
mlflow.set_tracking_uri(uri)
features = list(yaml.safe_load(open("columns.yaml")))
champion_model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
pyfunc = champion_model.predict(test[features])
expected = pd.read_parquet(out)[list(pyfunc.columns)]
print(json.dumps({
    "runs": runs,
    "pyfunc_equals_predict": bool(pyfunc.equals(expected)),
    "champion": {"version": champion.version, "run_id": champion.run_id},
}))
"""


def tracked(project: Project, uri: str, **env: str) -> dict:
    """What the MLflow store at ``uri`` holds for ``project`` (see STORE_REPORT)."""
    python = project.path / ".venv" / "bin" / "python"
    package = project.answers["package_name"]
    completed = run(python, "-c", STORE_REPORT, uri, package, cwd=project.path,
                    env={"MLFLOW_TRACKING_URI": uri, **env})  # fmt: skip
    return json.loads(completed.stdout.strip().splitlines()[-1])


def assert_run_matches_the_pipeline(project: Project, tracked_run: dict) -> None:
    """The run holds params.yaml flattened, the test and per-epoch metrics, and
    the model's provenance tags."""
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    assert tracked_run["params"]["seed"] == str(params["seed"])
    assert tracked_run["params"]["data.target"] == params["data"]["target"]
    metrics = json.loads((project.path / "reports" / "metrics.json").read_text())
    for key, value in metrics.items():
        assert tracked_run["metrics"][f"test_{key}"] == value
    assert "train_loss" in tracked_run["metrics"]
    model = next((project.path / "models").glob("model.*")).read_bytes()
    tags = tracked_run["tags"]
    assert tags["model_sha256"] == hashlib.sha256(model).hexdigest()
    head = run("git", "rev-parse", "HEAD", cwd=project.path).stdout.strip()
    assert tags["mlflow.source.git.commit"] == head
    assert json.loads(tags["run_info"])["seed"] == params["seed"]


def test_team_mode_tracks_into_a_real_mlflow_server(
    installed: Project, tmp_path: Path
) -> None:
    # Trains what test_pipeline_and_reproducibility_proof prepared.
    venv = installed.path / ".venv" / "bin"
    port = free_loopback_port()
    server = subprocess.Popen(
        [venv / "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    package = installed.answers["package_name"]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        for stage in ("train", "evaluate", "register"):
            run(venv / "python", "-m", package, stage, cwd=installed.path,
                env={"MLFLOW_TRACKING_URI": uri})  # fmt: skip
        store = tracked(installed, uri)
        (tracked_run,) = store["runs"]
        assert_run_matches_the_pipeline(installed, tracked_run)
        assert store["champion"] == {"version": "1", "run_id": tracked_run["id"]}
        assert store["pyfunc_equals_predict"] is True
        assert any((tmp_path / "artifacts").rglob("MLmodel"))
    finally:
        server.terminate()
        server.communicate(timeout=60)
    # The server is gone: register, the one stage that talks to it, stops,
    # names it, and writes nothing.
    outputs = installed.path / "models", installed.path / "reports"
    before = {p: p.read_bytes() for d in outputs for p in d.rglob("*") if p.is_file()}
    failed = subprocess.run(
        [venv / "python", "-m", package, "register"], cwd=installed.path,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True, text=True,
    )  # fmt: skip
    assert failed.returncode == 1 and uri in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr
    after = {p: p.read_bytes() for d in outputs for p in d.rglob("*") if p.is_file()}
    assert after == before


def monitor(project: Project, path: Path, *options: str) -> tuple[int, str]:
    """Run the project's ``monitor`` command on ``path``: exit code and report."""
    command = [str(project.path / ".venv" / "bin" / "python"), "-m"]
    command += [project.answers["package_name"], "monitor", str(path), *options]
    completed = subprocess.run(
        command, cwd=project.path, capture_output=True, text=True
    )
    assert completed.returncode in (0, 3), completed.stderr
    return completed.returncode, completed.stdout


def monitor_resample_and_shift(project: Project) -> None:
    """A resample of the training split passes; a shifted feature is named."""
    script = (
        "import pandas as pd, sys;"
        "t = pd.read_parquet('data/interim/train.parquet');"
        "t.sample(frac=0.5, random_state=0).to_csv(sys.argv[1], index=False);"
        "t['mean texture'] += t['mean texture'].std();"
        "t.to_csv(sys.argv[2], index=False)"
    )
    resample, shifted = project.path / "resample.csv", project.path / "shifted.csv"
    python = project.path / ".venv" / "bin" / "python"
    run(python, "-c", script, resample, shifted, cwd=project.path)
    stage_report = (project.path / "reports/drift/drift.json").read_bytes()
    assert monitor(project, resample, "--fail-on-drift")[0] == 0
    code, summary = monitor(project, shifted)
    assert code == 0 and "mean texture" in summary
    # A file checked by hand is reported outside the monitor stage's outputs.
    report = json.loads((project.path / "reports/adhoc/drift.json").read_text())
    assert "mean texture" in report["drifted_columns"]
    assert (project.path / "reports/drift/drift.json").read_bytes() == stage_report
    assert monitor(project, shifted, "--fail-on-drift")[0] == 3


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, dict]:
    """(status, parsed JSON answer) of one request; 4xx and 5xx included."""
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_ready(url: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the service exited {process.returncode} before it was ready")
        try:
            if http("GET", f"{url}/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the service was not ready within {seconds} s")


def serve_and_probe(project_path: Path, python: Path, package: str) -> str:
    """Start `python -m <package> serve` on a loopback port, send good and bad
    requests, stop it with SIGTERM; return its output."""
    rows = run(
        python,
        "-c",
        "import json, pandas as pd, yaml;"
        "features = list(yaml.safe_load(open('columns.yaml')));"
        "test = pd.read_parquet('data/interim/test.parquet').head(3);"
        "print(test[features].to_json(orient='records'))",
        cwd=project_path,
    ).stdout
    port = free_loopback_port()
    prefix = f"{package.upper()}_"
    # A small body limit: an oversized body still fits in the socket's buffer,
    # so the client reads the 413 instead of a reset connection.
    env = {
        **os.environ,
        f"{prefix}HOST": "127.0.0.1",
        "PORT": str(port),
        f"{prefix}MAX_BODY_BYTES": "65536",
    }
    process = subprocess.Popen(
        [python, "-m", package, "serve"],
        cwd=project_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, seconds=120)
        good = json.loads(rows)
        status, answer = http(
            "POST", f"{url}/predict", json.dumps({"rows": good}).encode()
        )
        assert status == 200 and len(answer["predictions"]) == len(good), answer
        bad = {
            b"{not json": 422,
            json.dumps({"rows": []}).encode(): 422,
            json.dumps({"rows": [{**good[0], "unknown": 1.0}]}).encode(): 422,
            b'{"rows": [' + b" " * 100_000 + b"]}": 413,
        }
        for body, expected in bad.items():
            status, answer = http("POST", f"{url}/predict", body)
            assert status == expected and answer["detail"], (body[:40], answer)
        assert http("GET", f"{url}/health") == (200, {"status": "ok"})
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output
    return output


def test_service_answers_good_and_bad_requests_and_stops_on_sigterm(
    installed: Project,
) -> None:
    # Serves the model that test_pipeline_and_reproducibility_proof trained.
    python = installed.path / ".venv" / "bin" / "python"
    output = serve_and_probe(installed.path, python, installed.answers["package_name"])
    # One log line per request on stdout, with its status.
    assert re.search(r'"POST /predict" 200 ', output), output
    assert len(re.findall(r'"POST /predict" 422 ', output)) == 3, output
    assert re.search(r'"POST /predict" 413 ', output), output


def test_reproducibility_proof_holds_for_regression(installed: Project) -> None:
    # A regression data set bundled with scikit-learn, adopted as a user would.
    script = installed.path / ".venv" / "bin" / installed.answers["project_slug"]
    run(script, "init-data", "sklearn:diabetes", "--target", "progression",
        cwd=installed.path)  # fmt: skip
    try:
        output = nox_sessions(installed, "reproduce")
    finally:
        adopted = ("params.yaml", "columns.yaml", "dvc.yaml")  # what init-data wrote
        run("git", "checkout", "--", *adopted, cwd=installed.path)
    hashes = re.findall(r"run (\d): (model\.\w+) sha256 ([0-9a-f]{64})", output)
    assert len(hashes) == 2 and hashes[0][2] == hashes[1][2], output
    metrics = json.loads(
        (installed.path / "reports" / "live" / "metrics.json").read_text()
    )
    assert "val_loss" in metrics and "val_accuracy" not in metrics


def test_build_makes_a_wheel_and_an_sdist(installed: Project) -> None:
    dist = installed.path / "dist"
    run(
        tool("poetry"),
        "build",
        "--no-interaction",
        f"--output={dist}",
        cwd=installed.path,
    )
    package = installed.answers["package_name"]
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    assert f"{package}/cli.py" in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert f"Name: {installed.answers['project_slug']}" in text
    with tarfile.open(sdist) as archive:
        members = {
            Path(name).relative_to(Path(name).parts[0])
            for name in archive.getnames()
            if "/" in name
        }
    assert Path("pyproject.toml") in members
    assert Path("src", package, "cli.py") in members
