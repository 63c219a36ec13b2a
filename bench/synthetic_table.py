"""Write the synthetic table of the data benchmarks and print its size.

    python synthetic_table.py ROWS PATH   # PATH ends in .csv or .parquet

Run by `nox -s bench -- data` and `-- scale` with a rendered project's Python
(numpy, pandas and pyarrow come with every project). The table has a binary
`label` that depends on mixed numeric and categorical columns, some of them
with missing values: 24 numeric columns `num_00`..`num_23` and 6 categorical
`cat_0`..`cat_5`. It is generated and written `CHUNK_ROWS` rows at a time
(each chunk from its own seed), so no table is ever whole in memory. Prints
the table's size in MiB as pandas holds it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet

CHUNK_ROWS = 250_000


def chunks(rows: int) -> Iterator[pa.Table]:
    for number, start in enumerate(range(0, rows, CHUNK_ROWS)):
        yield synthetic_table(min(CHUNK_ROWS, rows - start), seed=number)


def synthetic_table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng([0, seed])
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
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    parquet = args.path.suffix == ".parquet"
    writer = None
    size = 0
    for chunk in chunks(args.rows):
        if writer is None:
            writer = (
                pyarrow.parquet.ParquetWriter(args.path, chunk.schema)
                if parquet
                else pyarrow.csv.CSVWriter(args.path, chunk.schema)
            )
        writer.write_table(chunk)
        size += chunk.to_pandas().memory_usage(deep=True).sum()
    if writer is not None:
        writer.close()
    print(size / 2**20)


if __name__ == "__main__":
    main()
