"""The model a command serves: the project's files, another model file, or a
registered MLflow model (``models:/<name>@champion``, ``runs:/<id>/model``),
which brings its own parameters, transform and model."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..modeling.predictor import Predictor
from ..params import Params

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


def load_registered(settings: Settings, uri: str) -> Predictor:
    """The predictor of the MLflow model ``uri``, with the parameters it was
    trained with. The download is removed once the model is in memory."""
    # Imported here: MLflow is needed only for a model of the registry.
    from ..tracking.store import downloaded_model

    with downloaded_model(settings, uri) as files:
        predictor = Predictor.from_files(
            files["params"], files["transform"], files["model"]
        )
    predictor.uri = uri
    return predictor


def load_predictor(
    settings: Settings, params: Params, uri: str | None = None
) -> Predictor:
    """The predictor of the model ``uri`` names (default: the project's).

    An MLflow model URI brings its own parameters, transform and model, which
    replace the project's.
    """
    if is_registry_uri(uri):
        return load_registered(settings, str(uri))
    return Predictor.from_project(settings, params, model_path(settings, uri))
