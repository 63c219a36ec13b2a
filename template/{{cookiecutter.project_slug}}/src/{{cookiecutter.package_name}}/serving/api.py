"""The prediction service: a FastAPI application, ``<package>.serving.api:app``.

``GET /health`` answers while the process lives, ``GET /ready`` once the model
is loaded, ``GET /metadata`` describes the model and its input, and ``POST
/predict`` scores ``{"rows": [{<feature>: value, ...}, ...]}``. The request
model is built from the feature columns of ``columns.yaml``, so a
malformed request gets a 4xx answer that says what is wrong, never a 5xx.
Settings (model, limits) come from the environment, like the pipeline's.
"""

# No `from __future__ import annotations`: FastAPI reads the request model,
# which is built at run time, from the endpoint's annotation.
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, Optional

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictStr,
    create_model,
)

from .. import __version__
from ..config import Settings
from ..errors import PipelineError
from ..modeling.predictor import Predictor
from ..params import DataParams, FeatureSpec, Params, load_params, naive_utc
from ..tracking.signature import data_signature, signature_hash
from .loading import is_registry_uri, load_predictor, load_registered

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


def error_message(error: dict[str, Any]) -> str:
    """pydantic's message, with the parser's reason for a body that is not JSON."""
    reason = (error.get("ctx") or {}).get("error")
    return f"{error['msg']}: {reason}" if isinstance(reason, str) else str(error["msg"])


class BodyTooLarge(Exception):
    """The request body passed the configured limit."""


class RequestLogAndLimit:
    """ASGI middleware: one log line per request; 413 for a body over the limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise BodyTooLarge
            return message

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        try:
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                raise BodyTooLarge
            await self.app(scope, limited_receive, logged_send)
        except BodyTooLarge:
            response = JSONResponse(
                {"detail": f"The request body is over {self.max_body_bytes} bytes."},
                status_code=413,
            )
            await response(scope, receive, logged_send)
        finally:
            client = scope.get("client") or ("-", 0)
            logger.info(
                '%s "%s %s" %d %.1f ms',
                client[0],
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - start) * 1000,
            )


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


def add_error_handlers(app: FastAPI) -> None:
    """A malformed request or bad rows get a 422 that says what is wrong."""

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
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(PipelineError)
    async def bad_rows(request: Request, exc: PipelineError) -> JSONResponse:
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=422)


def add_health_routes(app: FastAPI, state: dict[str, Any]) -> None:
    """``/health`` (the process lives), ``/ready`` (the model is loaded) and
    ``/metadata``."""

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

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """Model hash, task, classes, feature schema and package version."""
        return dict(state["metadata"])


def add_predict_route(
    app: FastAPI, state: dict[str, Any], params: Params, max_rows: int
) -> None:
    """``POST /predict``, its request model built from ``params``' features."""
    PredictRequest = request_model(params.data, max_rows)

    @app.post("/predict", responses={413: {"description": "The body is too large"}})
    def predict(request: PredictRequest) -> JSONResponse:  # type: ignore[valid-type]
        """One prediction per row, in order; probabilities for classification."""
        dumped = request.model_dump(by_alias=True)  # type: ignore[attr-defined]
        records = dumped["rows"]
        rows = pd.DataFrame(
            {name: [row[name] for row in records] for name in params.data.features}
        )
        predictor: Predictor = state["predictor"]
        return JSONResponse({"predictions": predictor.records(rows, checked=True)})


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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        predictor = registered or load_predictor(settings, params, uri)
        state["predictor"] = predictor
        state["metadata"] = describe(predictor, settings)
        yield
        state.clear()

    app = FastAPI(
        title="Predictions",
        version=__version__,
        description="Predictions of the trained pipeline for raw rows.",
        lifespan=lifespan,
    )
    add_error_handlers(app)
    add_health_routes(app, state)
    add_predict_route(app, state, params, settings.max_rows)
    app.add_middleware(RequestLogAndLimit, max_body_bytes=settings.max_body_bytes)
    return app


@cache
def default_app() -> FastAPI:
    """The service configured by the environment, built on first use."""
    return create_app()


def __getattr__(name: str) -> Any:
    # `app` is built when first asked for (by uvicorn), not when this module is
    # imported, so that importing it needs no params.yaml.
    if name == "app":
        return default_app()
    raise AttributeError(name)
