"""Exceptions that stop a pipeline stage with a message for a person.

The command-line interface turns every :class:`PipelineError` into a
one-paragraph message and exit code 1, without a traceback.
"""

from __future__ import annotations


class PipelineError(Exception):
    """A problem the user can fix: bad data, bad parameters, missing inputs."""


class DataValidationError(PipelineError):
    """The data does not match the schema the pipeline expects."""


class ConfigError(PipelineError):
    """``params.yaml`` or a setting is missing, misspelt or out of range."""
