"""The part of `nox -s bench` after the render figures: per framework, the
install with Poetry, `dvc repro` from a fresh render and forced again, the
default `nox` run and `copier update`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import nox

from .measure import timed
from .projects import PYTHON, git_commit_all, use_project_environments
from .template import FRAMEWORKS, render

NOX = ("nox", "--non-interactive", "--download-python", "never")


def run(session: nox.Session) -> None:
    use_project_environments()
    figures = []
    for framework in FRAMEWORKS:
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / "project"
            render(session, project, ml_framework=framework, python_version=PYTHON)
            git_commit_all(project, "Start from reproml")
            timed(session, "poetry", "env", "use", f"python{PYTHON}", cwd=project)
            install = timed(
                session, "poetry", "install", "--no-interaction", cwd=project
            )
            repro = timed(session, "poetry", "run", "dvc", "repro", cwd=project)
            # Every stage again, now that the first run has cached the bytecode.
            rerun = timed(session, "poetry", "run", "dvc", "repro", "-f", cwd=project)
            default_nox = timed(session, *NOX, cwd=project)
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
