"""`nox -s bench -- data`: seconds and peak memory of each pipeline stage on
synthetic tables of 10k, 100k and 1M rows x 30 columns (24 numeric, 6
categorical), and of the whole `dvc repro`, per framework."""

from __future__ import annotations

from pathlib import Path

import nox

from .measure import run_measured, timed
from .projects import (
    PIPELINE_STAGES,
    adopt_synthetic_table,
    installed_project,
    package_of,
    use_project_environments,
)
from .template import FRAMEWORKS

ROWS = (10_000, 100_000, 1_000_000)
SHORT_TRAINING = str(Path(__file__).with_name("short_training.py"))


def run(session: nox.Session) -> None:
    use_project_environments()
    table = []
    for framework in FRAMEWORKS:
        with installed_project(session, framework) as (project, python):
            csv = project / "data" / "external" / "bench.csv"
            cli = [python, "-m", package_of(project)]
            for rows in ROWS:
                size = adopt_synthetic_table(session, project, python, rows, csv)
                if framework == "pytorch":
                    timed(session, python, SHORT_TRAINING, "params.yaml", cwd=project)
                stages = [run_measured(session, [*cli, stage], project)
                          for stage in PIPELINE_STAGES]  # fmt: skip
                whole, _ = run_measured(
                    session, [python, "-m", "dvc", "repro", "--force"], project
                )
                table.append((framework, rows, size, stages, whole))
                session.log(f"{framework} {rows} rows: dvc repro {whole:.1f} s")
    session.log("pipeline on synthetic data, 30 columns (s = seconds, MiB = peak RSS):")
    header = "".join(f"{stage:>17}" for stage in PIPELINE_STAGES)
    session.log(f"  framework    rows  data MiB{header}  dvc repro")
    for framework, rows, size, stages, whole in table:
        cells = "".join(f"{s:7.1f} s {m:5.0f} MiB" for s, m in stages)
        session.log(f"  {framework:<9}{rows:>8}{size:10.0f}{cells}{whole:9.1f} s")
