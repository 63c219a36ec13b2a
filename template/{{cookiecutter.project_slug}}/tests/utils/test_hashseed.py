"""Pipeline commands run with the project's hash seed, however they are started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT, subprocess_env

from {{ cookiecutter.package_name }}.utils.hashseed import (
    SEEDED_COMMANDS,
    needs_hash_seed,
)


def test_every_stage_is_a_plain_command_run_with_the_hash_seed() -> None:
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    cli = ["python", "-m", "{{ cookiecutter.package_name }}"]
    for name, stage in stages.items():
        # No VAR=value prefix or other shell syntax: valid in every shell.
        assert stage["cmd"].split() == [*cli, name]
        assert name in SEEDED_COMMANDS


@pytest.mark.parametrize(
    ("args", "environ", "expected"),
    [
        (["train"], {}, True),
        (["--log-level", "DEBUG", "evaluate"], {"PYTHONHASHSEED": "1"}, True),
        (["prepare"], {"PYTHONHASHSEED": "random"}, True),
        (["prepare"], {"PYTHONHASHSEED": "0"}, False),
        (["info"], {}, False),
        ([], {}, False),
    ],
)
def test_only_seeded_commands_without_the_seed_run_again(
    args: list[str], environ: dict[str, str], expected: bool
) -> None:
    assert needs_hash_seed(args, environ) is expected


def test_a_relaunched_stage_passes_exit_code_and_output_through(
    project: Path,
) -> None:
    # No PYTHONHASHSEED: the stage runs again in a child, which fails (no data).
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "prepare"],
        cwd=project,
        env=subprocess_env(PYTHONHASHSEED=None),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.name == "nt", reason="Windows has no SIGTERM to forward")
def test_stopping_the_launcher_stops_the_relaunched_command(tmp_path: Path) -> None:
    # A stand-in for a long stage: it writes its process id, then waits.
    (tmp_path / "long_stage.py").write_text(
        "import os, pathlib, time\n"
        "pathlib.Path('child.pid').write_text(str(os.getpid()))\n"
        "time.sleep(30)\n"
    )
    launcher = (
        "import sys\n"
        "from {{ cookiecutter.package_name }}.utils import hashseed\n"
        "hashseed.PACKAGE = 'long_stage'\n"
        "sys.exit(hashseed.run_with_hash_seed([]))\n"
    )
    env = subprocess_env(PYTHONHASHSEED=None, PYTHONPATH=str(tmp_path))
    parent = subprocess.Popen([sys.executable, "-c", launcher], cwd=tmp_path, env=env)
    pid_file = tmp_path / "child.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    child = int(pid_file.read_text())

    parent.send_signal(signal.SIGTERM)

    try:
        assert parent.wait(timeout=10) == 128 + signal.SIGTERM
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
