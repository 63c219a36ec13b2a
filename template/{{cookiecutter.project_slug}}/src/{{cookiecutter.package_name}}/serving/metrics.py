"""The service's Prometheus metrics, exposed at ``GET /metrics``.

Requests by route and status, their latency, rows scored, predictions by
class (or a histogram of the predicted values), validation failures by kind
and the model being served. With several uvicorn workers, ``serve`` points
prometheus-client at a folder (``PROMETHEUS_MULTIPROC_DIR``) where each worker
writes its values, and ``/metrics`` adds them up across the workers.
"""

from __future__ import annotations

import os

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ..modeling.predictor import Predictor
from ..utils.arrays import FloatArray

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
# The target's scale is unknown here: steps of 1, 2, 5 per decade, both signs.
DECADES = [m * 10.0**e for e in range(-2, 7) for m in (1, 2, 5)]
VALUE_BUCKETS = tuple(sorted([-d for d in DECADES] + [0.0] + DECADES))
OTHER_ROUTE = "other"
"""The route label of a request that matched no route (bounded cardinality)."""


class ServiceMetrics:
    """The metrics of one application, named ``<package>_...``."""

    def __init__(self, routes: set[str], task: str) -> None:
        self.routes = routes
        self.task = task
        self.registry = CollectorRegistry()
        namespace = __package__.split(".")[0]
        self.requests = Counter(
            "http_requests",
            "HTTP requests by route, method and status code.",
            ["route", "method", "status"],
            namespace=namespace,
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to response, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            namespace=namespace,
            registry=self.registry,
        )
        self.rows = Counter(
            "rows_scored",
            "Rows scored, by route.",
            ["route"],
            namespace=namespace,
            registry=self.registry,
        )
        if task == "classification":
            self.classes = Counter(
                "predictions",
                "Predicted class of each scored row.",
                ["label"],
                namespace=namespace,
                registry=self.registry,
            )
        else:
            self.values = Histogram(
                "prediction_value",
                "Predicted value of each scored row.",
                buckets=VALUE_BUCKETS,
                namespace=namespace,
                registry=self.registry,
            )
        self.failures = Counter(
            "validation_failures",
            "Refused requests, by the kind of the first problem found.",
            ["kind"],
            namespace=namespace,
            registry=self.registry,
        )
        self.model = Gauge(
            "model_info",
            "The model being served: its URI or file, SHA-256 and alias.",
            ["model", "sha256", "alias"],
            multiprocess_mode="max",
            namespace=namespace,
            registry=self.registry,
        )

    def route(self, path: str) -> str:
        """``path`` if it is one of the application's routes, else ``other``."""
        return path if path in self.routes else OTHER_ROUTE

    def request(self, path: str, method: str, status: int, seconds: float) -> None:
        route = self.route(path)
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def scored(self, path: str, predictor: Predictor, outputs: FloatArray) -> None:
        """Count the rows of one scored request and what was predicted."""
        self.rows.labels(self.route(path)).inc(len(outputs))
        if self.task == "regression":
            for value in outputs.tolist():
                self.values.observe(value)
            return
        positions = predictor.positions(outputs)
        counts = np.bincount(positions, minlength=len(predictor.labels))
        for label, count in zip(predictor.labels, counts.tolist()):
            if count:
                self.classes.labels(str(label)).inc(count)

    def failed(self, kind: str) -> None:
        self.failures.labels(kind).inc()

    def serving(self, predictor: Predictor) -> None:
        """Record the loaded model; the alias of ``models:/<name>@<alias>``."""
        alias = predictor.uri.rpartition("@")[2] if "@" in predictor.uri else ""
        self.model.labels(predictor.uri, predictor.digest, alias).set(1)

    def exposition(self) -> bytes:
        """The text format, summed over the workers in multiprocess mode."""
        if not os.environ.get(MULTIPROCESS_DIR):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
