"""Data in object storage: an ``s3://`` source and a DVC remote in S3, against
a real S3 endpoint on loopback (moto's standalone server)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pandas as pd
import pytest
import yaml
from conftest import (
    DATA_SETS,
    PACKAGE,
    copy_project,
    dvc,
    free_port,
    git,
    git_repository,
    run,
    write_data_set,
)

from {{ cookiecutter.package_name }}.data.sources import RemoteSource
from {{ cookiecutter.package_name }}.errors import ConfigError, DataValidationError

BUCKET = "tables"
RAW = Path("data/raw/dataset.parquet")
# moto accepts any credentials; the variables stop boto looking for real ones.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3 endpoint on loopback with an empty bucket ``tables``; the AWS
    variables point this process and its children at it."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert server is not None, "moto_server is installed with the test group"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": url}.items():
            patch.setenv(name, value)
        try:
            wait_until_listening(url, process)
            fsspec.filesystem("s3", skip_instance_cache=True).mkdir(BUCKET)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_until_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "moto_server exited"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"moto_server did not answer on {url} within 60 s")


def upload(local: Path, url: str) -> None:
    fsspec.filesystem("s3", skip_instance_cache=True).put_file(str(local), url)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_object_is_named_with_its_url(s3_endpoint: str) -> None:
    for url in (f"s3://{BUCKET}/absent.csv", "s3://no-such-bucket/table.csv"):
        with pytest.raises(ConfigError, match="does not exist") as raised:
            RemoteSource(url).load()
        assert url in str(raised.value)


def test_an_unreadable_object_is_named_with_its_url_not_a_local_copy(
    s3_endpoint: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    url = f"s3://{BUCKET}/exports/empty.csv"
    upload(empty, url)
    with pytest.raises(DataValidationError) as raised:
        RemoteSource(url).load()
    assert str(raised.value) == f"data source {url} is empty."


@pytest.mark.slow
def test_ingest_from_s3_equals_ingest_of_the_same_file_and_follows_its_etag(
    s3_endpoint: str, tmp_path: Path
) -> None:
    make, target, written_as = DATA_SETS["categorical-with-missing"]
    local, _ = write_data_set("categorical-with-missing", tmp_path)
    url = f"s3://{BUCKET}/exports/{local.name}"
    upload(local, url)

    snapshots = {}
    for source in (str(local), url):
        root = copy_project(tmp_path / ("remote" if source == url else "local"))
        git_repository(root)
        run([sys.executable, "-m", PACKAGE, "init-data", source, "--target", target],
            root)  # fmt: skip
        dvc(root, "repro", "ingest")
        snapshots[source] = pd.read_parquet(root / RAW)
    pd.testing.assert_frame_equal(snapshots[url], snapshots[str(local)])

    # root is the project that reads from S3: the object stays there and DVC
    # follows it by its ETag.
    assert yaml.safe_load((root / "params.yaml").read_text())["data"]["source"] == url
    assert not list((root / "data" / "external").glob("*.csv"))
    ingest = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["ingest"]
    (followed,) = [dep for dep in ingest["deps"] if dep["path"] == url]
    assert followed["etag"]
    assert json.loads(dvc(root, "status", "ingest", "--json")) == {}

    shorter = tmp_path / "shorter.csv"
    make().head(100).to_csv(shorter, index=False, **written_as)
    upload(shorter, url)
    changed = json.loads(dvc(root, "status", "ingest", "--json"))["ingest"]
    assert {"changed deps": {url: "modified"}} in changed
    dvc(root, "repro", "ingest")
    assert len(pd.read_parquet(root / RAW)) == 100


def output_files(root: Path) -> list[Path]:
    """Every file the stages of ``dvc.lock`` wrote, relative to ``root``."""
    stages = yaml.safe_load((root / "dvc.lock").read_text())["stages"].values()
    files = []
    for out in (out["path"] for stage in stages for out in stage.get("outs", [])):
        path = root / out
        inside = path.rglob("*") if path.is_dir() else [path]
        files += [file.relative_to(root) for file in inside if file.is_file()]
    return sorted(files)


@pytest.mark.slow
def test_dvc_push_to_s3_then_pull_into_a_clone_is_byte_identical(
    s3_endpoint: str, repo: Path, tmp_path: Path
) -> None:
    remote = f"s3://{BUCKET}/dvc-store"
    # --local: the shared repository's committed configuration stays as it is.
    dvc(repo, "remote", "add", "--local", "--default", "s3store", remote)
    try:
        dvc(repo, "push")
    finally:
        dvc(repo, "remote", "remove", "--local", "s3store")
    files = output_files(repo)

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    # Small reports travel in git; the data and models only through the remote.
    absent = {path for path in files if not (clone / path).exists()}
    assert {RAW, Path("data/processed/train.parquet")} <= absent
    dvc(clone, "remote", "add", "--local", "--default", "s3store", remote)
    dvc(clone, "pull")
    assert {str(path): sha256(clone / path) for path in files} == {
        str(path): sha256(repo / path) for path in files
    }
    assert json.loads(dvc(clone, "status", "--json")) == {}


@pytest.mark.slow
def test_predict_and_monitor_read_new_rows_from_s3_as_from_a_file(
    s3_endpoint: str, repo: Path, tmp_path: Path
) -> None:
    local = tmp_path / "new-rows.parquet"
    shutil.copy2(repo / "data" / "interim" / "test.parquet", local)
    url = f"s3://{BUCKET}/incoming/{local.name}"
    upload(local, url)
    for rows, name in ((str(local), "local"), (url, "s3")):
        run([sys.executable, "-m", PACKAGE, "predict", rows,
             str(tmp_path / f"scored-{name}.csv")], repo)  # fmt: skip
        run([sys.executable, "-m", PACKAGE, "monitor", rows,
             "--out", str(tmp_path / f"drift-{name}")], repo)  # fmt: skip
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "scored-s3.csv"),
        pd.read_csv(tmp_path / "scored-local.csv"),
    )
    reports = [
        json.loads((tmp_path / f"drift-{name}" / "drift.json").read_text())
        for name in ("s3", "local")
    ]
    assert reports[0] == reports[1]
    assert reports[0]["rows"]["current"] == len(pd.read_parquet(local))
    assert git(repo, "status", "--porcelain") == ""
