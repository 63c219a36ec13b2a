"""Fast tier: the generated noxfile never passes by skipping a missing Python.

nox runs the rendered noxfile with a PATH that holds only the interpreters a
test chooses; nothing is installed, as each session stops before it would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SUPPORTED_PYTHONS, Project, render

RUNNING = "%d.%d" % sys.version_info[:2]
MISSING = next(version for version in SUPPORTED_PYTHONS if version != RUNNING)
PROJECT_PYTHON = next(
    version for version in SUPPORTED_PYTHONS if version not in (RUNNING, MISSING)
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """A project for a Python this machine is made to lack."""
    destination = tmp_path_factory.mktemp("noxfile") / "project"
    return render(destination, python_version=PROJECT_PYTHON)


def nox(project: Project, path: Path, *args: str) -> subprocess.CompletedProcess:
    """The project's nox, with `path` as the only place to find a Python."""
    return subprocess.run(
        [sys.executable, "-m", "nox", "--non-interactive", *args],
        cwd=project.path,
        env={**os.environ, "PATH": str(path)},
        capture_output=True,
        text=True,
    )


def only_pythons(folder: Path, *versions: str) -> Path:
    """A PATH folder holding `pythonX.Y` for each of `versions` (all of them
    this interpreter, which is what the noxfile's probe asks for)."""
    folder.mkdir()
    for version in versions:
        assert version == RUNNING, "only the running Python can stand in"
        (folder / f"python{version}").symlink_to(sys.executable)
    return folder


def test_default_sessions_run_on_a_supported_python_that_is_installed(
    project: Project, tmp_path: Path
) -> None:
    listing = nox(project, only_pythons(tmp_path / "bin", RUNNING), "--list")
    assert listing.returncode == 0, listing.stderr
    selected = {
        line[2:].split(" -> ")[0]
        for line in listing.stdout.splitlines()
        if line.startswith("* ")
    }
    assert selected == {"lint", f"tests({RUNNING})"}


def test_a_session_whose_python_is_missing_fails_naming_what_to_install(
    project: Project, tmp_path: Path
) -> None:
    run = nox(
        project, only_pythons(tmp_path / "bin", RUNNING), "-s", f"tests({MISSING})"
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert (
        f"Session tests({MISSING}) aborted: Python {MISSING} is not installed" in output
    )
    assert f"installed here: {RUNNING}." in output
    assert f"run `nox -s 'tests({RUNNING})'`" in output
    assert "skipped" not in output


def test_with_no_supported_python_the_default_sessions_fail(
    project: Project, tmp_path: Path
) -> None:
    run = nox(project, only_pythons(tmp_path / "bin"))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert f"Session lint aborted: Python {PROJECT_PYTHON} is not installed" in output
    assert "installed here: none of them" in output
    assert "was successful" not in output and "skipped" not in output
