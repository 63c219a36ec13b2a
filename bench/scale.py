"""`nox -s bench -- scale`: what a larger table costs a scikit-learn project:
seconds and peak memory of the data stages, then of training and evaluating
a model that holds the training matrix in memory (`hist_gradient_boosting`)
and one that learns it a row group at a time (`sgd`), on synthetic Parquet
tables of 30 columns written in chunks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nox

from .measure import printed, run_measured, timed
from .projects import installed_project, package_of, use_project_environments

ROWS = (1_000_000, 4_000_000)
DATA_STAGES = ("ingest", "prepare", "features")
MODELS = ("hist_gradient_boosting", "sgd")
SYNTHETIC_TABLE = str(Path(__file__).with_name("synthetic_table.py"))


def use_model(project: Path, model: str) -> None:
    """Set `train.model` in the project's params.yaml, leaving the rest as is."""
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    train = text.index("\ntrain:\n")
    head, tail = text[:train], text[train:]
    tail = re.sub(r"(?m)^  model: \S+", f"  model: {model}", tail, count=1)
    params.write_text(head + tail, encoding="utf-8")


def run(session: nox.Session) -> None:
    use_project_environments()
    data_rows, model_rows = [], []
    with installed_project(session, "sklearn") as (project, python):
        table = project / "data" / "external" / "scale.parquet"
        cli = [python, "-m", package_of(project)]
        for rows in ROWS:
            size = float(printed(session, python, SYNTHETIC_TABLE, str(rows),
                                 str(table), cwd=project))  # fmt: skip
            timed(session, *cli, "init-data", str(table), "--target", "label",
                  cwd=project)  # fmt: skip
            stages = [run_measured(session, [*cli, stage], project)
                      for stage in DATA_STAGES]  # fmt: skip
            data_rows.append((rows, size, stages))
            for model in MODELS:
                use_model(project, model)
                trained = run_measured(session, [*cli, "train"], project)
                evaluated = run_measured(session, [*cli, "evaluate"], project)
                metrics = json.loads((project / "reports" / "metrics.json").read_text())
                model_rows.append((rows, model, trained, evaluated, metrics))
                session.log(f"{rows} rows, {model}: train {trained[0]:.1f} s")
    session.log("data stages, pandas engine (s = seconds, MiB = peak RSS):")
    header = "".join(f"{stage:>20}" for stage in DATA_STAGES)
    session.log(f"      rows  table MiB{header}")
    for rows, size, stages in data_rows:
        cells = "".join(f"{s:9.1f} s {m:6.0f} MiB" for s, m in stages)
        session.log(f"  {rows:>8}{size:11.0f}{cells}")
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
