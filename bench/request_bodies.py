"""Write the request bodies of the serving benchmark into the project's folder.

    python request_bodies.py ROWS

Run by `nox -s bench -- serve` with a rendered project's Python (pandas and
PyYAML come with every project), in the project's folder after `dvc repro`.
Samples ROWS rows of the test split's feature columns and writes the same
records twice: `ours-ROWS.json` for the project's API (`{"rows": [...]}`) and
`mlflow-ROWS.json` for `mlflow models serve` (`{"dataframe_records": [...]}`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import yaml


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int)
    rows = parser.parse_args().rows
    features = list(yaml.safe_load(Path("columns.yaml").read_text(encoding="utf-8")))
    test = pd.read_parquet("data/interim/test.parquet")
    sample = test[features].sample(rows, replace=True, random_state=0)
    records = json.loads(sample.to_json(orient="records"))
    Path(f"ours-{rows}.json").write_text(json.dumps({"rows": records}))
    Path(f"mlflow-{rows}.json").write_text(json.dumps({"dataframe_records": records}))


if __name__ == "__main__":
    main()
