"""Logging to stdout, configured once by the command-line entry point."""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send every log record at ``level`` or above to stdout."""
    name = level.upper()
    numeric_level = logging.getLevelName(name)
    if not isinstance(numeric_level, int):
        raise ValueError(
            f"Unknown log level {name!r}: use DEBUG, INFO, WARNING or ERROR."
        )
    logging.basicConfig(
        level=numeric_level, format=LOG_FORMAT, stream=sys.stdout, force=True
    )
