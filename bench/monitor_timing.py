"""Time the project's drift tests on the tables of `monitor_tables.py`.

    python monitor_timing.py PACKAGE FOLDER

Run by `nox -s bench -- monitor` with the session's Python, where the rendered
project (import name PACKAGE) is installed. Validates both tables, compares
them and decides each column's verdict with the project's default monitor
parameters, then prints one JSON object: seconds, cpu (seconds of CPU time)
and drifted (the drifted columns).
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("package")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    monitor = importlib.import_module(f"{args.package}.monitoring.monitor")
    statistics = importlib.import_module(f"{args.package}.monitoring.statistics")
    params = importlib.import_module(f"{args.package}.params")
    data_json = (args.folder / "data.json").read_text()
    data = params.DataParams.model_validate_json(data_json)
    settings = params.MonitorParams()
    reference = pd.read_parquet(args.folder / "reference.parquet")
    current = pd.read_parquet(args.folder / "current.parquet")
    start, cpu = time.perf_counter(), time.process_time()
    report = monitor.compare(
        monitor.validated(reference, data, "reference"),
        monitor.validated(current, data, "current"),
        data,
        settings,
    )
    statistics.decide(report.columns, settings)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu": cpu, "drifted": report.drifted}))


if __name__ == "__main__":
    main()
