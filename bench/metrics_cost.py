"""Time the service's metrics per request, in-process.

    python metrics_cost.py

Run by `nox -s bench -- serve` with a rendered project's Python, in the
project's folder after `dvc repro`. Records what the service's middleware and
routes record for one scored row (the request's counter and latency, the row,
its prediction), many times, and prints the microseconds per request as JSON.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

REPEATS = 20_000


def main() -> None:
    package = next(Path("src").iterdir()).name

    def module(name: str) -> Any:
        return importlib.import_module(f"{package}.{name}")

    settings = module("config").Settings()
    params = module("params").load_params(settings.params_file)
    predictor = module("serving.loading").load_predictor(settings, params, None)
    metrics = module("serving.metrics").ServiceMetrics(
        module("serving.api").ROUTES, predictor.task
    )
    metrics.serving(predictor)
    row = pd.read_parquet(settings.test_file).head(1)
    outputs = predictor.outputs(predictor.validate(row, "The row"))
    start = time.perf_counter()
    for _ in range(REPEATS):
        metrics.request("/predict", "POST", 200, 0.002)
        metrics.scored("/predict", predictor, outputs)
    seconds = time.perf_counter() - start
    print(json.dumps({"us_per_request": round(seconds / REPEATS * 1e6, 2)}))


if __name__ == "__main__":
    main()
