"""Logging to stdout, configured once by the command-line entry point."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
JSON_FIELDS = ("levelname", "name", "message")
"""Fields of every JSON line, with ``time``; a record's ``extra`` adds more."""
# uvicorn adds its message with terminal colours: not for aggregators.
LEFT_OUT = (*RESERVED_ATTRS, "color_message")


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Send every log record at ``level`` or above to stdout: as text, or
    (``log_format="json"``) as one JSON object per line."""
    name = level.upper()
    numeric_level = logging.getLevelName(name)
    if not isinstance(numeric_level, int):
        raise ValueError(
            f"Unknown log level {name!r}: use DEBUG, INFO, WARNING or ERROR."
        )
    handler = logging.StreamHandler(sys.stdout)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"levelname": "level", "name": "logger"},
                reserved_attrs=LEFT_OUT,
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=numeric_level, handlers=[handler], force=True)
