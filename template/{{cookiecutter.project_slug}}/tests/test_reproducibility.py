"""Training twice in fresh processes with one seed gives identical files, for
classification and regression alike."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from conftest import adopt, copy_project, run, update_params

pytestmark = pytest.mark.slow
PACKAGE = "{{ cookiecutter.package_name }}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_and_hash(root: Path) -> tuple[str, str]:
    run([sys.executable, "-m", PACKAGE, "train"], root)
    (model,) = (root / "models").glob("model.*")
    return digest(model), digest(root / "reports" / "live" / "metrics.json")


@pytest.mark.parametrize("data_set", ["default", "regression"])
def test_same_seed_same_weights_and_metrics(tmp_path: Path, data_set: str) -> None:
    root = copy_project(tmp_path / "project")
    if data_set != "default":
        adopt(root, data_set)
    for stage in ("ingest", "prepare", "features"):
        run([sys.executable, "-m", PACKAGE, stage], root)

    first = train_and_hash(root)
    second = train_and_hash(root)
    assert first == second

    update_params(root, "", "seed", 1234)
    third = train_and_hash(root)
    assert third[0] != first[0]


def test_training_ignores_the_hash_seed_of_its_launcher(tmp_path: Path) -> None:
    """The CLI runs a stage with the project's hash seed, however it is started."""
    root = copy_project(tmp_path / "project")
    for stage in ("ingest", "prepare", "features"):
        run([sys.executable, "-m", PACKAGE, stage], root)
    train = [sys.executable, "-m", PACKAGE, "train"]
    live = root / "reports" / "live"

    def outputs() -> dict[str, bytes]:
        (model,) = (root / "models").glob("model.*")
        files = [model, live / "metrics.json", live / "run_info.json"]
        return {path.name: path.read_bytes() for path in files}

    run(train, root)  # as dvc.yaml and nox start it: PYTHONHASHSEED=0
    expected = outputs()
    info = json.loads(expected["run_info.json"])
    assert info["environment"]["PYTHONHASHSEED"] == "0"
    # Another hash seed orders the same set of names differently.
    probe = (
        f"from {PACKAGE}.utils.run_info import string_hash_order;"
        " print(string_hash_order())"
    )
    other = run([sys.executable, "-c", probe], root, PYTHONHASHSEED="1234")
    assert other.stdout.strip() != str(info["string_hash_order"])

    for hash_seed in (None, "1234"):  # unset, then another seed
        run(train, root, PYTHONHASHSEED=hash_seed)
        assert outputs() == expected, f"PYTHONHASHSEED={hash_seed}"
