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

import hashlib
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import nox

PACKAGE = "{{ cookiecutter.package_name }}"
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
