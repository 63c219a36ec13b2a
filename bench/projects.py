"""Rendered projects as the benchmark parts build and run them."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nox

from .measure import printed, timed
from .template import render

# The Python of every benchmarked project.
PYTHON = "3.12"
SYNTHETIC_TABLE = str(Path(__file__).with_name("synthetic_table.py"))
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


def use_project_environments() -> None:
    """Set the environment of every command run in a project from now on:
    Poetry's environment in the project (`.venv`), no DVC analytics, a fixed
    hash seed, and a default Python, which caches bytecode as the first stages
    import their libraries, whatever the caller's environment says."""
    os.environ.update(POETRY_VIRTUALENVS_IN_PROJECT="true", DVC_NO_ANALYTICS="1")
    os.environ.update(PYTHONHASHSEED="0")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def git_commit_all(project: Path, message: str) -> None:
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", message], cwd=project, check=True)


def package_of(project: Path) -> str:
    """The import name of a rendered project's package."""
    return next((project / "src").iterdir()).name


@contextmanager
def installed_project(
    session: nox.Session, framework: str, python: str = PYTHON
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


def adopt_synthetic_table(
    session: nox.Session, project: Path, python: str, rows: int, table: Path
) -> float:
    """Write the synthetic table of `rows` rows to `table` (CSV or Parquet by
    its suffix) and adopt it with `init-data`; its size in MiB in pandas."""
    size = float(printed(session, python, SYNTHETIC_TABLE, str(rows), str(table),
                         cwd=project))  # fmt: skip
    timed(session, python, "-m", package_of(project), "init-data", str(table),
          "--target", "label", cwd=project)  # fmt: skip
    return size
