"""The model a command serves: the project's files, another model file, or a
registered MLflow model (``models:/<name>@champion``, ``runs:/<id>/model``),
which brings its own parameters, transform and model."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..modeling.predictor import Predictor
from ..params import Params, load_params
from ..tracking.store import downloaded_model

REGISTRY_SCHEMES = ("models:/", "runs:/")


def is_registry_uri(uri: str | None) -> bool:
    """``models:/...``, ``runs:/...`` or another MLflow model URI, not a file."""
    return uri is not None and (uri.startswith(REGISTRY_SCHEMES) or "://" in uri)


def model_path(settings: Settings, uri: str | None) -> Path:
    """The model file ``uri`` names; the pipeline's model when it is None."""
    if uri is None:
        return settings.model_file
    path = Path(uri).expanduser()
    return path if path.is_absolute() else settings.project_root / path


def serving_params(settings: Settings, uri: str | None) -> Params:
    """The parameters the model ``uri`` was trained with: those bundled with an
    MLflow model, else the project's ``params.yaml``."""
    if is_registry_uri(uri):
        return load_params(downloaded_model(settings, str(uri))["params"])
    return load_params(settings.params_file)


def load_predictor(
    settings: Settings, params: Params, uri: str | None = None
) -> Predictor:
    """The predictor of the model ``uri`` names (default: the project's).

    An MLflow model URI brings its own parameters, transform and model, which
    replace the project's.
    """
    if not is_registry_uri(uri):
        return Predictor.from_project(settings, params, model_path(settings, uri))
    files = downloaded_model(settings, str(uri))
    predictor = Predictor.from_files(
        files["params"], files["transform"], files["model"]
    )
    predictor.uri = str(uri)
    return predictor
