#!/usr/bin/env -S pipx run
# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Checks, pipeline and reproducibility proof of the project.

`nox` runs the fast default set (lint and the fast tests); `nox -l` lists
every session. Each session installs exactly what poetry.lock pins: lint gets only
its own tools, and every session that needs the whole project (torch included)
shares one environment per Python version: .venv (Poetry's own, see poetry.toml)
for Python {{ cookiecutter.python_version }}, .nox/project-<version> for the others.
Arguments after `--` go to the session's main tool: `nox -s tests -- -k config`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

import nox

PACKAGE = "{{ cookiecutter.package_name }}"
IMAGE = "{{ cookiecutter.project_slug }}"
MODEL_FILE = "{{ 'model.pt' if cookiecutter.ml_framework == 'pytorch' else 'model.pkl' }}"
PYTHON = "{{ cookiecutter.python_version }}"
PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
ROOT = Path(__file__).parent
# Determinism that must be in place before the interpreter or CUDA starts.
REPRODUCIBLE_ENV = {"PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "venv"
# A session whose Python is missing fails; it never passes by skipping.
nox.options.error_on_missing_interpreters = True


def programs_dir(venv: Path) -> Path:
    """Where the virtual environment `venv` keeps its programs (bin, Scripts)."""
    # `python -m venv` lays out the "venv" scheme (Python 3.11+); before it,
    # the platform's plain scheme had the same folder for programs.
    plain = "nt" if os.name == "nt" else "posix_prefix"
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else plain
    paths = {"base": str(venv), "platbase": str(venv)}
    return Path(sysconfig.get_path("scripts", scheme, paths))


def venv_python(venv: Path) -> str | None:
    """The interpreter of `venv` (python or python.exe), if it exists."""
    return shutil.which("python", path=str(programs_dir(venv)))


def find_python(version: str) -> str | None:
    """An installed interpreter of Python `version` (e.g. "3.12"), or None.

    Tried in turn: `pythonX.Y` on PATH (POSIX), the `py` launcher (Windows),
    and a plain `python` on PATH that has that version (as CI sets up).
    """
    report = "import sys; print('%d.%d' % sys.version_info[:2], sys.executable)"
    for launcher in ([f"python{version}"], ["py", f"-{version}"], ["python"]):
        program = shutil.which(launcher[0])
        if program is None:
            continue
        probe = [program, *launcher[1:], "-c", report]
        found = subprocess.run(probe, capture_output=True, text=True)
        found_version, _, executable = found.stdout.strip().partition(" ")
        if found.returncode == 0 and found_version == version:
            return executable
    return None


def default_python() -> str:
    """The Python of `nox` without -s: the project's own where it is installed,
    else the first supported one that is (PYTHON when none is: it then fails)."""
    candidates = [PYTHON, *(version for version in PYTHONS if version != PYTHON)]
    return next((version for version in candidates if find_python(version)), PYTHON)


DEFAULT_PYTHON = default_python()
nox.options.sessions = ["lint", f"tests({DEFAULT_PYTHON})"]


def require_python(session: nox.Session, version: str) -> str:
    """An interpreter of Python `version`; the session fails, saying what to
    install, where there is none."""
    found = find_python(version)
    if found is None:
        installed = [other for other in PYTHONS if find_python(other)]
        session.error(
            f"Python {version} is not installed on this machine, and this session "
            f"needs it. The project runs on Python {', '.join(PYTHONS)} (its own: "
            f"{PYTHON}); installed here: {', '.join(installed) or 'none of them'}. "
            f"Install it (python.org, pyenv, or `uv python install {version}`)"
            + (f", or run `nox -s 'tests({installed[0]})'`" if installed else "")
        )
    return found


def poetry_install(
    session: nox.Session, venv: Path, *groups: str, root: bool = True
) -> dict[str, str]:
    """Install the locked `groups` (and the project itself) into `venv`.

    Returns the environment variables that make Poetry and the tools use it.
    """
    env = {
        "VIRTUAL_ENV": str(venv),
        "PATH": os.pathsep.join([str(programs_dir(venv)), os.environ["PATH"]]),
    }
    command = ["poetry", "install", "--no-interaction", "--only", ",".join(groups)]
    if not root:
        command.append("--no-root")
    session.run(*command, external=True, env=env)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Python caches no bytecode here, and each pipeline stage is a new
        # interpreter that would compile pandas, scikit-learn or torch again:
        # compile the environment once (later runs only compare timestamps).
        python = venv_python(venv)
        site_packages = session.run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
            silent=True, external=True,
        )  # fmt: skip
        session.run(
            python, "-m", "compileall", "-q", site_packages.strip(), external=True
        )
    return env


def python_venv(session: nox.Session, venv: Path, python: str) -> None:
    """Make sure `venv` exists and runs Python `python`."""
    interpreter = venv_python(venv)
    if interpreter is None:
        base = require_python(session, python)
        session.run(base, "-m", "venv", str(venv), external=True)
        interpreter = venv_python(venv)
    found = session.run(
        interpreter,
        "-c",
        "import sys; print('%d.%d' % sys.version_info[:2])",
        silent=True,
        external=True,
    )
    if found is None or found.strip() != python:
        session.error(
            f"{venv} runs Python {found!r}, not {python}: remove it, or run "
            f"`poetry env use {python}` and `poetry install` again."
        )


def tools_env(session: nox.Session, *groups: str) -> dict[str, str]:
    """Install only the locked `groups`, not the project, into .nox/<session>,
    on the Python of the default sessions."""
    venv = ROOT / ".nox" / session.name
    python_venv(session, venv, DEFAULT_PYTHON)
    return poetry_install(session, venv, *groups, root=False)


def installed_tool(env: dict[str, str], name: str) -> str:
    """The program `name` of the environment that `env` activates."""
    return shutil.which(name, path=env["PATH"]) or name


def project_env(session: nox.Session, *groups: str, python: str = PYTHON) -> dict:
    """Install the project with `groups` into the shared environment for `python`."""
    venv = ROOT / ".venv" if python == PYTHON else ROOT / ".nox" / f"project-{python}"
    python_venv(session, venv, python)
    env = poetry_install(session, venv, "main", *groups)
    return {**env, **REPRODUCIBLE_ENV}


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """Run every pre-commit hook on all files, with the locked linters."""
    env = tools_env(session, "lint")
    # import-linter finds the package's source here; the lint tools need no
    # install of the project itself.
    env["PYTHONPATH"] = str(ROOT / "src")
    args = session.posargs or ["--all-files", "--show-diff-on-failure"]
    session.run(installed_tool(env, "pre-commit"), "run", *args, env=env, external=True)


@nox.session(python=False)
@nox.parametrize("python", PYTHONS, ids=PYTHONS)
def tests(session: nox.Session, python: str) -> None:
    """Run the fast tests with coverage; `nox -s integration` runs the slow ones."""
    env = project_env(session, "test", python=python)
    args = session.posargs or ["-m", "not slow", "--cov", "--cov-report=term-missing"]
    session.run("poetry", "run", "pytest", *args, external=True, env=env)


@nox.session(python=False)
def integration(session: nox.Session) -> None:
    """Run the slow tests: the whole DVC pipeline and two-process reproducibility."""
    env = project_env(session, "test")
    args = ["-m", "slow", *session.posargs]
    session.run("poetry", "run", "pytest", *args, external=True, env=env)


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    """Type-check src/ with mypy, and the declared dependencies with deptry."""
    env = project_env(session, "typecheck")
    session.run("poetry", "run", "mypy", *session.posargs, external=True, env=env)
    session.run("poetry", "run", "deptry", ".", external=True, env=env)


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly; `nox -s docs -- serve` previews it."""
    env = project_env(session, "docs")
    if session.posargs == ["serve"]:
        command = ["serve"]
    else:
        command = ["build", "--strict", *session.posargs]
    session.run("poetry", "run", "mkdocs", *command, external=True, env=env)


@nox.session(python=False)
def build(session: nox.Session) -> None:
    """Build the wheel and sdist into dist/ and check them with twine."""
    env = tools_env(session, "build")
    shutil.rmtree(ROOT / "dist", ignore_errors=True)
    session.run("poetry", "build", "--no-interaction", external=True, env=env)
    artifacts = sorted(str(path) for path in (ROOT / "dist").iterdir())
    twine = installed_tool(env, "twine")
    session.run(twine, "check", "--strict", *artifacts, env=env, external=True)


@nox.session(python=False)
def notebooks(session: nox.Session) -> None:
    """Execute every notebook top to bottom (outputs are not written back)."""
    env = project_env(session, "notebooks")
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        session.run(
            "poetry", "run", "jupyter-execute", "--timeout=600", str(notebook),
            external=True, env=env,
        )  # fmt: skip


@nox.session(python=False)
def lab(session: nox.Session) -> None:
    """Open JupyterLab on notebooks/ at http://127.0.0.1:8888, in the project's
    environment (arguments go to `jupyter lab`, e.g. `-- --port 8889`)."""
    env = project_env(session, "notebooks")
    args = ["--ip", "127.0.0.1", f"--ServerApp.root_dir={ROOT / 'notebooks'}"]
    session.run(
        "poetry", "run", "jupyter", "lab", *args, *session.posargs,
        external=True, env=env,
    )  # fmt: skip


@nox.session(python=False)
def pipeline(session: nox.Session) -> None:
    """Run the DVC pipeline: `dvc repro` (arguments go to dvc repro)."""
    env = project_env(session)
    session.run(
        "poetry", "run", "dvc", "repro", *session.posargs, external=True, env=env
    )


@nox.session(python=False)
def ui(session: nox.Session) -> None:
    """Open the MLflow UI on the local store: http://127.0.0.1:5000 (arguments
    go to `mlflow ui`, e.g. `-- --port 5001`)."""
    # The UI's server reports usage unless told not to, like the library.
    telemetry = os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true")
    env = {**project_env(session), "MLFLOW_DISABLE_TELEMETRY": telemetry}
    store = f"sqlite:///{ROOT / 'mlflow.db'}"
    args = ["--backend-store-uri", store, "--host", "127.0.0.1", "--port", "5000"]
    session.run(
        "poetry", "run", "mlflow", "ui", *args, *session.posargs,
        external=True, env=env,
    )  # fmt: skip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_twice(session: nox.Session, env: dict[str, str]) -> None:
    """Train twice in fresh processes; fail unless weights and metrics match."""
    runs = []
    for attempt in (1, 2):
        session.run(
            "poetry", "run", "python", "-m", PACKAGE, "train", external=True, env=env
        )
        (model,) = (ROOT / "models").glob("model.*")
        metrics = ROOT / "reports" / "live" / "metrics.json"
        runs.append((sha256(model), sha256(metrics)))
        session.log(f"run {attempt}: {model.name} sha256 {runs[-1][0]}")
        session.log(f"run {attempt}: metrics.json sha256 {runs[-1][1]}")
    if runs[0] != runs[1]:
        session.error("The two trainings differ: training is not reproducible.")
    session.log("Identical weights and metrics across two processes.")


def container_engine(session: nox.Session) -> str:
    """docker or podman, whichever answers (CONTAINER_ENGINE names one)."""
    names = [os.environ.get("CONTAINER_ENGINE") or "docker", "podman"]
    for name in names:
        path = shutil.which(name)
        if path and subprocess.run([path, "info"], capture_output=True).returncode == 0:
            return path
    session.error("Neither docker nor podman answers here: install one of them.")


def inspect(engine: str, *names: str) -> dict:
    """`<engine> inspect` of one container or image, parsed."""
    output = subprocess.run(
        [engine, "inspect", *names], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(output)[0])


def wait_until_healthy(session: nox.Session, engine: str, container: str) -> None:
    """Poll the container's HEALTHCHECK until it reports healthy (podman runs
    the check when asked: it has no timer where systemd is missing)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if Path(engine).name == "podman":
            subprocess.run(
                [engine, "healthcheck", "run", container], capture_output=True
            )
        state = inspect(engine, container)["State"]
        health = (state.get("Health") or state.get("Healthcheck") or {}).get("Status")
        if health == "healthy":
            session.log(f"{container}: healthy")
            return
        if not state.get("Running"):
            session.error(f"{container} stopped: {state.get('Status')}")
        time.sleep(2)
    session.error(f"{container} did not report healthy within 300 s")


def post_json(url: str, path: Path) -> dict:
    request = urllib.request.Request(
        url, path.read_bytes(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return dict(json.loads(answer.read()))


def same_predictions(answer: dict, host: Path) -> bool:
    """The API's answer holds, bit for bit, the numbers host `predict` wrote."""
    with host.open(newline="") as file:
        rows = list(csv.DictReader(file))
    served = [
        (
            {f"proba_{label}": p for label, p in item["probabilities"].items()}
            if "probabilities" in item
            else {"prediction": item["prediction"]}
        )
        for item in answer["predictions"]
    ]
    written = [
        {name: float(row[name]) for name in numbers}
        for row, numbers in zip(rows, served)
    ]
    return len(rows) == len(served) and written == served


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@nox.session(python=False, default=False)
def image(session: nox.Session) -> None:
    """Build the image's targets with docker or podman, and prove them equal to
    this machine: the pipeline run in the image writes the host's model file,
    metrics.json and test-split predictions byte for byte, and the `serve`
    target, once its HEALTHCHECK reports healthy, scores rows over HTTP as host
    `predict` does. Prints the images' sizes. Arguments go to the builds, e.g.
    `-- --build-arg BASE_IMAGE=...`."""
    engine = container_engine(session)
    env = project_env(session)
    tags = {target: f"{IMAGE}-{target}:check" for target in ("pipeline", "serve")}
    build = [engine, "build", *session.posargs]
    if Path(engine).name == "podman":
        build.append("--format=docker")  # its default format drops HEALTHCHECK
    for target, tag in tags.items():
        session.run(*build, "--target", target, "--tag", tag, str(ROOT), external=True)
    session.run("poetry", "run", "dvc", "repro", external=True, env=env)
    work = Path(tempfile.mkdtemp(prefix="image-check-"))
    work.chmod(0o777)  # the image's user writes here
    try:
        python = ["poetry", "run", "python", "-m", PACKAGE]
        session.run(*python, "predict", "data/interim/test.parquet",
                    str(work / "host.csv"), external=True, env=env)  # fmt: skip
        # Its own run from scratch: the image holds no data, models or reports.
        script = (
            f"dvc repro && python -m {PACKAGE} predict data/interim/test.parquet "
            f"/check/image.csv && cp models/{MODEL_FILE} reports/metrics.json /check/"
        )
        session.run(engine, "run", "--rm", "--volume", f"{work}:/check",
                    tags["pipeline"], "sh", "-c", script, external=True)  # fmt: skip
        pairs = {
            MODEL_FILE: (ROOT / "models" / MODEL_FILE, work / MODEL_FILE),
            "metrics.json": (ROOT / "reports" / "metrics.json", work / "metrics.json"),
            "test-split predictions": (work / "host.csv", work / "image.csv"),
        }
        for name, (host, built) in pairs.items():
            session.log(f"{name}: host {sha256(host)}, image {sha256(built)}")
            if sha256(host) != sha256(built):
                session.error(f"{name} differs between this machine and the image.")
        check_service(session, engine, tags["serve"], work, env)
        for tag in tags.values():
            size = inspect(engine, "--type", "image", tag)["Size"]
            session.log(f"{tag}: {size / 1e6:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_service(
    session: nox.Session, engine: str, tag: str, work: Path, env: dict
) -> None:
    """Start the `serve` target on the host's models, wait until healthy, and
    compare its answer for sampled rows with host `predict` of the same rows."""
    python = ["poetry", "run", "python", "-m", PACKAGE]
    for name in ("rows.csv", "request.json"):
        session.run(*python, "sample", "50", "--out", str(work / name),
                    external=True, env=env)  # fmt: skip
    session.run(*python, "predict", str(work / "rows.csv"),
                str(work / "rows-host.csv"), external=True, env=env)  # fmt: skip
    port = free_port()
    container = f"{IMAGE}-check-{port}"
    session.run(
        engine, "run", "--detach", "--name", container,
        "--publish", f"127.0.0.1:{port}:8000",
        "--volume", f"{ROOT / 'models'}:/app/models:ro", tag, external=True,
    )  # fmt: skip
    try:
        wait_until_healthy(session, engine, container)
        answer = post_json(f"http://127.0.0.1:{port}/predict", work / "request.json")
    finally:
        session.run(engine, "rm", "--force", container, external=True, silent=True)
    if not same_predictions(answer, work / "rows-host.csv"):
        session.error("The image's service and host `predict` differ.")
    session.log(f"serve: {len(answer['predictions'])} rows, equal to host predict")


@nox.session(python=False)
def reproduce(session: nox.Session) -> None:
    """Train twice in fresh processes with the same seed; prove identical results."""
    env = project_env(session)
    session.run("poetry", "run", "dvc", "repro", "features", external=True, env=env)
    train_twice(session, env)
{%- if cookiecutter.ml_framework == "pytorch" %}


@nox.session(python=False)
def gpu(session: nox.Session) -> None:
    """On a CUDA machine: the GPU tests, then two trainings on the GPU that must
    give identical weights. Skips, saying so, where no CUDA device is found."""
    env = project_env(session, "test")
    probe = (
        "import torch; "
        "print(torch.cuda.is_available() and torch.cuda.get_device_name())"
    )
    found = session.run(
        "poetry", "run", "python", "-c", probe, external=True, env=env, silent=True
    )  # fmt: skip
    device = str(found or "").strip().splitlines()[-1:]
    if device in ([], ["False"]):
        session.skip("No CUDA device here: the GPU tests and proof need one.")
    session.log(f"CUDA device: {device[0]}")
    session.run(
        "poetry", "run", "pytest", "-m", "gpu", "-rA", *session.posargs,
        external=True, env=env,
    )  # fmt: skip
    session.run("poetry", "run", "dvc", "repro", "features", external=True, env=env)
    # train.mlp.device is auto: CUDA when a device is found.
    train_twice(session, env)


@nox.session(python=False)
def throughput(session: nox.Session) -> None:
    """Print training samples/s: DataLoader vs tensor batching, 1 vs 2 processes
    (arguments after -- go to benchmarks/throughput.py, e.g. `-- --device cuda
    --modes deterministic nondeterministic`)."""
    env = project_env(session)
    script = str(ROOT / "benchmarks" / "throughput.py")
    torchrun = ["torchrun", "--standalone", "--nproc-per-node", "2"]
    for launcher in (["python"], torchrun):
        command = [*launcher, script, *session.posargs]
        session.run("poetry", "run", *command, external=True, env=env)
{%- endif %}


if __name__ == "__main__":
    nox.main()
