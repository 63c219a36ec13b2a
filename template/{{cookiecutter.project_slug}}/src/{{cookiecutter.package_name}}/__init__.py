"""A reproducible ML project."""

import os

# MLflow (see tracking/) reports usage unless told not to: this project sends
# nothing anywhere unless its user asks. A tracking server that does not answer
# fails a stage within seconds, not after minutes of retries. Set here, before
# any module imports MLflow; a value already in the environment wins.
for _name, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
