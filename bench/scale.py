"""`nox -s bench -- scale`: what a larger table costs a scikit-learn project:
seconds and peak memory of the data stages with each engine (pandas, and
Dask on a local cluster of two workers of `DASK_WORKER_MEMORY` each), then of
training and evaluating a model that holds the training matrix in memory
(`hist_gradient_boosting`) and one that learns it a row group at a time
(`sgd`), on synthetic Parquet tables of 30 columns written in chunks. Last,
`LARGE_ROWS` rows, more than four times the memory of the one Dask worker
they are given, through the Dask engine and `sgd` alone.

Peak memory is the largest resident set of one process: the stage's, or
under Dask that of its largest worker (a worker is limited to its share)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nox

from .measure import run_measured, timed
from .projects import (
    adopt_synthetic_table,
    installed_project,
    package_of,
    use_project_environments,
)

ROWS = (1_000_000, 4_000_000)
LARGE_ROWS = 16_000_000
"""About 4.3 GiB in pandas: over 4x one worker of `DASK_WORKER_MEMORY`."""
DATA_STAGES = ("ingest", "prepare", "features")
MODELS = ("hist_gradient_boosting", "sgd")
STREAMING_MODEL = "sgd"
ENGINES = ("pandas", "dask")
DASK_WORKER_MEMORY = "1GiB"


def set_param(project: Path, section: str, key: str, value: str) -> None:
    """Set `section.key` in the project's params.yaml, leaving the rest as is."""
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    start = text.index(f"\n{section}:\n")
    head, tail = text[:start], text[start:]
    tail = re.sub(rf"(?m)^  {key}:[ \t]*[^\s#]*", f"  {key}: {value} ", tail, count=1)
    params.write_text(head + tail, encoding="utf-8")


def run(session: nox.Session) -> None:
    measure(session, ROWS)


def run_large(session: nox.Session) -> None:
    """`nox -s bench -- scale-large`: the `LARGE_ROWS` part alone."""
    measure(session, ())


def measure(session: nox.Session, sizes: tuple[int, ...]) -> None:
    """Both engines and both models at each of `sizes`, then `LARGE_ROWS`."""
    use_project_environments()
    data_rows, model_rows = [], []
    with installed_project(session, "sklearn") as (project, python):
        set_param(project, "dask", "memory_limit", DASK_WORKER_MEMORY)
        table = project / "data" / "external" / "scale.parquet"
        cli = [python, "-m", package_of(project)]

        def data_stages(rows: int, engine: str, size: float) -> None:
            set_param(project, "data", "engine", engine)
            stages = [run_measured(session, [*cli, stage], project)
                      for stage in DATA_STAGES]  # fmt: skip
            data_rows.append((rows, engine, size, stages))
            figures = ", ".join(f"{s:.1f} s {m:.0f} MiB" for s, m in stages)
            session.log(f"{rows} rows, {engine}: {figures}")

        def training(rows: int, model: str) -> None:
            set_param(project, "train", "model", model)
            trained = run_measured(session, [*cli, "train"], project)
            evaluated = run_measured(session, [*cli, "evaluate"], project)
            metrics = json.loads((project / "reports" / "metrics.json").read_text())
            model_rows.append((rows, model, trained, evaluated, metrics))
            session.log(f"{rows} rows, {model}: train {trained[0]:.1f} s")

        def warm_up() -> None:
            """One unmeasured ingest with each engine: the first run after an
            install compiles the project's bytecode and reads the libraries
            from disk, a cost that would fall on whichever engine ran first."""
            for engine in ENGINES:
                set_param(project, "data", "engine", engine)
                timed(session, *cli, "ingest", cwd=project)

        set_param(project, "dask", "workers", "2")
        for rows in sizes:
            size = adopt_synthetic_table(session, project, python, rows, table)
            if rows == sizes[0]:
                warm_up()
            for engine in reversed(ENGINES):  # pandas's outputs stay for training
                data_stages(rows, engine, size)
            for model in MODELS:
                training(rows, model)
        set_param(project, "dask", "workers", "1")
        size = adopt_synthetic_table(session, project, python, LARGE_ROWS, table)
        data_stages(LARGE_ROWS, "dask", size)
        training(LARGE_ROWS, STREAMING_MODEL)
    session.log(
        "data stages (s = seconds, MiB = peak RSS of the largest process; "
        f"dask: 2 workers of {DASK_WORKER_MEMORY}, at {LARGE_ROWS} rows one):"
    )
    header = "".join(f"{stage:>32}" for stage in DATA_STAGES)
    session.log(f"      rows  engine  table MiB{header}     total")
    totals: dict[tuple[int, str], float] = {}
    for rows, engine, size, stages in sorted(data_rows, key=lambda row: row[:2]):
        cells = "".join(
            f"{s:8.1f} s{rows / s / 1e3:7.0f}k rows/s{m:6.0f} MiB" for s, m in stages
        )
        totals[rows, engine] = sum(s for s, _ in stages)
        session.log(
            f"  {rows:>8}  {engine:<6}{size:11.0f}{cells}{totals[rows, engine]:8.1f} s"
        )
    for rows in sizes:
        ratio = totals[rows, "dask"] / totals[rows, "pandas"]
        session.log(f"  {rows} rows: the dask engine takes {ratio:.2f}x pandas's time")
    session.log("training and evaluation (test-split scores):")
    session.log(
        "      rows  model                    train        peak    evaluate"
        "        peak  accuracy  log loss"
    )
    for rows, model, (train_s, train_m), (eval_s, eval_m), metrics in model_rows:
        session.log(
            f"  {rows:>8}  {model:<22}{train_s:7.1f} s{train_m:8.0f} MiB"
            f"{eval_s:8.1f} s{eval_m:8.0f} MiB{metrics['accuracy']:10.4f}"
            f"{metrics['log_loss']:10.4f}"
        )
