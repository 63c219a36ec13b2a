"""`nox -s bench -- stages`: how long the default project's pipeline takes with
tracking on, whole and stage by stage, per framework.

Each framework's default project is installed (its main group, by Poetry), its
bytecode compiled and the project committed to git; one `dvc repro` warms it
up. Then, three times over, `dvc repro -f` runs, and each stage's own command
alone (`python -m <package> <stage>`); the table gives their medians.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import nox

from .measure import run_measured, timed
from .projects import (
    PIPELINE_STAGES,
    installed_project,
    package_of,
    use_project_environments,
)
from .template import FRAMEWORKS

RUNS = 3
TARGET_SECONDS = 12


def compile_bytecode(session: nox.Session, project: Path, python: str) -> None:
    """Compile the environment's and the project's modules ahead of the runs."""
    site_packages = next((project / ".venv" / "lib").glob("python*/site-packages"))
    timed(session, python, "-m", "compileall", "-q", "-j", "0",
          str(site_packages), "src", cwd=project)  # fmt: skip


def median_seconds(session: nox.Session, project: Path, python: str) -> tuple:
    """(median seconds of `dvc repro -f`, median seconds of each stage alone).

    Each run times the whole pipeline, then every stage, so that a busy machine
    slows both alike.
    """
    repro = [python, "-m", "dvc", "repro", "-f"]
    cli = [python, "-m", package_of(project)]
    whole: list[float] = []
    stages: list[list[float]] = [[] for _ in PIPELINE_STAGES]
    for _ in range(RUNS):
        whole.append(run_measured(session, repro, project)[0])
        for times, stage in zip(stages, PIPELINE_STAGES):
            times.append(run_measured(session, [*cli, stage], project)[0])
    return statistics.median(whole), [statistics.median(t) for t in stages]


def run(session: nox.Session) -> None:
    use_project_environments()
    table = []
    for framework in FRAMEWORKS:
        with installed_project(session, framework) as (project, python):
            compile_bytecode(session, project, python)
            run_measured(session, [python, "-m", "dvc", "repro"], project)
            whole, stages = median_seconds(session, project, python)
            table.append((framework, whole, stages))
            session.log(f"{framework}: dvc repro -f {whole:.1f} s")
    session.log(
        f"the default project's pipeline with tracking on, seconds, median of {RUNS}:"
    )
    header = "".join(f"{stage:>10}" for stage in PIPELINE_STAGES)
    session.log(f"  framework  dvc repro -f{header}  stages sum")
    for framework, whole, stages in table:
        cells = "".join(f"{seconds:10.2f}" for seconds in stages)
        session.log(f"  {framework:<9}{whole:14.2f}{cells}{sum(stages):12.2f}")
    session.log(f"target: dvc repro -f <= {TARGET_SECONDS} s with tracking on")
