"""Command-line interface; the pipeline's stages call it as ``python -m <package>``."""

from __future__ import annotations

import json
import logging
import platform
from typing import Annotated, Optional

import typer

from . import __version__
from .config import Settings
from .log import configure_logging

app = typer.Typer(
    help="Pipeline stages and helpers of this project.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
logger = logging.getLogger(__name__)


@app.callback()
def main(
    log_level: Annotated[
        Optional[str],
        typer.Option(help="DEBUG, INFO, WARNING or ERROR (default from settings)."),
    ] = None,
) -> None:
    """Configure logging before any command runs."""
    configure_logging(log_level or Settings().log_level)


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
