"""Sessions of the reproml template itself; `nox -l` lists them.

`nox -s tests` runs the whole suite: the fast tier renders a matrix of answer
sets and checks what they produce; the slow tier installs one rendered project
per framework from its lock and runs that project's own nox sessions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nox

ROOT = Path(__file__).parent
# bench/ is a package beside this file; hooks/ is a folder of scripts.
sys.path[:0] = [str(ROOT), str(ROOT / "hooks")]
from lockfile import drop_shadowed  # noqa: E402
from relock import release_lock  # noqa: E402

from bench import data as bench_data  # noqa: E402
from bench import lifecycle as bench_lifecycle  # noqa: E402
from bench import monitor as bench_monitor  # noqa: E402
from bench import rendering as bench_rendering  # noqa: E402
from bench import scale as bench_scale  # noqa: E402
from bench import serve as bench_serve  # noqa: E402
from bench import stages as bench_stages  # noqa: E402
from bench.projects import git_commit_all  # noqa: E402
from bench.template import FRAMEWORKS, render  # noqa: E402

PYPROJECT = nox.project.load_toml("pyproject.toml")
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


# pytest-xdist: the tests in worker processes, one per core up to four; each
# framework's built project stays in one worker (its xdist_group), so the two
# builds run side by side, not once per worker.
PARALLEL = ("--numprocesses", "auto", "--maxprocesses", "4", "--dist", "loadgroup")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite, fast and slow tiers (pytest args after --)."""
    install_test_tools(session)
    session.run("pytest", *PARALLEL, *session.posargs)


@nox.session(default=False)
def fast(session: nox.Session) -> None:
    """Run only the fast tier: rendering, parsing, linting generated code."""
    install_test_tools(session)
    session.run("pytest", *PARALLEL, "-m", "not slow", *session.posargs)


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


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Print figures: render time with copier, cookiecutter and cruft, and
    against copier's floor; then per framework the install, `dvc repro` from a
    fresh render and forced again, the default `nox` run and an update; then
    the pipeline's stages on synthetic data of 10k, 100k and 1M rows.

    `nox -s bench -- render` stops after the rendering figures; `-- data` runs
    only the synthetic-data figures; `-- monitor` only the drift tests against
    Evidently; `-- serve` only the serving figures (the project's API against
    `mlflow models serve`); `-- stages` only the default project's `dvc repro -f`
    and each stage's command alone, with tracking on; `-- scale` only the
    scikit-learn project's data stages and its in-memory and streaming models
    on 1M and 4M rows, then 16M rows on one Dask worker of 1 GiB (about 40
    minutes on 2 cores, 10 GB of memory for `init-data`); `-- scale-large`
    only the 16M rows.
    """
    install_test_tools(session)
    parts = {
        "data": bench_data.run,
        "monitor": bench_monitor.run,
        "scale": bench_scale.run,
        "scale-large": bench_scale.run_large,
        "serve": bench_serve.run,
        "stages": bench_stages.run,
    }
    if len(session.posargs) == 1 and session.posargs[0] in parts:
        parts[session.posargs[0]](session)
        return
    bench_rendering.run(session)
    if session.posargs == ["render"]:
        return
    bench_lifecycle.run(session)
    bench_data.run(session)


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
    """Render a project per framework and run its own `nox -s image` (opt-in):
    both Dockerfile targets built, the pipeline in the image proven
    byte-identical to the host, the service proven to answer as host `predict`.

    Needs docker or podman. `REPROML_IMAGE_BUILD_ARGS` adds options to the
    builds, for example `--build-arg BASE_IMAGE=localhost/python:3.12` where no
    registry is reachable. Arguments after `--` are `framework=python` pairs
    (default: both frameworks on Python 3.12).
    """
    if container_engine() is None:
        session.skip("Neither docker nor podman can build images here.")
    install_test_tools(session)
    build_args = os.environ.get("REPROML_IMAGE_BUILD_ARGS", "").split()
    targets = session.posargs or [f"{framework}=3.12" for framework in FRAMEWORKS]
    for target in targets:
        framework, _, python = target.partition("=")
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / "project"
            render(session, project, ml_framework=framework, python_version=python)
            git_commit_all(project, "Start from reproml")
            start = time.perf_counter()
            session.run(
                "nox", "--non-interactive", "-f", str(project / "noxfile.py"),
                "-s", "image", "--", *build_args,
            )  # fmt: skip
            session.log(f"{framework}: checked in {time.perf_counter() - start:.0f} s")
