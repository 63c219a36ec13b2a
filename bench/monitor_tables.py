"""Write the tables of the drift benchmark into FOLDER.

    python monitor_tables.py FOLDER

Run by `nox -s bench -- monitor` with the session's Python, where the rendered
project is installed with pyarrow. Writes `reference.parquet` (1M rows) and
`current.parquet` (100k rows), 24 numeric and 6 categorical columns, in which
`num_00`, `num_01` (shifted by half a standard deviation), `num_02` (twice the
spread) and `cat_0` (shares reversed) drift and `num_03` shifts trivially (2% of
a standard deviation); and `data.json`, the project's data parameters for them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_ROWS, CURRENT_ROWS = 1_000_000, 100_000
LEVELS = np.array([f"level_{k}" for k in range(5)], dtype=object)
SHARES = np.array([0.4, 0.25, 0.15, 0.12, 0.08])


def table(rng: np.random.Generator, rows: int, shifted: bool) -> pd.DataFrame:
    columns = {}
    for i in range(24):
        values = rng.normal(i, 1 + i % 5, rows)
        if shifted and i in (0, 1):
            values += 0.5 * (1 + i % 5)
        if shifted and i == 2:
            values = i + (values - i) * 2
        if shifted and i == 3:
            values += 0.02 * (1 + i % 5)
        columns[f"num_{i:02d}"] = values
    for i in range(6):
        shares = SHARES[::-1] if shifted and i == 0 else SHARES
        columns[f"cat_{i}"] = LEVELS[rng.choice(len(LEVELS), rows, p=shares)]
    return pd.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    rng = np.random.default_rng(0)
    table(rng, REFERENCE_ROWS, False).to_parquet(folder / "reference.parquet")
    table(rng, CURRENT_ROWS, True).to_parquet(folder / "current.parquet")
    features = {f"num_{i:02d}": {"kind": "numeric"} for i in range(24)}
    features |= {f"cat_{i}": {"kind": "categorical"} for i in range(6)}
    data = {"task": "regression", "target": "label", "features": features}
    (folder / "data.json").write_text(json.dumps(data))


if __name__ == "__main__":
    main()
