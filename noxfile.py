"""Sessions of the reproml template itself; `nox -l` lists them.

`nox -s tests` runs the whole suite: the fast tier renders a matrix of answer
sets and checks what they produce; the slow tier installs one rendered project
per framework from its lock and runs that project's own nox sessions.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "hooks"))
from lockfile import drop_shadowed  # noqa: E402  (hooks/ is no package)
from relock import release_lock  # noqa: E402

PYPROJECT = nox.project.load_toml("pyproject.toml")
FRAMEWORKS = ("pytorch", "sklearn")
# Extra packages to install beside Poetry, space-separated pip requirements:
# e.g. a plugin for a package index that lacks PyPI's JSON API.
POETRY_PLUGINS = os.environ.get("REPROML_POETRY_PLUGINS", "").split()

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"
# The tests read and write the UTF-8 templates and tool output without naming
# an encoding: UTF-8 mode (Python 3.15's default, PEP 686) keeps that true on
# Windows, for every process the sessions start.
os.environ.setdefault("PYTHONUTF8", "1")


def install_test_tools(session: nox.Session) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    if POETRY_PLUGINS:
        session.install(*POETRY_PLUGINS)


def render(session: nox.Session, destination: Path, **answers: str) -> None:
    """Render the working tree (uncommitted changes included) with `answers`."""
    data = [f"--data={key}={value}" for key, value in answers.items()]
    session.run(
        "copier", "copy", "--quiet", "--defaults", "--vcs-ref=HEAD", *data,
        str(ROOT), str(destination),
    )  # fmt: skip


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite, fast and slow tiers (pytest args after --)."""
    install_test_tools(session)
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def fast(session: nox.Session) -> None:
    """Run only the fast tier: rendering, parsing, linting generated code."""
    install_test_tools(session)
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint the template's own Python code (the generated code is linted by tests)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("black", "--check", "--diff", ".")
    session.run("isort", "--check-only", "--diff", ".")
    session.run("flake8", ".")


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the template's documentation site strictly (`-- serve` to preview)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "docs"))
    if session.posargs == ["serve"]:
        session.run("mkdocs", "serve")
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session(default=False)
def cookiecutter_json(session: nox.Session) -> None:
    """Write cookiecutter.json from copier.yml (a test fails while they differ)."""
    session.install("jinja2", "pyyaml")
    session.chdir(ROOT / "template")
    session.run(
        "python", "-c",
        "import pathlib, local_extensions as x;"
        "pathlib.Path('cookiecutter.json').write_text("
        "x.cookiecutter_json_text(), encoding='utf-8')",
    )  # fmt: skip


@nox.session(default=False)
def lock(session: nox.Session) -> None:
    """Re-resolve the generated project's poetry.lock for every framework.

    Run it after changing dependencies in the project's pyproject.toml; it
    takes minutes (the PyTorch variant resolves about 200 packages).
    """
    install_test_tools(session)
    frameworks = session.posargs or FRAMEWORKS
    for framework in frameworks:
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / "project"
            render(session, project, ml_framework=framework)
            (project / "poetry.lock").unlink(missing_ok=True)
            session.run("poetry", "lock", "--no-interaction", f"--directory={project}")
            lock = project / "poetry.lock"
            text, dropped = drop_shadowed(lock.read_text())
            lock.write_text(text)
            if dropped:
                session.log(f"dropped shadowed duplicates: {', '.join(dropped)}")
            session.run("poetry", "check", "--lock", f"--directory={project}")
            shutil.copyfile(project / "poetry.lock", release_lock(ROOT, framework))
            session.log(
                f"{framework}: wrote {release_lock(ROOT, framework).relative_to(ROOT)}"
            )


def timed(session: nox.Session, *command: str, cwd: Path) -> float:
    """Wall time in seconds of one run of `command` with the session's tools."""
    env = {**os.environ, "PATH": f"{session.bin}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if done.returncode != 0:
        session.error(f"{' '.join(command)} failed:\n{done.stdout.decode()[-4000:]}")
    return time.perf_counter() - start


def copier_copy(template: Path) -> Callable[[Path], list[str]]:
    """The command that renders `template`'s defaults into a destination."""
    command = ["copier", "copy", "--quiet", "--defaults", "--vcs-ref=HEAD"]
    return lambda destination: [*command, str(template), str(destination)]


def cookiecutter_no_input(destination: Path) -> list[str]:
    return [
        "cookiecutter", "--no-input", "--output-dir", str(destination),
        "--directory", "template", str(ROOT),
    ]  # fmt: skip


def cruft_create(destination: Path) -> list[str]:
    return [
        "cruft",
        "create",
        "--no-input",
        "--output-dir",
        str(destination),
        "--directory",
        "template",
        str(ROOT),
    ]


def median_renders(
    session: nox.Session, renders: list[Callable[[Path], list[str]]], runs: int
) -> list:
    """Median wall time of each render command (destination -> command).

    Runs alternate between the commands so that a busy machine slows all alike.
    """
    times: list[list[float]] = [[] for _ in renders]
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            for index, command in enumerate(renders):
                destination = Path(tmp) / f"render-{index}-{run}"
                destination.mkdir()
                times[index].append(timed(session, *command(destination), cwd=ROOT))
    return [statistics.median(series) for series in times]


def trivial_template(folder: Path, layout: Path | None = None) -> Path:
    """A one-question template in a git repository: copier's floor.

    With `layout` (a rendered project), the template also holds an empty file
    at each of that project's paths: copier's floor for that many files.
    """
    folder.mkdir()
    if layout is not None:
        for path in layout.rglob("*"):
            if path.is_file() and ".git" not in path.relative_to(layout).parts:
                placeholder = folder / path.relative_to(layout)
                placeholder.parent.mkdir(parents=True, exist_ok=True)
                placeholder.touch()
        (folder / ".copier-answers.yml").unlink(missing_ok=True)
        (folder / "README.md").unlink(missing_ok=True)
    (folder / "copier.yml").write_text("name:\n  type: str\n  default: demo\n")
    (folder / "README.md.jinja").write_text("# {{ name }}\n")
    git_commit_all(folder, "floor")
    return folder


def git_commit_all(project: Path, message: str) -> None:
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", message], cwd=project, check=True)


# A synthetic table of the data benchmark: a binary label that depends on
# mixed numeric and categorical columns, some of them with missing values.
SYNTHETIC_TABLE = """
import sys
import numpy as np
import pyarrow as pa
import pyarrow.csv

rows, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
columns, score = {}, np.zeros(rows)
for i in range(24):
    values = rng.normal(i, 1 + i % 5, rows)
    score += (values - i) / (1 + i % 5) * (0.3 if i % 3 == 0 else 0.0)
    if i < 3:
        values[rng.random(rows) < 0.05] = np.nan
    columns[f"num_{i:02d}"] = values
for i in range(6):
    levels = np.array([f"level_{k}" for k in range(3 + 4 * i)], dtype=object)
    codes = rng.integers(0, len(levels), rows)
    score += np.where(codes % 2 == 0, 0.4, -0.4) if i < 2 else 0.0
    values = levels[codes]
    if i == 0:
        values[rng.random(rows) < 0.05] = None
    columns[f"cat_{i}"] = values
columns["label"] = (score + rng.logistic(size=rows) > 0).astype(np.int64)
pa.csv.write_csv(pa.table(columns), path)
"""
SHORT_TRAINING = """
import yaml
params = yaml.safe_load(open("params.yaml"))
params["train"]["mlp"].update(epochs=1, batch_size=256)
yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
"""
DATA_BENCH_ROWS = (10_000, 100_000, 1_000_000)
# Every stage of dvc.yaml, in its order.
PIPELINE_STAGES = (
    "ingest",
    "prepare",
    "features",
    "train",
    "evaluate",
    "register",
    "monitor",
)


def run_measured(session: nox.Session, command: list[str], cwd: Path) -> tuple:
    """(seconds, peak resident memory in MiB) of one run of `command`.

    The folder of `command`'s program comes first on PATH, so that `dvc repro`
    run by a project's Python finds that Python's `python` for its stages.
    """
    program_dir = str(Path(command[0]).parent)
    env = {**os.environ, "PATH": f"{program_dir}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        session.error(f"{' '.join(command)} failed:\n{output.decode()[-4000:]}")
    return seconds, usage.ru_maxrss / 1024


@contextmanager
def installed_project(
    session: nox.Session, framework: str, python: str
) -> Iterator[tuple[Path, str]]:
    """A committed render for `framework`, its main group installed by Poetry:
    (its folder, the path of its environment's Python)."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        render(session, project, ml_framework=framework, python_version=python)
        git_commit_all(project, "Start from reproml")
        timed(session, "poetry", "env", "use", f"python{python}", cwd=project)
        timed(session, "poetry", "install", "--only", "main", cwd=project)
        yield project, str(project / ".venv" / "bin" / "python")


def bench_data(session: nox.Session) -> None:
    """Seconds and peak memory of each pipeline stage on synthetic tables of
    10k, 100k and 1M rows x 30 columns (24 numeric, 6 categorical), and the
    whole `dvc repro`, per framework."""
    python = "3.12"
    os.environ.update(POETRY_VIRTUALENVS_IN_PROJECT="true", DVC_NO_ANALYTICS="1")
    os.environ.update(PYTHONHASHSEED="0")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    table = []
    for framework in FRAMEWORKS:
        with installed_project(session, framework, python) as (project, venv_python):
            package = next((project / "src").iterdir()).name
            csv = project / "data" / "external" / "bench.csv"
            for rows in DATA_BENCH_ROWS:
                timed(session, venv_python, "-c", SYNTHETIC_TABLE, str(rows), str(csv),
                      cwd=project)  # fmt: skip
                cli = [venv_python, "-m", package]
                timed(session, *cli, "init-data", str(csv), "--target", "label",
                      cwd=project)  # fmt: skip
                if framework == "pytorch":
                    # One epoch of larger batches: the figures are about the data
                    # stages, not about how long an MLP may train.
                    timed(session, venv_python, "-c", SHORT_TRAINING, cwd=project)
                size = timed_memory(session, venv_python, csv, project)
                stages = [run_measured(session, [*cli, stage], project)
                          for stage in PIPELINE_STAGES]  # fmt: skip
                whole, _ = run_measured(
                    session, [venv_python, "-m", "dvc", "repro", "--force"], project
                )
                table.append((framework, rows, size, stages, whole))
                session.log(f"{framework} {rows} rows: dvc repro {whole:.1f} s")
    session.log("pipeline on synthetic data, 30 columns (s = seconds, MiB = peak RSS):")
    header = "".join(f"{stage:>17}" for stage in PIPELINE_STAGES)
    session.log(f"  framework    rows  data MiB{header}  dvc repro")
    for framework, rows, size, stages, whole in table:
        cells = "".join(f"{s:7.1f} s {m:5.0f} MiB" for s, m in stages)
        session.log(f"  {framework:<9}{rows:>8}{size:10.0f}{cells}{whole:9.1f} s")


MONITOR_TABLES = """
import json, sys
from pathlib import Path
import numpy as np
import pandas as pd

folder, reference_rows, current_rows = Path(sys.argv[1]), 1_000_000, 100_000
rng = np.random.default_rng(0)
levels = np.array([f"level_{k}" for k in range(5)], dtype=object)
shares = np.array([0.4, 0.25, 0.15, 0.12, 0.08])


def table(rows, shifted):
    columns = {}
    for i in range(24):
        values = rng.normal(i, 1 + i % 5, rows)
        if shifted and i in (0, 1):  # half a standard deviation: drift
            values += 0.5 * (1 + i % 5)
        if shifted and i == 2:  # twice the spread: drift
            values = i + (values - i) * 2
        if shifted and i == 3:  # 2% of a standard deviation: trivial
            values += 0.02 * (1 + i % 5)
        columns[f"num_{i:02d}"] = values
    for i in range(6):
        p = shares[::-1] if shifted and i == 0 else shares  # drift
        columns[f"cat_{i}"] = levels[rng.choice(len(levels), rows, p=p)]
    return pd.DataFrame(columns)


table(reference_rows, False).to_parquet(folder / "reference.parquet")
table(current_rows, True).to_parquet(folder / "current.parquet")
features = {f"num_{i:02d}": {"kind": "numeric"} for i in range(24)}
features |= {f"cat_{i}": {"kind": "categorical"} for i in range(6)}
data = {"task": "regression", "target": "label", "features": features}
(folder / "data.json").write_text(json.dumps(data))
"""
MONITOR_TIMING = """
import importlib, json, sys, time
from pathlib import Path
import pandas as pd

package, folder = sys.argv[1], Path(sys.argv[2])
monitor = importlib.import_module(f"{package}.monitor")
params = importlib.import_module(f"{package}.params")
data = params.DataParams.model_validate_json((folder / "data.json").read_text())
settings = params.MonitorParams()
reference = pd.read_parquet(folder / "reference.parquet")
current = pd.read_parquet(folder / "current.parquet")
start, cpu = time.perf_counter(), time.process_time()
report = monitor.compare(
    monitor.validated(reference, data, "reference"),
    monitor.validated(current, data, "current"),
    data,
    settings,
)
monitor.decide(report.columns, settings)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "drifted": report.drifted}))
"""
EVIDENTLY_TIMING = """
import json, sys, time
from pathlib import Path
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder = Path(sys.argv[1])
reference = pd.read_parquet(folder / "reference.parquet")
current = pd.read_parquet(folder / "current.parquet")
start, cpu = time.perf_counter(), time.process_time()
definition = DataDefinition(
    numerical_columns=[c for c in reference.columns if c.startswith("num_")],
    categorical_columns=[c for c in reference.columns if c.startswith("cat_")],
)
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
result = snapshot.dict()
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
drifted = []
for metric in result["metrics"]:
    name = metric.get("metric_name", "")
    if name.startswith("ValueDrift(") and metric["config"]["threshold"] is not None:
        column, value = metric["config"]["column"], metric["value"]
        method = metric["config"]["method"]
        # p-value methods flag below the threshold, distances above it
        flagged = value < metric["config"]["threshold"] if "p_value" in method else (
            value >= metric["config"]["threshold"]
        )
        if flagged:
            drifted.append(column)
print(json.dumps({"seconds": seconds, "cpu": cpu, "drifted": sorted(drifted)}))
"""
# Evidently 0.7 imports pandas internals that pandas 3 removed.
EVIDENTLY = ("evidently>=0.7,<0.8", "pandas<3", "pyarrow")


def last_json_line(output: str) -> dict:
    """The JSON a script printed last; warnings may come before it (a silent
    session.run returns stderr together with stdout)."""
    return json.loads(output.strip().splitlines()[-1])


def bench_monitor(session: nox.Session) -> None:
    """The monitor's tests against Evidently's data-drift report on the same
    tables (1M reference x 100k current rows, 24 numeric and 6 categorical
    columns, five of them drifted, one shifted trivially): seconds of each and
    whether they flag the same columns. Evidently runs in its own environment."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        project = folder / "project"
        render(session, project, ml_framework="sklearn")
        # pyarrow reads the Parquet tables; the project's lock brings it along.
        session.install(str(project), "pyarrow")
        package = next((project / "src").iterdir()).name
        evidently = folder / "evidently"
        session.run(sys.executable, "-m", "venv", str(evidently), external=True)
        python = str(evidently / "bin" / "python")
        session.run(python, "-m", "pip", "install", "-q", *EVIDENTLY, external=True)
        session.run("python", "-c", MONITOR_TABLES, tmp)
        ours = last_json_line(
            session.run("python", "-c", MONITOR_TIMING, package, tmp, silent=True)
        )
        theirs = last_json_line(
            session.run(python, "-c", EVIDENTLY_TIMING, tmp, silent=True, external=True)
        )
    session.log("drift tests, 1M reference x 100k current rows x 30 columns:")
    for name, result in (("monitor", ours), ("Evidently", theirs)):
        columns = ", ".join(result["drifted"])
        session.log(
            f"  {name:<10}{result['seconds']:7.1f} s ({result['cpu']:.1f} s CPU)"
            f"  drifted: {columns}"
        )
    for what in ("seconds", "cpu"):
        session.log(f"  monitor is {theirs[what] / ours[what]:.1f}x faster ({what})")
    same = sorted(ours["drifted"]) == theirs["drifted"]
    session.log(f"  same columns flagged: {'yes' if same else 'no'}")


def timed_memory(session: nox.Session, python: str, csv: Path, cwd: Path) -> float:
    """In-memory size (MiB) of the table as pandas reads it."""
    code = (
        "import sys, pandas as pd;"
        "print(pd.read_csv(sys.argv[1]).memory_usage(deep=True).sum() / 2**20)"
    )
    output = subprocess.run(
        [python, "-c", code, str(csv)], cwd=cwd, capture_output=True, text=True
    )
    if output.returncode != 0:
        session.error(output.stderr[-4000:])
    return float(output.stdout)


BENCH = ROOT / "bench"
# Fixed load: concurrent connections, and bounds in requests and seconds.
LOAD = ("--concurrency", "8", "--requests", "3000", "--seconds", "20")
REQUEST_ROWS = (1, 100)
REQUEST_BODIES = """
import json, sys, pandas as pd, yaml
rows = int(sys.argv[1])
features = list(yaml.safe_load(open("params.yaml"))["data"]["features"])
test = pd.read_parquet("data/interim/test.parquet")
records = json.loads(test[features].sample(rows, replace=True, random_state=0)
                     .to_json(orient="records"))
json.dump({"rows": records}, open(f"ours-{rows}.json", "w"))
json.dump({"dataframe_records": records}, open(f"mlflow-{rows}.json", "w"))
"""


def start_server(command: list[str], cwd: Path, ready: str, env: dict) -> tuple:
    """Start a server, wait until `ready` (a loopback URL) answers 200."""
    import urllib.request

    process = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(ready, timeout=5) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{' '.join(command)} did not become ready")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load_test(session: nox.Session, url: str, body: Path) -> dict:
    output = subprocess.run(
        [sys.executable, str(BENCH / "serve_load.py"), url, str(body), *LOAD],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    session.log(f"  {url} {body.name}: {output.strip()}")
    return json.loads(output)


def compare_servers(session: nox.Session, project: Path, python: str) -> list[tuple]:
    """Serve the project's model with its own API and, as the MLflow model the
    pipeline registered (`models:/<slug>@champion`), with `mlflow models serve`;
    load-test both."""
    package = next((project / "src").iterdir()).name
    for rows in REQUEST_ROWS:
        timed(session, python, "-c", REQUEST_BODIES, str(rows), cwd=project)
    registered = subprocess.run(
        [python, "-c", "import yaml; print(yaml.safe_load(open('params.yaml'))"
         "['register']['name'])"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    champion = f"models:/{registered}@champion"
    ours_port, mlflow_port = free_port(), free_port()
    quiet = {f"{package.upper()}_LOG_LEVEL": "WARNING", "PYTHONHASHSEED": "0"}
    ours = start_server(
        [python, "-m", package, "serve"], project,
        f"http://127.0.0.1:{ours_port}/ready", {**quiet, "PORT": str(ours_port)},
    )  # fmt: skip
    try:
        mlflow = start_server(
            [python, "-m", "mlflow", "models", "serve", "-m", champion,
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port),
             "-w", "1"],
            project, f"http://127.0.0.1:{mlflow_port}/ping",
            {
                "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONHASHSEED": "0",
                # `mlflow models serve` runs the `uvicorn` script found on PATH.
                "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}",
            },
        )  # fmt: skip
        try:
            results = []
            for rows in REQUEST_ROWS:
                mine = load_test(session, f"http://127.0.0.1:{ours_port}/predict",
                                 project / f"ours-{rows}.json")  # fmt: skip
                theirs = load_test(session,
                                   f"http://127.0.0.1:{mlflow_port}/invocations",
                                   project / f"mlflow-{rows}.json")  # fmt: skip
                results.append((rows, mine, theirs))
        finally:
            stop_server(mlflow)
    finally:
        stop_server(ours)
    return results


def bench_serve(session: nox.Session) -> None:
    """Requests per second, p50 and p99 latency of the project's API against
    `mlflow models serve --env-manager local` serving the same model, for
    requests of 1 and 100 rows, per framework; loopback traffic only."""
    python = "3.12"
    os.environ.update(POETRY_VIRTUALENVS_IN_PROJECT="true", DVC_NO_ANALYTICS="1")
    os.environ.update(PYTHONHASHSEED="0")
    table = []
    for framework in FRAMEWORKS:
        with installed_project(session, framework, python) as (project, venv_python):
            run_measured(session, [venv_python, "-m", "dvc", "repro"], project)
            for rows, mine, theirs in compare_servers(session, project, venv_python):
                table.append((framework, rows, mine, theirs))
    session.log(
        f"serving, {LOAD[1]} concurrent connections, at most {LOAD[3]} requests "
        f"or {LOAD[5]} s each:"
    )
    session.log(
        "  framework  rows   server        rps  p50 ms  p99 ms  errors   rps ratio"
    )
    for framework, rows, mine, theirs in table:
        for name, result in (("ours", mine), ("mlflow", theirs)):
            ratio = mine["rps"] / theirs["rps"] if name == "ours" else 1.0
            session.log(
                f"  {framework:<9}{rows:>5}   {name:<8}{result['rps']:>9.1f}"
                f"{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}"
                f"{result['errors']:>8}{ratio:>11.2f}x"
            )


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Print figures: render time with copier, cookiecutter and cruft, and
    against copier's floor; then per framework the install, `dvc repro` from a
    fresh render and forced again, the default `nox` run and an update; then
    the pipeline's stages on synthetic data of 10k, 100k and 1M rows.

    `nox -s bench -- render` stops after the rendering figures; `-- data` runs
    only the synthetic-data figures; `-- monitor` only the drift tests against
    Evidently; `-- serve` only the serving figures (the project's API against
    `mlflow models serve`).
    """
    install_test_tools(session)
    parts = {"data": bench_data, "monitor": bench_monitor, "serve": bench_serve}
    if len(session.posargs) == 1 and session.posargs[0] in parts:
        parts[session.posargs[0]](session)
        return
    runs = 9
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        render(session, project)
        renders = [
            copier_copy(trivial_template(Path(tmp) / "floor")),
            copier_copy(trivial_template(Path(tmp) / "layout", layout=project)),
            copier_copy(ROOT),
            cookiecutter_no_input,
            cruft_create,
        ]
        files = sum(1 for path in project.rglob("*") if path.is_file())
        # Cookiecutter's own configuration, so that no replay lands in $HOME.
        config = Path(tmp) / "cookiecutter.yaml"
        config.write_text(f"replay_dir: {Path(tmp) / 'replay'}\n")
        os.environ["COOKIECUTTER_CONFIG"] = str(config)
        floor, layout, ours, cookiecutter, cruft = median_renders(
            session, renders, runs
        )
    session.log(f"render time of the default project, median of {runs}:")
    rows = [
        (f"copier copy --defaults ({files} files)", ours),
        ("cookiecutter --no-input (the same files)", cookiecutter),
        ("cruft create --no-input (clones the template)", cruft),
        ("copier's floor, a trivial one-file template", floor),
        (f"copier, the same {files} paths as reproml, empty", layout),
        ("added by reproml over copier's floor", ours - floor),
        (f"  of which copier's own cost of {files} files", layout - floor),
    ]
    for label, seconds in rows:
        session.log(f"  {label:<48}{seconds:6.2f} s")
    if session.posargs == ["render"]:
        return
    python = "3.12"
    os.environ.update(POETRY_VIRTUALENVS_IN_PROJECT="true", DVC_NO_ANALYTICS="1")
    # Measure a default Python, which caches bytecode as the first stages
    # import their libraries, whatever the caller's environment says.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    nox_command = ["nox", "--non-interactive", "--download-python", "never"]
    figures = []
    for framework in FRAMEWORKS:
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / "project"
            render(session, project, ml_framework=framework, python_version=python)
            git_commit_all(project, "Start from reproml")
            timed(session, "poetry", "env", "use", f"python{python}", cwd=project)
            install = timed(
                session, "poetry", "install", "--no-interaction", cwd=project
            )
            repro = timed(session, "poetry", "run", "dvc", "repro", cwd=project)
            # Every stage again, now that the first run has cached the bytecode.
            rerun = timed(session, "poetry", "run", "dvc", "repro", "-f", cwd=project)
            default_nox = timed(session, *nox_command, cwd=project)
            git_commit_all(project, "Pipeline outputs")
            update = timed(
                session, "copier", "update", "--trust", "--defaults", "--vcs-ref=HEAD",
                "--skip-answered", cwd=project,
            )  # fmt: skip
            figures.append((framework, install, repro, rerun, default_nox, update))
    session.log("per framework (seconds; install with Poetry's cache as it is):")
    session.log(
        "  framework   install  dvc repro  dvc repro -f  nox (default)  copier update"
    )
    for framework, *seconds in figures:
        widths = (8, 11, 14, 15, 15)
        row = "".join(f"{value:{width}.1f}" for value, width in zip(seconds, widths))
        session.log(f"  {framework:<10}{row}")
    bench_data(session)


def container_engine() -> str | None:
    """The first of docker and podman that can build here."""
    for engine in ("docker", "podman"):
        found = shutil.which(engine)
        if (
            found
            and subprocess.run([found, "info"], capture_output=True).returncode == 0
        ):
            return found
    return None


@nox.session(default=False)
def image(session: nox.Session) -> None:
    """Build a rendered project's Docker image and run its pipeline inside (opt-in).

    Needs docker or podman. `REPROML_IMAGE_BUILD_ARGS` and
    `REPROML_IMAGE_RUN_ARGS` add options to the build and run commands, for
    example `--build-arg BASE_IMAGE=localhost/python:3.12` where no registry is
    reachable. Arguments after `--` are `framework=python` pairs (default:
    both frameworks on Python 3.12).
    """
    engine = container_engine()
    if engine is None:
        session.skip("Neither docker nor podman can build images here.")
    install_test_tools(session)
    build_args = os.environ.get("REPROML_IMAGE_BUILD_ARGS", "").split()
    run_args = os.environ.get("REPROML_IMAGE_RUN_ARGS", "").split()
    targets = session.posargs or [f"{framework}=3.12" for framework in FRAMEWORKS]
    for target in targets:
        framework, _, python = target.partition("=")
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / "project"
            render(session, project, ml_framework=framework, python_version=python)
            tag = f"localhost/reproml-{framework}:test"
            start = time.perf_counter()
            session.run(
                engine, "build", *build_args, "-t", tag, str(project), external=True
            )
            built = time.perf_counter() - start
            output = session.run(
                engine, "run", "--rm", *run_args, tag, "sh", "-c",
                "dvc repro && echo METRICS && cat reports/metrics.json",
                external=True, silent=True,
            )  # fmt: skip
            metrics = json.loads(output.split("METRICS\n", 1)[1])
            session.log(f"{framework}: image built in {built:.0f} s; metrics {metrics}")
            if not metrics.get("accuracy", 0) > 0.9:
                session.error(
                    f"{framework}: the pipeline in the image scored {metrics}"
                )
