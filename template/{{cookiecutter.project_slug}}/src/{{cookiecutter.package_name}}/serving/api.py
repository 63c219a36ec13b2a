"""The prediction service: a FastAPI application, ``<package>.serving.api:app``.

``GET /health`` answers while the process lives, ``GET /ready`` once the model
is loaded, ``GET /metadata`` describes the model and its input, and ``POST
/predict`` scores ``{"rows": [{<feature>: value, ...}, ...]}``. ``POST
/invocations``, ``GET /ping`` and ``GET /version`` speak MLflow's scoring
protocol, so that clients of ``mlflow models serve`` switch by changing a URL;
``GET /metrics`` is for Prometheus. The request model is built from the
feature columns of ``columns.yaml``, so a malformed request gets a 4xx answer
that says what is wrong, never a 5xx. With API keys set, scoring and metadata
need one. Settings (model, limits, keys) come from the environment, like the
pipeline's.
"""

# No `from __future__ import annotations`: FastAPI reads the request model,
# which is built at run time, from the endpoint's annotation.
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Optional

import pandas as pd
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictStr,
    ValidationError,
    create_model,
)

from .. import __version__
from ..config import Settings
from ..errors import PipelineError
from ..modeling.predictor import Predictor
from ..params import DataParams, FeatureSpec, Params, load_params, naive_utc
from ..tracking.signature import data_signature, signature_hash
from ..utils.arrays import FloatArray
from ..utils.log import configure_logging
from .keys import key_check
from .loading import is_registry_uri, load_predictor, load_registered
from .metrics import CONTENT_TYPE, ServiceMetrics
from .middleware import ROWS_KEY, RequestObserver
from .mlflow_protocol import JSON_TYPE, ProtocolError, read_rows

logger = logging.getLogger(__name__)


def feature_type(spec: FeatureSpec) -> Any:
    """A finite number within the bounds, a string (one of the categories
    where they are listed) or a date and time; None allowed if nullable."""
    if spec.categories:
        kind: Any = Literal[tuple(spec.categories)]
    elif spec.kind == "categorical":
        kind = StrictStr
    elif spec.kind == "datetime":
        # ISO 8601 text, e.g. 2024-12-31 or 2024-12-31T23:59:00+01:00
        kind = Annotated[datetime, AfterValidator(within_dates(spec))]
    else:
        kind = Annotated[
            StrictFloat, Field(allow_inf_nan=False, ge=spec.min, le=spec.max)
        ]
    return Optional[kind] if spec.nullable else kind


def within_dates(spec: FeatureSpec) -> Callable[[datetime], datetime]:
    """A check that a date, taken to UTC, lies within the column's bounds."""

    def check(moment: datetime) -> datetime:
        moment = naive_utc(moment)
        if isinstance(spec.min, datetime) and moment < spec.min:
            raise ValueError(f"must be on or after {spec.min.isoformat()}")
        if isinstance(spec.max, datetime) and moment > spec.max:
            raise ValueError(f"must be on or before {spec.max.isoformat()}")
        return moment

    return check


def request_model(data: DataParams, max_rows: int) -> type[BaseModel]:
    """``{"rows": [...]}`` with one field per feature column, nothing else."""
    forbid = ConfigDict(extra="forbid")
    # Column names need not be identifiers: fields are named by position and
    # carry the column name as their alias.
    fields: dict[str, Any] = {
        f"f{i}": (feature_type(spec), Field(alias=name))
        for i, (name, spec) in enumerate(data.features.items())
    }
    row = create_model("Row", __config__=forbid, **fields)
    rows = Field(min_length=1, max_length=max_rows)
    items = list[row]  # type: ignore[valid-type]
    return create_model("PredictRequest", __config__=forbid, rows=(items, rows))


def error_message(error: Mapping[str, Any]) -> str:
    """pydantic's message, with the parser's reason for a body that is not JSON."""
    reason = (error.get("ctx") or {}).get("error")
    return f"{error['msg']}: {reason}" if isinstance(reason, str) else str(error["msg"])


def describe(predictor: Predictor, settings: Settings) -> dict[str, Any]:
    """What ``GET /metadata`` answers: the model, its hash and its input."""
    data = predictor.params.data
    return {
        "package_version": __version__,
        "model": predictor.uri,
        "model_sha256": predictor.digest,
        "task": data.task,
        "classes": data.classes,
        "target": data.target,
        "data_signature": signature_hash(data_signature(data)),
        "features": {name: spec.model_dump() for name, spec in data.features.items()},
        "max_rows": settings.max_rows,
    }


def add_error_handlers(app: FastAPI, metrics: ServiceMetrics) -> None:
    """A malformed request or bad rows get a 4xx that says what is wrong."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        # Where and what only: echoing the input back could hold values (NaN)
        # that JSON cannot carry.
        problems = [
            {"loc": list(error["loc"]), "msg": error_message(error)}
            for error in exc.errors()
        ]
        metrics.failed(first_kind(exc.errors()))
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(PipelineError)
    async def bad_rows(request: Request, exc: PipelineError) -> JSONResponse:
        metrics.failed("rows")
        return JSONResponse({"detail": one_line(exc)}, status_code=422)

    @app.exception_handler(ProtocolError)
    async def unreadable(request: Request, exc: ProtocolError) -> JSONResponse:
        metrics.failed(exc.kind)
        return JSONResponse(exc.body(), status_code=exc.status)


def first_kind(errors: Sequence[Any]) -> str:
    """pydantic's type of the first problem, e.g. ``missing``, ``float_type``."""
    return str(errors[0]["type"]) if errors else "unknown"


def where(loc: Sequence[Any]) -> str:
    """``row 3, column 'age'`` for pydantic's ``("rows", 3, "age")``."""
    parts = [f"row {loc[1]}" if len(loc) > 1 else "rows"]
    parts += [f"column {name!r}" for name in loc[2:3]]
    return ", ".join(parts)


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def add_health_routes(app: FastAPI, state: dict[str, Any], guard: list[Any]) -> None:
    """``/health`` (the process lives), ``/ready`` (the model is loaded),
    ``/metadata``, and MLflow's ``/ping`` and ``/version``."""

    @app.get("/health")
    def health() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"description": "The model is not loaded"}})
    def ready() -> JSONResponse:
        """The model is loaded and requests can be scored."""
        if "predictor" not in state:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metadata", dependencies=guard)
    def metadata() -> dict[str, Any]:
        """Model hash, task, classes, feature schema and package version."""
        return dict(state["metadata"])

    @app.get("/ping", responses={503: {"description": "The model is not loaded"}})
    def ping() -> PlainTextResponse:
        """MLflow's readiness probe: 200 once the model is loaded."""
        return PlainTextResponse("\n", status_code=200 if "predictor" in state else 503)

    @app.get("/version")
    def version() -> PlainTextResponse:
        """The version of MLflow whose scoring protocol is spoken."""
        return PlainTextResponse(importlib.metadata.version("mlflow"))


class Scorer:
    """Scores validated rows with the loaded predictor and counts them."""

    def __init__(
        self, state: dict[str, Any], params: Params, metrics: ServiceMetrics
    ) -> None:
        self.state = state
        self.features = list(params.data.features)
        self.metrics = metrics

    @property
    def predictor(self) -> Predictor:
        predictor: Predictor = self.state["predictor"]
        return predictor

    def outputs(self, request: Request, validated: BaseModel) -> FloatArray:
        records = validated.model_dump(by_alias=True)["rows"]
        rows = pd.DataFrame(
            {name: [row[name] for row in records] for name in self.features}
        )
        outputs = self.predictor.outputs(rows)
        self.metrics.scored(request.url.path, self.predictor, outputs)
        setattr(request.state, ROWS_KEY, len(records))
        return outputs


def add_predict_route(
    app: FastAPI, scorer: Scorer, model: type[BaseModel], guard: list[Any]
) -> None:
    """``POST /predict``, its request model built from the project's features."""
    PredictRequest = model

    @app.post(
        "/predict",
        dependencies=guard,
        responses={
            401: {"description": "An API key is required"},
            413: {"description": "The body is too large"},
        },
    )
    def predict(
        request: Request, body: PredictRequest  # type: ignore[valid-type]
    ) -> JSONResponse:
        """One prediction per row, in order; probabilities for classification."""
        outputs = scorer.outputs(request, body)
        return JSONResponse({"predictions": scorer.predictor.records(outputs)})


def add_invocations_route(
    app: FastAPI,
    scorer: Scorer,
    model: type[BaseModel],
    params: Params,
    guard: list[Any],
) -> None:
    """``POST /invocations``: MLflow's scoring protocol, in JSON or CSV, with
    the same request model, limits and numbers as ``/predict``."""
    text_columns = params.data.categorical + params.data.dates

    def score(request: Request, body: bytes, content_type: str) -> JSONResponse:
        rows = read_rows(body, content_type, text_columns)
        try:
            validated = model.model_validate({"rows": rows})
        except ValidationError as exc:
            problems = "; ".join(
                f"{where(error['loc'])}: {error_message(error)}"
                for error in exc.errors()
            )
            raise ProtocolError(problems, first_kind(exc.errors())) from None
        try:
            outputs = scorer.outputs(request, validated)
        except PipelineError as exc:
            raise ProtocolError(one_line(exc), "rows") from None
        table = scorer.predictor.table(outputs, pd.RangeIndex(len(outputs)))
        return JSONResponse({"predictions": table.to_dict("records")})

    @app.post(
        "/invocations",
        dependencies=guard,
        openapi_extra={"requestBody": INVOCATIONS_BODY},
        responses={
            400: {"description": "The body cannot be read or its rows are invalid"},
            401: {"description": "An API key is required"},
            413: {"description": "The body is too large"},
            415: {"description": "The content type is not JSON, CSV or Parquet"},
        },
    )
    async def invocations(request: Request) -> JSONResponse:
        """``{"predictions": [{"prediction": ..., "proba_<class>": ...}]}``,
        the columns of ``predict``, as ``mlflow models serve`` answers."""
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        return await run_in_threadpool(score, request, body, content_type)


INVOCATIONS_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        JSON_TYPE: {
            "schema": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "required": ["columns", "data"],
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": {"type": "array", "items": {"type": "array"}},
                        },
                    },
                    "dataframe_records": {"type": "array", "items": {"type": "object"}},
                    "instances": {"type": "array", "items": {"type": "object"}},
                    "inputs": {"type": "object"},
                },
            }
        }
    },
}


def add_metrics_route(app: FastAPI, metrics: ServiceMetrics, guard: list[Any]) -> None:
    @app.get("/metrics", dependencies=guard)
    def prometheus() -> Response:
        """The service's metrics in Prometheus' text format."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    """The service for the project ``settings`` point at (default: from the
    environment). The model loads once, when the application starts."""
    settings = settings or Settings()
    uri = settings.model_uri
    # A registered model brings the parameters its requests are checked
    # against: it loads here, the project's own model when the app starts.
    registered = load_registered(settings, str(uri)) if is_registry_uri(uri) else None
    params = registered.params if registered else load_params(settings.params_file)
    state: dict[str, Any] = {}
    metrics = ServiceMetrics(ROUTES, params.data.task)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        predictor = registered or load_predictor(settings, params, uri)
        state["predictor"] = predictor
        state["metadata"] = describe(predictor, settings)
        metrics.serving(predictor)
        yield
        state.clear()

    app = FastAPI(
        title="Predictions",
        version=__version__,
        description="Predictions of the trained pipeline for raw rows.",
        lifespan=lifespan,
    )
    keys = settings.api_key_list
    guard = [Depends(key_check(keys))] if keys else []
    model = request_model(params.data, settings.max_rows)
    scorer = Scorer(state, params, metrics)
    add_error_handlers(app, metrics)
    add_health_routes(app, state, guard)
    add_predict_route(app, scorer, model, guard)
    add_invocations_route(app, scorer, model, params, guard)
    add_metrics_route(app, metrics, [] if settings.metrics_public else guard)
    app.add_middleware(
        RequestObserver, max_body_bytes=settings.max_body_bytes, metrics=metrics
    )
    return app


ROUTES = {
    "/health",
    "/ready",
    "/metadata",
    "/ping",
    "/version",
    "/predict",
    "/invocations",
    "/metrics",
}
"""The label values of the request metrics; any other path counts as ``other``."""


@cache
def default_app() -> FastAPI:
    """The service configured by the environment, built on first use (by
    uvicorn, in each worker process), with logging as the settings say."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def __getattr__(name: str) -> Any:
    # `app` is built when first asked for (by uvicorn), not when this module is
    # imported, so that importing it needs no params.yaml.
    if name == "app":
        return default_app()
    raise AttributeError(name)
