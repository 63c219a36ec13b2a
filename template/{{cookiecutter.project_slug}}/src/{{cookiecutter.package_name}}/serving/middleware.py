"""What happens around every request: a request id, the body limit, one log
line and the request's metrics.

The request id is the client's ``X-Request-ID`` when it is a plain token, else
a new one; it is echoed in the response's ``X-Request-ID`` header and logged.
The log line carries route, status, latency, rows scored and the request id,
as fields of the JSON object with ``LOG_FORMAT=json``. Headers, and so API
keys, are never logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

from .metrics import ServiceMetrics

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ROWS_KEY = "rows_scored"
"""Where a route leaves the number of rows it scored: ``request.state``."""


class BodyTooLarge(Exception):
    """The request body passed the configured limit."""


def request_id(scope: Scope) -> str:
    """The client's request id if it is a plain token, else a new one."""
    given = dict(scope.get("headers", [])).get(REQUEST_ID_HEADER.lower().encode())
    text = given.decode("latin-1") if given else ""
    return text if REQUEST_ID.fullmatch(text) else uuid.uuid4().hex


class RequestObserver:
    """ASGI middleware: request id, 413 for a body over the limit, the log
    line and the request metrics."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, metrics: ServiceMetrics
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        received = 0
        rid = request_id(scope)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise BodyTooLarge
            return message

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                echoed = (REQUEST_ID_HEADER.lower().encode(), rid.encode())
                message["headers"] = [*message.get("headers", []), echoed]
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        try:
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                raise BodyTooLarge
            await self.app(scope, limited_receive, observed_send)
        except BodyTooLarge:
            self.metrics.failed("body_too_large")
            response = JSONResponse(
                {"detail": f"The request body is over {self.max_body_bytes} bytes."},
                status_code=413,
            )
            await response(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - start
            self.metrics.request(scope["path"], scope["method"], status, seconds)
            self.log(scope, rid, status, seconds)

    def log(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        client = (scope.get("client") or ("-", 0))[0]
        rows = scope.get("state", {}).get(ROWS_KEY)
        fields = {
            "client": client,
            "method": scope["method"],
            "route": scope["path"],
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
            "rows": rows,
            "request_id": rid,
        }
        logger.info(
            '%s "%s %s" %d %.1f ms%s [%s]',
            client,
            scope["method"],
            scope["path"],
            status,
            seconds * 1000,
            "" if rows is None else f" {rows} rows",
            rid,
            extra=fields,
        )
