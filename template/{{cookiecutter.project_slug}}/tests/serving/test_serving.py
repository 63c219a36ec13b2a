"""Serving: batch ``predict`` and the API on a trained pipeline.

For the same rows, the evaluate stage, ``predict``, the API and the MLflow
model (loaded by its registry alias) give identical numbers, bit for bit (JSON
and CSV are compared after parsing). ``predict``
passes other columns through and writes nothing when a row is invalid or the
file lacks a column of the model's signature; a missing input file is named
before any heavy import; a registered model leaves no download behind. Every
malformed request gets a 4xx that says what is wrong; schemathesis, run
in-process against the OpenAPI schema, finds no 5xx.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import schemathesis
import yaml
from conftest import (
    PACKAGE,
    copy_project,
    free_port,
    subprocess_env,
    write_data_set,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from mlflow.tracking import MlflowClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app as cli
from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.data.ingest import ingest
from {{ cookiecutter.package_name }}.data.init_data import init_data
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.features.build import build_features
from {{ cookiecutter.package_name }}.features.targets import encode_targets
from {{ cookiecutter.package_name }}.features.transform import FeatureTransform
from {{ cookiecutter.package_name }}.modeling.evaluate import evaluate
from {{ cookiecutter.package_name }}.modeling.evaluators import build_evaluator
from {{ cookiecutter.package_name }}.modeling.model import load_model
from {{ cookiecutter.package_name }}.modeling.train import train
from {{ cookiecutter.package_name }}.params import (
    DataParams,
    FeatureSpec,
    Params,
    columns_path,
    load_params,
)
from {{ cookiecutter.package_name }}.serving.api import create_app, request_model
from {{ cookiecutter.package_name }}.tracking.registry import register
from {{ cookiecutter.package_name }}.tracking.signature import HASH_TAG
from {{ cookiecutter.package_name }}.tracking.store import using
from {{ cookiecutter.package_name }}.utils.log import configure_logging

# The default data (numeric), categorical columns with missing values and
# string labels, a regression target, and dates written day first.
PROJECTS = ("default", "categorical-with-missing", "regression", "dated")


class Trained:
    """A copy of the project after the whole pipeline ran, in-process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = Settings(project_root=root)
        self.params: Params = load_params(self.settings.params_file)
        self.test = pd.read_parquet(self.settings.test_file)

    @property
    def data(self) -> Any:
        return self.params.data

    @property
    def champion(self) -> str:
        return f"models:/{self.params.registration.name}@champion"

    def feature_rows(self) -> list[dict[str, Any]]:
        """The test split's feature columns as JSON rows (None where missing,
        dates as ISO 8601 text)."""
        features = self.test[list(self.data.features)].astype(object)
        for name in self.data.dates:
            features[name] = self.test[name].dt.strftime("%Y-%m-%dT%H:%M:%S")
        rows: list[dict[str, Any]] = features.where(features.notna(), None).to_dict(
            "records"
        )
        return rows


def list_categories(settings: Settings, source: Path) -> None:
    """List the values of the first categorical column in columns.yaml, as a
    user may: any other value is then refused."""
    path = columns_path(settings.params_file)
    features = yaml.safe_load(path.read_text())
    name = next(n for n, spec in features.items() if spec["kind"] == "categorical")
    values = pd.read_csv(source)[name].dropna().astype(str).unique()
    features[name]["categories"] = sorted(values)
    path.write_text(yaml.safe_dump(features, sort_keys=False))


@pytest.fixture(scope="module", params=PROJECTS)
def trained(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Trained]:
    root = copy_project(tmp_path_factory.mktemp("serving") / "project")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
            patch.delenv(name)
        patch.chdir(root)
        settings = Settings(project_root=root)
        if request.param != "default":
            path, target = write_data_set(request.param, root / "data" / "external")
            init_data(settings, str(path), target, None)
        if request.param == "categorical-with-missing":
            list_categories(settings, path)
        params = load_params(settings.params_file)
        for stage in (ingest, prepare, build_features, train, evaluate, register):
            stage(settings, params)
        patch.setenv(ENV_PREFIX + "PROJECT_ROOT", str(root))
        yield Trained(root)


@pytest.fixture(scope="module")
def client(trained: Trained) -> Iterator[TestClient]:
    with TestClient(create_app(trained.settings)) as test_client:
        yield test_client


def evaluate_outputs(trained: Trained) -> np.ndarray:
    """The model's outputs on the test split, computed from the transform and
    the model themselves, without the prediction path."""
    transform = FeatureTransform.load(trained.settings.transform_file)
    features = transform.transform(trained.test)
    return load_model(trained.settings.model_file).predict(features)


def run_predict(trained: Trained, source: Path, destination: Path, *extra: str) -> Any:
    """``predict`` through the CLI, in-process."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return CliRunner().invoke(
            cli, ["predict", str(source), str(destination), *extra]
        )
    finally:
        # The CLI logs to the runner's stdout, which is closed afterwards.
        root.handlers[:], root.level = handlers, level


def proba_columns(trained: Trained) -> list[str]:
    return [f"proba_{label}" for label in trained.data.labels]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_passes_columns_through_and_adds_one_prediction_per_row(
    trained: Trained, tmp_path: Path, suffix: str
) -> None:
    rows = trained.test.assign(row_id=np.arange(len(trained.test)) + 100)
    source, destination = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    if suffix == ".csv":
        rows.to_csv(source, index=False)
    else:
        rows.to_parquet(source, index=False)
    result = run_predict(trained, source, destination)
    assert result.exit_code == 0, result.output
    written = (
        pd.read_csv(destination) if suffix == ".csv" else pd.read_parquet(destination)
    )
    extra = proba_columns(trained)
    assert list(written.columns) == [*rows.columns, "prediction", *extra]
    assert written["row_id"].tolist() == rows["row_id"].tolist()
    target = trained.data.target
    assert written[target].astype(str).tolist() == rows[target].astype(str).tolist()
    if trained.data.task == "classification":
        labels = {str(label) for label in trained.data.labels}
        assert set(written["prediction"].astype(str)) <= labels
        assert np.allclose(written[extra].sum(axis=1), 1.0)


def test_evaluate_predict_and_api_give_identical_numbers(
    trained: Trained, client: TestClient, tmp_path: Path
) -> None:
    expected = evaluate_outputs(trained)
    source = tmp_path / "test.parquet"
    trained.test.to_parquet(source, index=False)
    for name in ("out.csv", "out.parquet"):
        result = run_predict(trained, source, tmp_path / name)
        assert result.exit_code == 0, result.output
    from_csv = pd.read_csv(tmp_path / "out.csv")
    from_parquet = pd.read_parquet(tmp_path / "out.parquet")
    answer = client.post("/predict", json={"rows": trained.feature_rows()})
    assert answer.status_code == 200, answer.text
    items = answer.json()["predictions"]
    assert len(items) == len(trained.test)
    if trained.data.task == "regression":
        api = np.array([item["prediction"] for item in items])
        columns = ["prediction"]
        assert all("probabilities" not in item for item in items)
    else:
        names = [str(label) for label in trained.data.labels]
        api = np.array([[item["probabilities"][n] for n in names] for item in items])
        columns = proba_columns(trained)
        assert [item["prediction"] for item in items] == from_parquet[
            "prediction"
        ].tolist()
    for table in (from_csv, from_parquet):
        assert np.array_equal(table[columns].to_numpy().squeeze(), expected)
    assert np.array_equal(api, expected)
    # The metrics the evaluate stage wrote follow from these very numbers.
    evaluator = build_evaluator(trained.params)
    targets = encode_targets(trained.test[trained.data.target], trained.data)
    scores = evaluator.metrics(targets, expected)
    written = json.loads(trained.settings.metrics_file.read_text())
    assert {key: written[key] for key in scores} == scores


def test_predict_stops_on_bad_rows_naming_them_and_writes_nothing(
    trained: Trained, tmp_path: Path
) -> None:
    column = trained.data.numeric[0]
    rows = trained.test.head(5).astype({column: object})
    rows.loc[rows.index[2], column] = "not a number"
    source, destination = tmp_path / "bad.csv", tmp_path / "out.csv"
    rows.to_csv(source, index=False)
    result = run_predict(trained, source, destination)
    assert result.exit_code == 1
    assert column in result.output and "not a number" in result.output
    # Reported once, though coercing and checking the type both fail.
    assert result.output.count(f"column {column!r} has") == 1
    assert not destination.exists()
    assert list(tmp_path.iterdir()) == [source]


def row_groups_of(rows: pd.DataFrame, path: Path, size: int) -> Path:
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path, size)
    assert pq.ParquetFile(path).num_row_groups > 2
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_scores_a_parquet_input_a_row_group_at_a_time(
    trained: Trained, tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = trained.test.assign(row_id=np.arange(len(trained.test)))
    whole = tmp_path / "whole.parquet"
    rows.to_parquet(whole, index=False)
    grouped = row_groups_of(rows, tmp_path / "grouped.parquet", 7)
    expected, written = tmp_path / f"expected{suffix}", tmp_path / f"written{suffix}"
    assert run_predict(trained, whole, expected).exit_code == 0

    def read_whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("predict read the whole input at once")

    with monkeypatch.context() as patch:
        patch.setattr(pd, "read_parquet", read_whole)
        result = run_predict(trained, grouped, written)
    assert result.exit_code == 0, result.output
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    # A float32 network may round a last bit differently in a smaller batch.
    pd.testing.assert_frame_equal(read(written), read(expected), rtol=1e-6)
    if suffix == ".parquet":  # one schema, as if written in one piece
        assert pq.read_schema(written) == pq.read_schema(expected)


def test_predict_stops_on_a_bad_row_in_a_later_row_group_and_writes_nothing(
    trained: Trained, tmp_path: Path
) -> None:
    column = trained.data.numeric[0]
    rows = trained.test.astype({column: str}).reset_index(drop=True)
    rows.loc[20, column] = "not a number"
    source = row_groups_of(rows, tmp_path / "bad.parquet", 7)
    destination = tmp_path / "out.csv"
    result = run_predict(trained, source, destination)
    assert result.exit_code == 1
    assert column in result.output and "not a number" in result.output
    assert "at row(s) 21." in result.output  # counted in the file, not its group
    assert list(tmp_path.iterdir()) == [source]


def test_predict_refuses_a_file_without_the_models_columns_and_writes_nothing(
    trained: Trained, tmp_path: Path
) -> None:
    dropped = list(trained.data.features)[0]
    rows = trained.test.head(5).drop(columns=dropped).assign(unknown=1.0)
    source, destination = tmp_path / "rows.csv", tmp_path / "out.csv"
    rows.to_csv(source, index=False)
    result = run_predict(trained, source, destination, "--model", trained.champion)
    assert result.exit_code == 1
    assert f"does not fit the model {trained.champion}" in result.output
    assert f"lacks 1 of the model's column(s) ({dropped!r})" in result.output
    assert "has 1 the model does not know ('unknown')" in result.output
    assert f"{trained.data.task} of {trained.data.target!r}" in result.output
    assert list(tmp_path.iterdir()) == [source]


def test_predict_names_a_missing_input_before_loading_the_model(
    trained: Trained, tmp_path: Path
) -> None:
    # In a fresh process: which modules the command had loaded when it failed.
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from {{ cookiecutter.package_name }}.cli import app\n"
        "result = CliRunner().invoke(app, sys.argv[1:])\n"
        "heavy = {'pandas', 'mlflow', 'sklearn', 'torch'} & set(sys.modules)\n"
        "print(result.exit_code, sorted(heavy), result.output)\n"
    )
    missing = tmp_path / "missing.csv"
    args = ["predict", str(missing), str(tmp_path / "out.csv")]
    for extra in ([], ["--model", trained.champion]):
        done = subprocess.run(
            [sys.executable, "-c", script, *args, *extra],
            cwd=trained.root,
            env=subprocess_env(),
            capture_output=True,
            text=True,
        )
        assert done.stdout.startswith("1 [] "), done.stdout + done.stderr
        assert f"Input file {missing} does not exist." in done.stdout
        assert "earlier stages" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_predict_with_a_registered_model_leaves_no_download_behind(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads = tmp_path / "tmp"
    downloads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(downloads))
    source = tmp_path / "rows.csv"
    trained.test.head(3).to_csv(source, index=False)
    for model in (trained.champion, "models:/absent@champion"):
        run_predict(trained, source, tmp_path / "out.csv", "--model", model)
    assert (tmp_path / "out.csv").is_file()
    assert list(downloads.iterdir()) == []


def test_mlflow_model_and_predict_from_the_registry_give_identical_numbers(
    trained: Trained, tmp_path: Path
) -> None:
    source, destination = tmp_path / "test.parquet", tmp_path / "out.parquet"
    trained.test.to_parquet(source, index=False)
    result = run_predict(trained, source, destination, "--model", trained.champion)
    assert result.exit_code == 0, result.output
    from_registry = pd.read_parquet(destination)
    with using(f"sqlite:///{trained.settings.tracking_store_file}"):
        model = mlflow.pyfunc.load_model(trained.champion)
    # Raw rows exactly as the data has them: the model brings its transform.
    from_pyfunc = model.predict(trained.test[list(trained.data.features)])
    columns = ["prediction", *proba_columns(trained)]
    expected = evaluate_outputs(trained)
    numbers = columns[1:] or columns
    for table in (from_registry, from_pyfunc):
        assert np.array_equal(table[numbers].to_numpy().squeeze(), expected)
    assert from_pyfunc["prediction"].tolist() == from_registry["prediction"].tolist()


def test_predict_names_a_registry_model_it_cannot_find_and_writes_nothing(
    trained: Trained, tmp_path: Path
) -> None:
    source = tmp_path / "rows.csv"
    trained.test.head(3).to_csv(source, index=False)
    result = run_predict(
        trained, source, tmp_path / "out.csv", "--model", "models:/absent@champion"
    )
    assert result.exit_code == 1
    assert "models:/absent@champion" in result.output
    assert list(tmp_path.iterdir()) == [source]


def test_health_ready_and_metadata_describe_the_loaded_model(
    trained: Trained, client: TestClient
) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    metadata = client.get("/metadata").json()
    assert metadata["task"] == trained.data.task
    assert metadata["classes"] == trained.data.classes
    assert list(metadata["features"]) == list(trained.data.features)
    model = trained.settings.model_file.read_bytes()
    assert len(metadata["model_sha256"]) == 64 and model
    assert len(metadata["data_signature"]) == 64


def test_the_api_serves_a_registered_model_with_its_signature(
    trained: Trained,
) -> None:
    settings = trained.settings.model_copy(update={"model_uri": trained.champion})
    client = MlflowClient(f"sqlite:///{trained.settings.tracking_store_file}")
    name = trained.params.registration.name
    champion = client.get_model_version_by_alias(name, "champion")
    with TestClient(create_app(settings)) as served:
        metadata = served.get("/metadata").json()
        assert metadata["model"] == trained.champion
        assert metadata["data_signature"] == champion.tags[HASH_TAG]
        row = trained.feature_rows()[0]
        dropped = list(trained.data.features)[0]
        rows = [{k: v for k, v in row.items() if k != dropped}]
        answer = served.post("/predict", json={"rows": rows})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "rows", 0, dropped]
        assert served.post("/predict", json={"rows": [row]}).status_code == 200


def test_model_files_are_readable_by_the_service_user(trained: Trained) -> None:
    # The Docker image's service runs as its own user, on a mounted models/.
    for path in (trained.settings.model_file, trained.settings.transform_file):
        mode = path.stat().st_mode
        assert mode & 0o044 == 0o044, (path.name, oct(mode))


def test_predictions_come_back_in_request_order(
    trained: Trained, client: TestClient
) -> None:
    rows = trained.feature_rows()[:6]
    forward = client.post("/predict", json={"rows": rows}).json()["predictions"]
    backward = client.post("/predict", json={"rows": rows[::-1]}).json()["predictions"]
    # A network's float rounding may depend on the batch a row comes in.
    assert len(backward) == len(rows)
    for one, other in zip(backward, forward[::-1]):
        if trained.data.task == "regression":
            assert one["prediction"] == pytest.approx(other["prediction"], rel=1e-6)
        else:
            assert one["prediction"] == other["prediction"]
            assert one["probabilities"] == pytest.approx(
                other["probabilities"], rel=1e-6, abs=1e-9
            )


def bad_requests(trained: Trained) -> dict[str, dict[str, Any]]:
    """Each kind of malformed request, as keyword arguments of ``client.post``."""
    row = trained.feature_rows()[0]
    numeric = trained.data.numeric[0]
    required = next(
        name for name, spec in trained.data.features.items() if not spec.nullable
    )
    limit = Settings().max_rows

    def raw(text: str) -> dict[str, Any]:
        return {"content": text, "headers": {"content-type": "application/json"}}

    cases = {
        "not JSON": raw('{"rows": [ '),
        "not an object": {"json": [row]},
        "rows missing": {"json": {}},
        "empty list": {"json": {"rows": []}},
        "too many rows": {"json": {"rows": [row] * (limit + 1)}},
        "missing column": {
            "json": {"rows": [{k: v for k, v in row.items() if k != required}]}
        },
        "extra column": {"json": {"rows": [{**row, "unknown column": 1.0}]}},
        "text for a number": {"json": {"rows": [{**row, numeric: "high"}]}},
        "NaN": raw(json.dumps({"rows": [{**row, numeric: math.nan}]})),
        "Infinity": raw(json.dumps({"rows": [{**row, numeric: -math.inf}]})),
        "null where not nullable": {"json": {"rows": [{**row, required: None}]}},
        "oversized body": raw(" " * (Settings().max_body_bytes + 1)),
    }
    if trained.data.dates:
        date = trained.data.dates[0]
        cases["a date that is no ISO date"] = {
            "json": {"rows": [{**row, date: "31/12/2024"}]}
        }
    if trained.data.categorical:
        category = trained.data.categorical[0]
        cases["number for a category"] = {"json": {"rows": [{**row, category: 3.5}]}}
        if trained.data.features[category].categories:
            unknown = {**row, category: "not a listed category"}
            cases["unknown category"] = {"json": {"rows": [unknown]}}
    return cases


def test_every_malformed_request_gets_a_4xx_that_says_what_is_wrong(
    trained: Trained, client: TestClient
) -> None:
    statuses = {}
    for name, request in bad_requests(trained).items():
        answer = client.post("/predict", **request)
        statuses[name] = answer.status_code
        assert 400 <= answer.status_code < 500, (name, answer.text)
        assert answer.json()["detail"], name
    assert statuses["oversized body"] == 413
    assert statuses["too many rows"] == 422
    listed = [spec.categories for spec in trained.data.features.values()]
    if any(listed):
        assert statuses["unknown category"] == 422
    # The service still answers after all of them.
    assert client.get("/ready").status_code == 200


def test_requests_name_the_column_at_fault(
    trained: Trained, client: TestClient
) -> None:
    numeric = trained.data.numeric[0]
    row = {**trained.feature_rows()[0], numeric: "high"}
    detail = client.post("/predict", json={"rows": [row]}).json()["detail"]
    assert detail == [
        {"loc": ["body", "rows", 0, numeric], "msg": "Input should be a valid number"}
    ]


def test_no_request_the_schema_allows_or_forbids_gets_a_5xx(trained: Trained) -> None:
    """Requests generated from the OpenAPI schema, valid ones and invalid ones,
    sent in-process; seeded and bounded so that runs are repeatable."""
    app: FastAPI = create_app(trained.settings)
    with TestClient(app):  # runs the lifespan: the model loads
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            modes = [GenerationMode.POSITIVE]
            if operation.method.upper() == "POST":
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=40,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                )
                def check(case: Any) -> None:
                    case.call_and_validate(checks=[not_a_server_error])

                check()


DATED = DataParams(
    target="y",
    classes=[0, 1],
    features={"day": FeatureSpec(kind="datetime", min="2024-01-01", max="2024-12-31")},
)


def test_a_request_date_outside_the_bounds_is_refused() -> None:
    model = request_model(DATED, max_rows=5)
    assert model.model_validate({"rows": [{"day": "2024-03-01T10:00:00+02:00"}]})
    with pytest.raises(ValidationError, match="must be on or after 2024-01-01"):
        model.model_validate({"rows": [{"day": "2023-12-31"}]})


def feature_frame(trained: Trained) -> pd.DataFrame:
    """The test split's features as a client sends them (dates as ISO text)."""
    return pd.DataFrame(trained.feature_rows(), columns=list(trained.data.features))


def invocation_bodies(trained: Trained) -> dict[str, dict[str, Any]]:
    """The test split in each of MLflow's formats, as ``client.post`` arguments."""
    rows = trained.feature_rows()
    names = list(trained.data.features)
    columns = {name: [row[name] for row in rows] for name in names}
    split = {"columns": names, "data": [[row[n] for n in names] for row in rows]}
    return {
        "dataframe_split": {"json": {"dataframe_split": split}},
        "dataframe_records": {"json": {"dataframe_records": rows}},
        "instances": {"json": {"instances": rows}},
        "inputs as columns": {"json": {"inputs": columns}},
        "csv": {
            "content": feature_frame(trained).to_csv(index=False),
            "headers": {"content-type": "text/csv; charset=utf-8"},
        },
        "parquet": {
            "content": feature_frame(trained).to_parquet(index=False),
            "headers": {"content-type": "application/vnd.apache.parquet"},
        },
    }


def test_invocations_speak_mlflows_formats_with_the_numbers_of_predict(
    trained: Trained, client: TestClient
) -> None:
    expected = evaluate_outputs(trained)
    columns = ["prediction"]
    if trained.data.task == "classification":
        columns = proba_columns(trained)
    for name, request in invocation_bodies(trained).items():
        answer = client.post("/invocations", **request)
        assert answer.status_code == 200, (name, answer.text)
        table = pd.DataFrame(answer.json()["predictions"])
        assert np.array_equal(table[columns].to_numpy().squeeze(), expected), name


def test_malformed_invocations_get_a_4xx_shaped_as_mlflows(
    trained: Trained, client: TestClient
) -> None:
    row = trained.feature_rows()[0]
    numeric = trained.data.numeric[0]

    def raw(text: str, media_type: str = "application/json") -> dict[str, Any]:
        return {"content": text, "headers": {"content-type": media_type}}

    cases = {
        "not JSON": (raw("{"), 400),
        "a list": ({"json": [row]}, 400),
        "two formats": ({"json": {"instances": [row], "inputs": [row]}}, 400),
        "unknown key": ({"json": {"instances": [row], "rows": [row]}}, 400),
        "params": ({"json": {"instances": [row], "params": {"k": 1}}}, 400),
        "split without data": ({"json": {"dataframe_split": {"columns": []}}}, 400),
        "short split row": (
            {"json": {"dataframe_split": {"columns": list(row), "data": [[1.0]]}}},
            400,
        ),
        "columns of two lengths": (
            {"json": {"inputs": {name: [] for name in row} | {numeric: [1.0]}}},
            400,
        ),
        "no rows": ({"json": {"instances": []}}, 400),
        "text for a number": ({"json": {"instances": [{**row, numeric: "x"}]}}, 400),
        "extra column": ({"json": {"instances": [{**row, "unknown": 1}]}}, 400),
        "too many rows": (
            {"json": {"instances": [row] * (Settings().max_rows + 1)}},
            400,
        ),
        "text in a CSV number": (raw(f"{numeric}\nhigh\n", "text/csv"), 400),
        "CSV that is not UTF-8": (raw("\xff", "text/csv; charset=latin-1"), 415),
        "binary CSV": (
            {"content": b"\xff\xfe\x00", "headers": {"content-type": "text/csv"}},
            400,
        ),
        "not Parquet": (raw("PAR1", "application/vnd.apache.parquet"), 400),
        "plain text": (raw("a", "text/plain"), 415),
        "oversized body": (raw(" " * (Settings().max_body_bytes + 1)), 413),
    }
    for name, (request, status) in cases.items():
        answer = client.post("/invocations", **request)
        assert answer.status_code == status, (name, answer.text)
        body = answer.json()
        if status != 413:
            assert body["error_code"] == "BAD_REQUEST" and body["message"], name
    named = client.post("/invocations", **cases["text for a number"][0]).json()
    assert named["message"] == (
        f"row 0, column {numeric!r}: Input should be a valid number"
    )


def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    """``/metrics`` parsed by prometheus-client's own parser, by sample."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_count_requests_rows_predictions_and_failures(
    trained: Trained,
) -> None:
    rows = trained.feature_rows()[:7]
    prefix = PACKAGE
    with TestClient(create_app(trained.settings)) as fresh:
        for _ in range(3):
            assert fresh.post("/predict", json={"rows": rows}).status_code == 200
        fresh.post("/invocations", json={"instances": rows[:2]})
        fresh.post("/predict", json={"rows": [{}]})
        fresh.post(
            "/invocations", content="{", headers={"content-type": "application/json"}
        )
        fresh.get("/no/such/path")
        samples = scrape(fresh)
        predictions = fresh.post("/predict", json={"rows": rows}).json()["predictions"]
        digest = fresh.get("/metadata").json()["model_sha256"]

    def value(name: str, **labels: str) -> float:
        return samples.get((f"{prefix}_{name}", tuple(sorted(labels.items()))), 0.0)

    predict = {"route": "/predict", "method": "POST"}
    assert value("http_requests_total", status="200", **predict) == 3
    assert value("http_requests_total", status="422", **predict) == 1
    assert value("http_requests_total", route="other", method="GET", status="404") == 1
    assert value("http_request_duration_seconds_count", route="/predict") == 4
    assert value("rows_scored_total", route="/predict") == 3 * len(rows)
    assert value("rows_scored_total", route="/invocations") == 2
    assert value("validation_failures_total", kind="missing") == 1
    assert value("validation_failures_total", kind="json_invalid") == 1
    if trained.data.task == "classification":
        labels = [str(item["prediction"]) for item in predictions * 3 + predictions[:2]]
        counted = {label: value("predictions_total", label=label) for label in labels}
        assert counted == Counter(labels)
    else:
        assert value("prediction_value_count") == 3 * len(rows) + 2
    info = [key for key in samples if key[0] == f"{prefix}_model_info"]
    assert len(info) == 1 and samples[info[0]] == 1
    assert dict(info[0][1])["sha256"] == digest


def test_api_keys_gate_scoring_and_never_reach_the_logs(
    trained: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    keys = ("first-key-" + "a" * 20, "second-key-" + "b" * 20)
    settings = trained.settings.model_copy(
        update={"api_keys": SecretStr(f" {keys[0]} ,{keys[1]}")}
    )
    body = {"rows": trained.feature_rows()[:1]}
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings)) as served:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": keys[0]},
        ):
            answer = served.post("/predict", json=body, headers=headers)
            assert answer.status_code == 401, headers
            assert answer.headers["www-authenticate"] == "Bearer"
        assert (
            served.post("/invocations", json={"instances": body["rows"]}).status_code
            == 401
        )
        assert served.get("/metadata").status_code == 401
        for key in keys:
            auth = {"Authorization": f"Bearer {key}"}
            assert served.post("/predict", json=body, headers=auth).status_code == 200
            assert served.get("/metadata", headers=auth).status_code == 200
        for path in ("/health", "/ready", "/ping", "/version", "/metrics"):
            assert served.get(path).status_code == 200, path
    closed = settings.model_copy(update={"metrics_public": False})
    with TestClient(create_app(closed)) as served:
        assert served.get("/metrics").status_code == 401
        auth = {"Authorization": f"Bearer {keys[1]}"}
        assert served.get("/metrics", headers=auth).status_code == 200
    logged = "\n".join(
        record.getMessage() + repr(record.__dict__) for record in caplog.records
    )
    assert "/predict" in logged
    assert not any(key in logged for key in keys)


def test_a_setting_of_keys_that_names_no_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="names no key"):
        Settings(api_keys=" , ")


def test_json_logs_give_one_object_per_request_with_its_echoed_id(
    trained: Trained, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json")
        with TestClient(create_app(trained.settings)) as served:
            rows = trained.feature_rows()[:3]
            given = served.post(
                "/predict", json={"rows": rows}, headers={"X-Request-ID": "abc-123"}
            )
            fresh = served.post("/invocations", json={"instances": rows[:1]})
            refused = served.post(
                "/predict", json={}, headers={"X-Request-ID": "bad id\twith tabs"}
            )
    finally:
        root.handlers[:], root.level = handlers, level
    assert given.headers["x-request-id"] == "abc-123"
    assert len(fresh.headers["x-request-id"]) == 32
    assert refused.headers["x-request-id"] != "bad id\twith tabs"
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    requests = {line["request_id"]: line for line in lines if "request_id" in line}
    first = requests["abc-123"]
    assert {"time", "level", "logger", "message", "latency_ms"} <= set(first)
    assert (first["route"], first["status"], first["rows"]) == ("/predict", 200, 3)
    second = requests[fresh.headers["x-request-id"]]
    assert (second["route"], second["status"], second["rows"]) == (
        "/invocations",
        200,
        1,
    )
    third = requests[refused.headers["x-request-id"]]
    assert (third["status"], third["rows"]) == (422, None)


# Windows stops a process without its children: one worker there.
WORKERS = 1 if os.name == "nt" else 2


@pytest.fixture(scope="module")
def served(trained: Trained) -> Iterator[str]:
    """``python -m <package> serve`` with its workers on a loopback port."""
    port = free_port()
    env = subprocess_env(
        **{
            ENV_PREFIX + "PROJECT_ROOT": str(trained.root),
            ENV_PREFIX + "WORKERS": str(WORKERS),
            ENV_PREFIX + "LOG_LEVEL": "WARNING",
            "PORT": str(port),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", PACKAGE, "serve"], cwd=trained.root, env=env
    )
    client = ScoringServerClient("127.0.0.1", port)
    try:
        client.wait_server_ready(timeout=120, scoring_server_proc=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_mlflows_client_scores_the_running_service_like_predict(
    trained: Trained, served: str
) -> None:
    host, port = served.removeprefix("http://").split(":")
    client = ScoringServerClient(host, int(port))
    client.ping()
    assert client.get_version() == mlflow.__version__
    answer = client.invoke(feature_frame(trained)).get_predictions()
    expected = evaluate_outputs(trained)
    columns = ["prediction"]
    if trained.data.task == "classification":
        columns = proba_columns(trained)
    assert np.array_equal(answer[columns].to_numpy().squeeze(), expected)


def test_metrics_add_up_over_the_services_workers(
    trained: Trained, served: str
) -> None:
    if WORKERS < 2:
        pytest.skip("The service runs one worker here.")
    rows = json.dumps({"rows": trained.feature_rows()[:2]}).encode()

    def get(path: str) -> str:
        with urllib.request.urlopen(served + path, timeout=30) as answer:
            return str(answer.read().decode())

    def scored() -> float:
        return sum(
            sample.value
            for family in text_string_to_metric_families(get("/metrics"))
            for sample in family.samples
            if sample.name == f"{PACKAGE}_rows_scored_total"
            and sample.labels["route"] == "/predict"
        )

    before = scored()
    for _ in range(20):  # new connections: uvicorn's workers share them out
        request = urllib.request.Request(
            served + "/predict", rows, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
    assert scored() - before == 40


def test_a_prometheus_server_scrapes_the_service(
    trained: Trained, served: str, tmp_path: Path
) -> None:
    """Opt-in: runs where a `prometheus` binary is on PATH (Debian's package)."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("No prometheus binary here (apt-get install prometheus).")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    target = served.removeprefix("http://")
    scrape = {"job_name": "service", "static_configs": [{"targets": [target]}]}
    config.write_text(
        yaml.safe_dump(
            {"global": {"scrape_interval": "1s"}, "scrape_configs": [scrape]}
        )
    )
    rows = json.dumps({"rows": trained.feature_rows()[:3]}).encode()
    for _ in range(5):
        request = urllib.request.Request(
            served + "/predict", rows, {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=30).close()
    process = subprocess.Popen(
        [prometheus, f"--config.file={config}",
         f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'data'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    query = "sum(" + PACKAGE + '_rows_scored_total{route="/predict"})'
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": query}
    )
    try:
        deadline = time.monotonic() + 60
        value = None
        while time.monotonic() < deadline and not value:
            time.sleep(1)
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    result = json.loads(answer.read())["data"]["result"]
            except OSError:
                continue
            value = float(result[0]["value"][1]) if result else None
    finally:
        process.terminate()
        process.wait(timeout=30)
    # Earlier tests of this module scored through the same service too.
    assert value is not None and value >= 15
