"""Command-line interface; the pipeline's stages call it as ``python -m <package>``.

Each pipeline stage in ``dvc.yaml`` is one command here, calling one function
of its sub-package: ``data``, ``features``, ``modeling``, ``tracking``,
``serving``, ``monitoring``. A command imports its stage's modules when it
runs, not before: the CLI starts fast, and a stage loads only its own code.

A stage that fails for a reason the user can fix (bad data, bad parameters,
missing inputs) prints one paragraph naming the problem and exits with code
1, without a traceback, leaving the outputs of earlier runs as they were.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from . import __version__
from .config import ENV_PREFIX, Settings
from .errors import ConfigError, PipelineError
from .params import Params, load_params
from .utils.log import configure_logging

app = typer.Typer(
    help="Pipeline stages and helpers of this project.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
logger = logging.getLogger(__name__)

DRIFT_EXIT_CODE = 3
"""Exit code of ``monitor --fail-on-drift`` when drift is found (1 is for errors)."""


@app.callback()
def main(
    log_level: Annotated[
        Optional[str],
        typer.Option(help="DEBUG, INFO, WARNING or ERROR (default from settings)."),
    ] = None,
) -> None:
    """Check the settings and configure logging before any command runs."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = ENV_PREFIX + "_".join(map(str, error["loc"])).upper()
            typer.echo(f"Error: setting {name} {error['msg']}.", err=True)
        raise typer.Exit(code=2) from None
    configure_logging(log_level or settings.log_level, settings.log_format)


def fail(exc: PipelineError) -> typer.Exit:
    """Print ``exc`` as a one-paragraph message on stderr; exit code 1."""
    message = " ".join(str(exc).split())
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code=1)


def run_stage(stage: Callable[[Settings, Params], object]) -> None:
    """Run ``stage`` with the settings and parameters of this project.

    A :class:`PipelineError` becomes a one-paragraph message on stderr and
    exit code 1.
    """
    try:
        settings = Settings()
        stage(settings, load_params(settings.params_file))
    except PipelineError as exc:
        raise fail(exc) from None


@app.command()
def ingest() -> None:
    """Read data.source, keep the described columns, validate: data/raw."""
    from .data.ingest import ingest as stage

    run_stage(stage)


@app.command()
def prepare() -> None:
    """Validate the raw data and split it into data/interim/{train,test}.parquet."""
    from .data.prepare import prepare as stage

    run_stage(stage)


@app.command()
def features() -> None:
    """Fit the feature transform on train: models/transform.json, data/processed."""
    from .features.build import build_features as stage

    run_stage(stage)


@app.command()
def train(
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue from the checkpoint an interrupted run left in "
            "models/checkpoints (refused if params or data changed).",
        ),
    ] = False,
) -> None:
    """Train the model in params.yaml (train section) and save it to models/.

    Under `torchrun --nproc-per-node N -m <package> train`, N processes train
    together (DistributedDataParallel) and rank 0 writes the outputs.
    """
    from .modeling.train import train as stage

    run_stage(partial(stage, resume=resume))


@app.command()
def evaluate() -> None:
    """Score the model on the test split: reports/metrics.json and plots."""
    from .modeling.evaluate import evaluate as stage

    run_stage(stage)


@app.command()
def tune(
    model: Annotated[
        Optional[str],
        typer.Option(help="The model to tune (default: train.model's)."),
    ] = None,
    n_trials: Annotated[
        Optional[int],
        typer.Option(min=1, help="Trials in all (default: tune.n_trials)."),
    ] = None,
    timeout: Annotated[
        Optional[float],
        typer.Option(min=0.001, help="Seconds at most (default: tune.timeout)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Processes sharing the study here."),
    ] = 1,
    join: Annotated[
        bool,
        typer.Option(
            "--join",
            help="Add trials to the study others run (same storage), without "
            "emptying it or writing the outcome.",
        ),
    ] = False,
    worker: Annotated[
        int,
        typer.Option(
            min=0,
            help="This worker's number, distinct per joining process: its "
            "sampler's seed is seed + worker.",
        ),
    ] = 0,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Write the best values into params.yaml."),
    ] = False,
) -> None:
    """Search hyperparameters with Optuna (tune.space): reports/tune."""
    from .experiments.tune import tune as command

    run_stage(
        partial(
            command,
            model=model,
            n_trials=n_trials,
            timeout=timeout,
            workers=workers,
            join=join,
            worker=worker,
            apply=apply,
        )
    )


@app.command()
def report(
    base: Annotated[
        str, typer.Option(help="The git ref to compare the workspace with.")
    ] = "HEAD",
    out: Annotated[
        Optional[Path],
        typer.Option(help="Write the Markdown here (default: print it)."),
    ] = None,
) -> None:
    """Compare params, metrics (with baselines), drift and figures with a git
    ref, as Markdown for a pull request."""
    from .experiments.report import report as command
    from .utils import atomic

    try:
        settings = Settings()
        text = command(settings, load_params(settings.params_file), base)
    except PipelineError as exc:
        raise fail(exc) from None
    if out is None:
        typer.echo(text)
    else:
        atomic.write_text(out, text)
        typer.echo(f"Wrote the report to {out}.")


@app.command()
def monitor(
    current: Annotated[
        Optional[str],
        typer.Argument(
            help="New rows to check, a CSV, Excel (.xlsx) or Parquet file or its "
            "s3:// URL (default: monitor.current in params.yaml, as the "
            "pipeline's stage)."
        ),
    ] = None,
    reference: Annotated[
        Optional[Path],
        typer.Option(help="Rows to compare with (default: the training split)."),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option(
            help="Folder for drift.json and drift.png (default: reports/drift "
            "for the stage, reports/adhoc for a CURRENT file)."
        ),
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option(help="Exit with code 3 when drift is found.")
    ] = False,
) -> None:
    """Compare new rows with the training data: drift.json and drift.png.

    Without CURRENT it is the pipeline's stage (reports/drift); a CURRENT file
    is a run by hand, written to reports/adhoc, which leaves the stage's
    outputs (and `dvc status`) alone.
    """
    from .data.formats import is_remote
    from .data.versioning import check_outside_pipeline

    try:
        settings = Settings()
        params = load_params(settings.params_file)
        # Checked before the monitoring code loads, which takes seconds.
        inputs = {"Current data": current, "Reference data": reference}
        for what, given in inputs.items():
            local = given is not None and not is_remote(str(given))
            if local and not Path(str(given)).is_file():
                raise ConfigError(f"{what} {given} does not exist.")
        stage = current is None and out is None
        out_dir = settings.drift_dir if stage else out or settings.adhoc_dir
        if not stage:
            for name in (settings.drift_report_file, settings.drift_figure_file):
                check_outside_pipeline(settings, out_dir / name.name, "Report")
        current = current or str(settings.project_root / params.monitor.current)

        from .monitoring.monitor import monitor as check
        from .monitoring.report import summary

        report = check(settings, params, current, reference, out_dir)
    except PipelineError as exc:
        raise fail(exc) from None
    typer.echo(summary(report))
    if fail_on_drift and report.drifted:
        raise typer.Exit(code=DRIFT_EXIT_CODE)


@app.command()
def register() -> None:
    """Record the pipeline's run in MLflow and register its model; make it the
    champion if the gate in params.yaml (register section) passes."""
    from .tracking.registry import register as stage

    run_stage(stage)


@app.command("init-data")
def init_data(
    path: Annotated[
        str,
        typer.Argument(
            help="A CSV, Excel (.xlsx) or Parquet file, an s3:// URL of one, or a "
            "bundled sklearn:<name>."
        ),
    ],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    task: Annotated[
        Optional[str],
        typer.Option(help="classification or regression (default: inferred)."),
    ] = None,
    delimiter: Annotated[
        Optional[str],
        typer.Option(
            help="A CSV file's field separator: a character, or comma, semicolon, "
            "tab, pipe (default: detected)."
        ),
    ] = None,
    encoding: Annotated[
        Optional[str],
        typer.Option(
            help="A CSV file's text encoding, e.g. cp1252 (default: UTF-8, with or "
            "without a byte-order mark, or UTF-16 with one)."
        ),
    ] = None,
) -> None:
    """Adopt a data file: infer columns.yaml and the data section of params.yaml
    from it, and the task's plots in dvc.yaml."""
    from .data.formats import is_remote
    from .data.init_data import format_report
    from .data.init_data import init_data as adopt
    from .data.sources import SOURCES
    from .modeling.evaluators import dvc_plots

    try:
        adoption = adopt(
            Settings(),
            path,
            target,
            task,
            dvc_plots,
            delimiter=delimiter,
            encoding=encoding,
        )
    except PipelineError as exc:
        raise fail(exc) from None
    typer.echo(format_report(adoption))
    source = adoption.data.source
    if adoption.copied_from is not None:
        typer.echo(f"Copied {adoption.copied_from} to {source}.")
    if adoption.tracked is not None:
        typer.echo(
            f"DVC tracks {source} ({adoption.tracked.name} beside it; the ingest "
            "stage depends on it): commit that file, params.yaml, columns.yaml "
            "and dvc.yaml; `dvc push` uploads the data."
        )
    elif is_remote(source):
        typer.echo(
            f"The ingest stage depends on {source}: `dvc repro` reruns it when "
            "the object's ETag changes. Commit params.yaml, columns.yaml and "
            "dvc.yaml."
        )
    elif source not in SOURCES:
        typer.echo(
            f"{source} is not versioned: this project is not a DVC repository "
            "(`git init`, `dvc init`, then init-data again)."
        )
    typer.echo(
        "Wrote columns.yaml, the data section of params.yaml and the plots of "
        "dvc.yaml. Check them, then run `dvc repro`."
    )


@app.command()
def info() -> None:
    """Print the resolved settings and the Python in use, as JSON."""
    settings = Settings()
    report = {
        "version": __version__,
        "python": platform.python_version(),
        "settings": json.loads(settings.model_dump_json()),
    }
    typer.echo(json.dumps(report, indent=2))


@app.command()
def predict(
    source: Annotated[
        str,
        typer.Argument(
            help="Raw rows: a CSV, Excel (.xlsx) or Parquet file, or its s3:// URL."
        ),
    ],
    destination: Annotated[
        Path, typer.Argument(help="Where to write them with their predictions.")
    ],
    model: Annotated[
        Optional[str],
        typer.Option(
            help="A model file (default: the pipeline's, in models/) or an MLflow "
            "model URI such as models:/<name>@champion."
        ),
    ] = None,
) -> None:
    """Score a file of raw rows; other columns pass through unchanged.

    DESTINATION must lie outside the files the pipeline reads and writes.
    """
    from .data.versioning import check_outside_pipeline

    try:
        settings = Settings()
        check_outside_pipeline(settings, destination, "Output")
        params = load_params(settings.params_file)

        from .serving.batch import predict_file

        predict_file(settings, params, source, destination, model or settings.model_uri)
    except PipelineError as exc:
        raise fail(exc) from None


@app.command()
def sample(
    rows: Annotated[int, typer.Argument(min=1, help="How many rows.")],
    out: Annotated[
        Optional[Path],
        typer.Option(
            help="A CSV or Parquet file outside the pipeline's files "
            "(default: samples/new_rows.csv), or a .json file: an API request body."
        ),
    ] = None,
) -> None:
    """Write ROWS rows of the test split, without the target, to try `predict`
    and `monitor` on (drawn with the project's seed)."""
    from .data.versioning import check_outside_pipeline

    try:
        settings = Settings()
        destination = out or settings.samples_file
        check_outside_pipeline(settings, destination, "Output")
        params = load_params(settings.params_file)

        from .data.sample import sample as draw

        written = draw(settings, params, rows, destination)
    except PipelineError as exc:
        raise fail(exc) from None
    typer.echo(f"Wrote {rows} row(s) of the test split to {written}.")


@app.command()
def serve() -> None:
    """Run the prediction API with uvicorn; settings from the environment."""
    import os
    import signal
    import tempfile

    import uvicorn

    from .serving.metrics import MULTIPROCESS_DIR

    settings = Settings()
    # uvicorn finishes in-flight requests on SIGTERM, then raises the signal
    # again for the handler it found: a no-op handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    with tempfile.TemporaryDirectory(prefix="metrics-") as metrics_dir:
        if settings.workers > 1:
            # Each worker writes its metrics to files here; /metrics sums them.
            os.environ.setdefault(MULTIPROCESS_DIR, metrics_dir)
        uvicorn.run(
            f"{__package__}.serving.api:app",
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            # The application configures logging, in every worker, and logs
            # one line per request itself.
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=30,
        )
