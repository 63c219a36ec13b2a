"""The Dask engine (``data.engine: dask``): ingest, prepare and features run
on a real cluster, a ``dask scheduler`` and a ``dask worker`` on loopback, and
write the very files the pandas engine writes."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import (
    DATA_SETS,
    PACKAGE,
    copy_project,
    free_port,
    git_repository,
    run,
    subprocess_env,
    write_data_set,
)
from distributed import Client

from {{ cookiecutter.package_name }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.package_name }}.data import dask_engine, tables
from {{ cookiecutter.package_name }}.data.ingest import ingest
from {{ cookiecutter.package_name }}.data.init_data import init_data
from {{ cookiecutter.package_name }}.data.prepare import prepare
from {{ cookiecutter.package_name }}.errors import ConfigError, DataValidationError
from {{ cookiecutter.package_name }}.features.build import build_features
from {{ cookiecutter.package_name }}.modeling.train import train
from {{ cookiecutter.package_name }}.monitoring import monitor as monitoring
from {{ cookiecutter.package_name }}.params import Params, load_params

# Each test starts a cluster or talks to one: seconds, not milliseconds.
pytestmark = pytest.mark.slow

OUTPUTS = (
    "data/raw/dataset.parquet",
    "data/interim/train.parquet",
    "data/interim/test.parquet",
    "data/processed/train.parquet",
    "models/transform.json",
)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a running ``dask scheduler`` with one ``dask worker``,
    both on loopback; ``DASK_SCHEDULER_ADDRESS`` names it meanwhile."""
    command = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory(prefix="dask-worker-") as folder:
        processes = [
            subprocess.Popen(
                [command, "scheduler", "--host", "127.0.0.1"]
                + ["--port", address.rsplit(":", 1)[1]]
                + ["--dashboard-address", f"127.0.0.1:{free_port()}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [command, "worker", address, "--host", "127.0.0.1", "--nthreads", "2"]
                + ["--memory-limit", "2GiB", "--local-directory", folder]
                + ["--no-dashboard"],
                env=subprocess_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            with Client(address, timeout="60s") as client:
                client.wait_for_workers(1, timeout=60)
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(dask_engine.SCHEDULER_ADDRESS, address)
                yield address
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of 100 rows, so that every stage reads several partitions."""
    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 100)


def awkward(n_rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Columns whose type pandas decides from the whole column: category codes
    with gaps, float categories only some of them whole, a class written as
    true/false, dates; with blocks of a few rows, some blocks alone would
    read otherwise."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 6, n_rows).astype(float)
    codes[rng.random(n_rows) < 0.05] = np.nan
    sizes = np.where(np.arange(n_rows) < n_rows - 40, 2.0, 2.5)
    x = rng.normal(size=n_rows)
    x[rng.random(n_rows) < 0.05] = np.nan
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 700, n_rows), unit="D"
    )
    return pd.DataFrame(
        {
            "code": codes,
            "size": sizes,
            "x": x,
            "day": days.strftime("%Y-%m-%d"),
            "late": np.where(
                x + (codes == 2) + rng.normal(size=n_rows) > 0.3, "true", "false"
            ),
        }
    )


def adopted_project(
    root: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Params]:
    """The project root, made the working folder, of a project that has
    adopted the data set ``name`` (see DATA_SETS, or ``awkward-csv`` or
    ``awkward-parquet``) with ``init-data``; its parameters."""
    project = copy_project(root)
    git_repository(project)
    monkeypatch.setenv(ENV_PREFIX + "PROJECT_ROOT", str(project))
    monkeypatch.chdir(project)
    external = project / "data" / "external"
    if name.startswith("awkward"):  # awkward.csv, or typed: awkward.parquet
        path, target = external / name.replace("-", "."), "late"
        if path.suffix == ".csv":
            awkward().to_csv(path, index=False)
        else:
            awkward().to_parquet(path, row_group_size=100)
        columns = {"code": "categorical", "size": "categorical"}
    else:
        path, target = write_data_set(name, external)
        columns = {}
    init_data(Settings(project_root=project), str(path), target, None)
    if columns:  # described as categorical, whatever init-data inferred
        described = yaml.safe_load((project / "columns.yaml").read_text())
        for column, kind in columns.items():
            described[column]["kind"] = kind
        (project / "columns.yaml").write_text(
            yaml.safe_dump(described, sort_keys=False)
        )
    return project, load_params(project / "params.yaml")


def run_stages(project: Path, params: Params) -> dict[str, bytes]:
    """Run ingest, prepare and features in this process; their outputs."""
    settings = Settings(project_root=project)
    ingest(settings, params)
    prepare(settings, params)
    build_features(settings, params)
    return {name: (project / name).read_bytes() for name in OUTPUTS}


def with_engine(params: Params, engine: str, blocksize: str = "500B") -> Params:
    data = params.data.model_copy(update={"engine": engine})
    cluster = params.dask.model_copy(update={"blocksize": blocksize})
    return params.model_copy(update={"data": data, "dask": cluster})


@pytest.mark.parametrize("name", [*DATA_SETS, "awkward-csv", "awkward-parquet"])
def test_the_engines_write_the_same_files(
    name: str,
    scheduler: str,
    small_parts: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project, params = adopted_project(tmp_path / "project", name, monkeypatch)
    by_pandas = run_stages(project, with_engine(params, "pandas"))
    assert pq.ParquetFile(project / OUTPUTS[0]).metadata.num_row_groups > 1
    for output in OUTPUTS:
        (project / output).unlink()
    monkeypatch.setattr(dask_engine, "PROGRESS_SECONDS", 0.0)

    with caplog.at_level("INFO"):
        by_dask = run_stages(project, with_engine(params, "dask"))

    assert [name for name in OUTPUTS if by_dask[name] != by_pandas[name]] == []
    assert f"Dask: the scheduler at {scheduler} with 1 worker(s)" in caplog.text
    assert re.search(r"ingest: 1 of \d+ partitions done", caplog.text)


def test_monitor_counts_a_large_reference_over_every_row_on_the_cluster(
    scheduler: str,
    small_parts: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = "categorical-with-missing"
    project, params = adopted_project(tmp_path / "project", name, monkeypatch)
    settings = Settings(project_root=project)
    run_stages(project, params)
    train(settings, params)
    current = settings.test_file  # labelled rows the model has not seen
    whole = monitoring.monitor(settings, params, current, out_dir=tmp_path / "whole")
    monkeypatch.setattr(monitoring, "REFERENCE_ROWS", 50)
    sampled = monitoring.monitor(
        settings, params, current, out_dir=tmp_path / "sampled"
    )

    counted = monitoring.monitor(
        settings, with_engine(params, "dask"), current, out_dir=tmp_path / "counted"
    )

    rows = tables.parquet_rows(settings.train_file)
    assert pq.ParquetFile(settings.train_file).metadata.num_row_groups > 1
    assert (sampled.rows["reference"], counted.rows["reference"]) == (50, rows)
    assert list(counted.columns) == list(whole.columns)
    assert {"label", "prediction", *params.data.categorical} <= set(counted.columns)
    for column, result in counted.columns.items():
        held = whole.columns[column]
        if result.kind == "categorical":  # the same counts, the same test
            found = result.statistic, result.p_value, result.effect, result.unseen
            assert found == (held.statistic, held.p_value, held.effect, held.unseen)
        else:  # scipy's exact KS test of a small sample rounds to its lattice
            assert result.statistic == pytest.approx(held.statistic, rel=1e-12)
    assert any(
        sampled.columns[column].statistic != held.statistic
        for column, held in whole.columns.items()
    )


def failures(project: Path, params: Params) -> dict[str, str]:
    """What ingest says of the source with each engine."""
    said = {}
    for engine in ("pandas", "dask"):
        with pytest.raises(DataValidationError) as error:
            ingest(Settings(project_root=project), with_engine(params, engine))
        said[engine] = str(error.value)
    assert not (project / OUTPUTS[0]).exists()
    return said


def test_a_bad_value_is_reported_at_its_row_of_the_file_by_either_engine(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, params = adopted_project(tmp_path / "project", "awkward-csv", monkeypatch)
    table = awkward()
    table.loc[1200, "day"] = "someday"
    table.to_csv(project / params.data.source, index=False)

    said = failures(project, params)

    assert said["dask"] == said["pandas"]
    assert "'someday' at row(s) 1201" in said["dask"]


def test_text_in_a_numeric_column_is_named_in_the_message(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, params = adopted_project(tmp_path / "project", "awkward-csv", monkeypatch)
    table = awkward().astype({"x": object})
    table.loc[1300, "x"] = "about 3"
    table.to_csv(project / params.data.source, index=False)

    said = failures(project, params)

    assert "'about 3' at row(s) 1301" in said["pandas"]
    assert "'about 3'" in said["dask"]
    assert "cannot be read as columns.yaml describes it" in said["dask"], said


def test_no_scheduler_at_the_address_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv(dask_engine.SCHEDULER_ADDRESS, address)
    params = load_params(Path(__file__).parents[2] / "params.yaml")

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(
            ConfigError, match=f"No Dask scheduler answers at {address}"
        ):
            with dask_engine.cluster(params.dask):
                pass


def dask_project(root: Path) -> Path:
    """A copy of the project whose data stages run on Dask."""
    project = copy_project(root)
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    params.write_text(re.sub(r"(?m)^  engine: pandas", "  engine: dask", text))
    return project


def test_without_a_scheduler_a_local_cluster_runs_the_stage(tmp_path: Path) -> None:
    project = dask_project(tmp_path / "project")

    result = run(
        [sys.executable, "-m", PACKAGE, "ingest"],
        project,
        DASK_SCHEDULER_ADDRESS=None,
        DASK_MEMORY_LIMIT="700MiB",
    )

    said = result.stdout + result.stderr
    assert re.search(
        r"Dask: a local cluster of \d+ worker\(s\) with 700\.00 MiB of memory each, "
        r"spilling to disk beyond; dashboard http://127\.0\.0\.1:\d+/status",
        said,
    ), said
    frame = pd.read_parquet(project / OUTPUTS[0])
    assert len(frame) == 569  # scikit-learn's breast cancer table


def test_a_memory_limit_dask_cannot_read_is_a_clear_error(tmp_path: Path) -> None:
    project = dask_project(tmp_path / "project")

    result = subprocess.run(
        [sys.executable, "-m", PACKAGE, "ingest"],
        cwd=project,
        env=subprocess_env(DASK_SCHEDULER_ADDRESS=None, DASK_MEMORY_LIMIT="lots"),
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "Cannot start a local Dask cluster with memory_limit 'lots'" in (
        result.stderr
    )
    assert not (project / OUTPUTS[0]).exists()
