"""Time Evidently's data-drift report on the tables of `monitor_tables.py`.

    python evidently_timing.py FOLDER

Run by `nox -s bench -- monitor` with the Python of an environment of its own
that has Evidently 0.7, pandas and pyarrow. Prints one JSON object: seconds,
cpu (seconds of CPU time) and drifted (the columns Evidently flags, sorted).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def flagged(metric: dict[str, Any]) -> bool:
    """Whether a column's drift metric passes its threshold: p-value methods
    flag below the threshold, distances at or above it."""
    config, value = metric["config"], metric["value"]
    if "p_value" in config["method"]:
        return value < config["threshold"]
    return value >= config["threshold"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    start, cpu = time.perf_counter(), time.process_time()
    definition = DataDefinition(
        numerical_columns=[c for c in reference.columns if c.startswith("num_")],
        categorical_columns=[c for c in reference.columns if c.startswith("cat_")],
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    drifted = [
        metric["config"]["column"]
        for metric in result["metrics"]
        if metric.get("metric_name", "").startswith("ValueDrift(")
        and metric["config"]["threshold"] is not None
        and flagged(metric)
    ]
    print(json.dumps({"seconds": seconds, "cpu": cpu, "drifted": sorted(drifted)}))


if __name__ == "__main__":
    main()
