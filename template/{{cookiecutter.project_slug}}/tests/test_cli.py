{%- set model_file = "model.pt" if cookiecutter.ml_framework == "pytorch" else "model.pkl" -%}
"""The command-line interface: stages run, and bad input fails cleanly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import update_params
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.data.versioning import with_source_dep
from {{ cookiecutter.package_name }}.params import load_params

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def digests(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
    }


@pytest.fixture
def prepared(project: Path) -> Path:
    """The project after ``ingest`` and ``prepare`` on the default data."""
    for stage in ("ingest", "prepare"):
        code, output = invoke(stage)
        assert code == 0, output
    return project


def test_info_prints_settings(project: Path) -> None:
    code, output = invoke("info")
    assert code == 0
    assert json.loads(output)["settings"]["project_root"] == str(project)


def test_prepare_writes_a_stratified_split(prepared: Path) -> None:
    train = pd.read_parquet(prepared / "data" / "interim" / "train.parquet")
    test = pd.read_parquet(prepared / "data" / "interim" / "test.parquet")
    assert len(train) + len(test) == 569
    assert abs(len(test) - 0.2 * 569) <= 1
    assert abs(test["target"].mean() - train["target"].mean()) < 0.01


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (
            lambda f: f.assign(**{"mean radius": f["mean radius"].mask(f.index == 3)}),
            ["'mean radius' has 1 missing value(s) at row(s) 4"],
        ),
        (lambda f: f.drop(columns=["worst area"]), ["missing column(s) 'worst area'"]),
        (
            lambda f: f.assign(**{"mean area": -f["mean area"]}),
            ["'mean area' has 569 value(s) below the minimum 0.0"],
        ),
        (
            lambda f: f.assign(target=f["target"] + 5),
            ["'target' has 569 label(s) outside the classes [0, 1]"],
        ),
        (
            lambda f: f.assign(**{"mean area": "large"}),
            ["'mean area' has 569 value(s) that are not numbers, e.g. 'large'"],
        ),
        (lambda f: f.iloc[0:0], ["empty"]),
    ],
    ids=["nan", "missing-column", "negative", "unknown-class", "text", "empty"],
)
def test_bad_raw_data_fails_cleanly_and_keeps_outputs(
    prepared: Path, corrupt: object, expected: list[str]
) -> None:
    raw = prepared / "data" / "raw" / "dataset.parquet"
    interim = prepared / "data" / "interim"
    before = digests(interim)
    corrupt_frame = corrupt(pd.read_parquet(raw))  # type: ignore[operator]
    corrupt_frame.to_parquet(raw, index=False)

    code, output = invoke("prepare")

    assert code == 1
    assert "Traceback" not in output
    error = output.strip().splitlines()[-1]
    assert error.startswith("Error: ")
    for fragment in expected:
        assert fragment in error
    assert digests(interim) == before
    assert not [p for p in interim.iterdir() if p.name.startswith(".")]


def test_bad_csv_source_fails_at_ingest(project: Path) -> None:
    code, output = invoke("ingest")
    assert code == 0, output
    raw = project / "data" / "raw" / "dataset.parquet"
    before = raw.read_bytes()
    frame = pd.read_parquet(raw)
    frame.loc[10, "mean texture"] = np.nan
    frame.to_csv(project / "data" / "external" / "mine.csv", index=False)
    update_params(project, "data", "source", "data/external/mine.csv")
    pipeline = project / "dvc.yaml"
    pipeline.write_text(with_source_dep(pipeline.read_text(), present=True))

    code, output = invoke("ingest")

    assert code == 1
    assert "'mean texture'" in output and "Traceback" not in output
    assert raw.read_bytes() == before


def test_a_file_source_ingest_does_not_depend_on_is_refused(project: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0], "target": [0, 1]}).to_csv(
        project / "data" / "external" / "mine.csv", index=False
    )
    update_params(project, "data", "source", "data/external/mine.csv")
    code, output = invoke("ingest")
    assert code == 1
    message = " ".join(output.split())
    assert "the ingest stage in dvc.yaml does not depend on it" in message
    assert "init-data data/external/mine.csv --target target" in message
    assert not (project / "data" / "raw" / "dataset.parquet").exists()


def test_sample_writes_seeded_rows_of_the_test_split_without_the_target(
    prepared: Path,
) -> None:
    test = pd.read_parquet(prepared / "data" / "interim" / "test.parquet")
    features = test.drop(columns="target")
    written = prepared / "samples" / "new_rows.csv"
    code, output = invoke("sample", "25")
    assert code == 0, output
    first = written.read_bytes()
    rows = pd.read_csv(written)
    assert list(rows.columns) == list(features.columns)
    assert len(rows) == 25
    exact = prepared / "samples" / "rows.parquet"
    assert invoke("sample", "25", "--out", str(exact))[0] == 0
    chosen = pd.read_parquet(exact)
    pd.testing.assert_frame_equal(chosen, rows)
    # Distinct rows of the test split, in the split's order.
    positions = [
        (features == list(row)).all(axis=1).to_numpy().nonzero()[0][0]
        for row in chosen.itertuples(index=False)
    ]
    assert positions == sorted(set(positions))
    assert invoke("sample", "25")[0] == 0
    assert written.read_bytes() == first
    update_params(prepared, "", "seed", 7)
    assert invoke("sample", "25")[0] == 0
    assert written.read_bytes() != first


def test_sample_to_json_is_a_request_the_api_accepts(prepared: Path) -> None:
    from {{ cookiecutter.package_name }}.serving.api import request_model

    code, output = invoke("sample", "3", "--out", "samples/request.json")
    assert code == 0, output
    body = json.loads((prepared / "samples" / "request.json").read_text())
    params = load_params(prepared / "params.yaml")
    assert [list(row) for row in body["rows"]] == [list(params.data.features)] * 3
    request_model(params.data, max_rows=3).model_validate(body)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("1000",), "rows: ask for at most"),
        (("5", "--out", "data/interim/test.parquet"), "written by the pipeline"),
        (("5", "--out", "samples/rows.txt"), "must end in .csv, .parquet or .json"),
    ],
    ids=["too-many", "pipeline-output", "unknown-format"],
)
def test_sample_refuses_what_it_cannot_write_and_writes_nothing(
    prepared: Path, args: tuple[str, ...], message: str
) -> None:
    before = digests(prepared / "data" / "interim")
    code, output = invoke("sample", *args)
    assert code == 1
    assert message in " ".join(output.split())
    assert not (prepared / "samples").exists()
    assert digests(prepared / "data" / "interim") == before


def test_predict_refuses_to_write_onto_a_pipeline_file(prepared: Path) -> None:
    test = prepared / "data" / "interim" / "test.parquet"
    before = test.read_bytes()
    code, output = invoke("predict", str(test), str(test))
    assert code == 1
    message = " ".join(output.split())
    assert "test.parquet is read or written by the pipeline" in message
    assert test.read_bytes() == before


def test_unknown_model_is_reported(project: Path) -> None:
    update_params(project, "train", "model", "transformer")
    code, output = invoke("train")
    assert code == 1
    assert "Unknown model 'transformer'" in output


def test_a_model_that_does_not_fit_the_task_stops_train_before_it_trains(
    prepared: Path,
) -> None:
    code, output = invoke("features")
    assert code == 0, output
    update_params(prepared, "evaluate", "evaluator", "regression")
    code, output = invoke("train")
    assert code == 1
    assert "cannot score a classification task" in output
    assert not (prepared / "models" / "{{ model_file }}").exists()


def test_missing_inputs_are_reported(project: Path) -> None:
    code, output = invoke("prepare")
    assert code == 1
    assert "does not exist" in output
