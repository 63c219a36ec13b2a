"""`nox -s bench -- scale`: what a larger table costs a scikit-learn project:
seconds and peak memory of the data stages with each engine (pandas, and
Dask on a local cluster of two workers of `DASK_WORKER_MEMORY` each), then of
training and evaluating a model that holds the training matrix in memory
(`hist_gradient_boosting`) and one that learns it a row group at a time
(`sgd`), on synthetic Parquet tables of 30 columns written in chunks.

Peak memory is the largest resident set of one process: the stage's, or
under Dask that of its largest worker (a worker is limited to its share)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nox

from .measure import run_measured
from .projects import (
    adopt_synthetic_table,
    installed_project,
    package_of,
    use_project_environments,
)

ROWS = (1_000_000, 4_000_000)
DATA_STAGES = ("ingest", "prepare", "features")
MODELS = ("hist_gradient_boosting", "sgd")
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
    use_project_environments()
    data_rows, model_rows = [], []
    with installed_project(session, "sklearn") as (project, python):
        set_param(project, "dask", "workers", "2")
        set_param(project, "dask", "memory_limit", DASK_WORKER_MEMORY)
        table = project / "data" / "external" / "scale.parquet"
        cli = [python, "-m", package_of(project)]
        for rows in ROWS:
            size = adopt_synthetic_table(session, project, python, rows, table)
            for engine in reversed(ENGINES):  # pandas's outputs stay for training
                set_param(project, "data", "engine", engine)
                stages = [run_measured(session, [*cli, stage], project)
                          for stage in DATA_STAGES]  # fmt: skip
                data_rows.append((rows, engine, size, stages))
            for model in MODELS:
                set_param(project, "train", "model", model)
                trained = run_measured(session, [*cli, "train"], project)
                evaluated = run_measured(session, [*cli, "evaluate"], project)
                metrics = json.loads((project / "reports" / "metrics.json").read_text())
                model_rows.append((rows, model, trained, evaluated, metrics))
                session.log(f"{rows} rows, {model}: train {trained[0]:.1f} s")
    session.log(
        "data stages (s = seconds, MiB = peak RSS of the largest process; "
        f"dask: 2 workers of {DASK_WORKER_MEMORY}):"
    )
    header = "".join(f"{stage:>20}" for stage in DATA_STAGES)
    session.log(f"      rows  engine  table MiB{header}")
    for rows, engine, size, stages in sorted(data_rows, key=lambda row: row[:2]):
        cells = "".join(f"{s:9.1f} s {m:6.0f} MiB" for s, m in stages)
        session.log(f"  {rows:>8}  {engine:<6}{size:11.0f}{cells}")
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
