"""Allow ``python -m <package>``: the pipeline stages call the CLI this way."""

from .cli import app

app()
