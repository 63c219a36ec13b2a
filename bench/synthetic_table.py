"""Write the synthetic table of the data benchmark and print its size.

    python synthetic_table.py ROWS CSV_PATH

Run by `nox -s bench -- data` with a rendered project's Python (numpy, pandas
and pyarrow come with every project). The table has a binary `label` that
depends on mixed numeric and categorical columns, some of them with missing
values: 24 numeric columns `num_00`..`num_23` and 6 categorical `cat_0`..`cat_5`.
Prints the table's in-memory size in MiB as pandas reads the CSV back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv


def synthetic_table(rows: int) -> pa.Table:
    rng = np.random.default_rng(0)
    columns, score = {}, np.zeros(rows)
    for i in range(24):
        values = rng.normal(i, 1 + i % 5, rows)
        score += (values - i) / (1 + i % 5) * (0.3 if i % 3 == 0 else 0.0)
        if i < 3:
            values[rng.random(rows) < 0.05] = np.nan
        columns[f"num_{i:02d}"] = values
    for i in range(6):
        levels = np.array([f"level_{k}" for k in range(3 + 4 * i)], dtype=object)
        codes = rng.integers(0, len(levels), rows)
        score += np.where(codes % 2 == 0, 0.4, -0.4) if i < 2 else 0.0
        values = levels[codes]
        if i == 0:
            values[rng.random(rows) < 0.05] = None
        columns[f"cat_{i}"] = values
    columns["label"] = (score + rng.logistic(size=rows) > 0).astype(np.int64)
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int)
    parser.add_argument("csv", type=Path)
    args = parser.parse_args()
    pyarrow.csv.write_csv(synthetic_table(args.rows), args.csv)
    print(pd.read_csv(args.csv).memory_usage(deep=True).sum() / 2**20)


if __name__ == "__main__":
    main()
