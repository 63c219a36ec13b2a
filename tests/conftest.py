"""Shared helpers of the template's tests: named answer sets and rendering."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))
from relock import release_lock  # noqa: E402  (hooks/ is no package)

# Tools of the test environment (poetry, nox, copier) come first on PATH, also
# when the tests run without activating that environment; copier's migrations
# call them too. Rendered projects must not see the test environment as the
# active one: Poetry would install the project into it.
os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ["PATH"]]
)
os.environ.pop("VIRTUAL_ENV", None)

# The Pythons a project may be rendered for; lock, noxfile and CI cover each.
SUPPORTED_PYTHONS: list[str] = yaml.safe_load(
    (ROOT / "copier.yml").read_text(encoding="utf-8")
)["python_version"]["choices"]

# Named example answer sets: every license, both frameworks, several Pythons
# and names that need transliteration or quoting.
ANSWER_SETS: dict[str, dict[str, str]] = {
    "defaults": {},
    "sklearn-bsd-py311": {
        "ml_framework": "sklearn",
        "license": "BSD-3-Clause",
        "python_version": "3.11",
    },
    "pytorch-apache-py314": {
        "ml_framework": "pytorch",
        "license": "Apache-2.0",
        "python_version": "3.14",
    },
    "unicode-name-unlicensed": {
        "project_name": "Déjà Vu: Forecasting 2026",
        "license": "none",
        "python_version": "3.13",
    },
    "longest-package-name": {
        "project_name": "Forecasting Customer Churn Daily",
        "license": "MIT",
    },
    "quoted-author-custom-names": {
        "project_name": 'Churn "Radar"',
        "project_slug": "churn.radar",
        "package_name": "churn_radar",
        "description": 'Predicts churn; handles "quotes" & back\\slashes.',
        "author_name": "Zoë O'Brien",
        "author_email": "zoe.obrien@example.co.uk",
        "ml_framework": "sklearn",
    },
}


@dataclass(frozen=True)
class Project:
    """A rendered project and the answers it was rendered with."""

    path: Path
    answers: dict[str, Any]

    @property
    def package(self) -> Path:
        return self.path / "src" / self.answers["package_name"]

    def toml(self, relative: str) -> dict[str, Any]:
        return tomllib.loads((self.path / relative).read_text(encoding="utf-8"))


def render(destination: Path, **answers: str) -> Project:
    """Render the working tree of the template (uncommitted changes included)."""
    import copier  # after PATH is set above: copier's tasks keep the import-time env

    copier.run_copy(
        str(ROOT),
        str(destination),
        data=answers,
        defaults=True,
        vcs_ref="HEAD",
        quiet=True,
        unsafe=False,
    )
    recorded = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    return Project(destination, recorded)


def lock_file(framework: str) -> Path:
    """The committed lock that a render for `framework` copies verbatim."""
    return release_lock(ROOT, framework)


def run(
    *command: str | os.PathLike[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a real tool; on failure, show its whole output in the test report."""
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, (
        f"{' '.join(map(str, command))} exited {completed.returncode}\n"
        f"--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
    )
    return completed


def tool(name: str) -> str:
    """Path of a tool installed in the test environment."""
    beside_python = Path(sys.executable).with_name(name)
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    assert found, f"{name} is not installed in the test environment"
    return found


@pytest.fixture(scope="session", params=list(ANSWER_SETS), ids=list(ANSWER_SETS))
def project(request: pytest.FixtureRequest, tmp_path_factory) -> Project:
    """One rendered project per named answer set, shared by the fast tests."""
    destination = tmp_path_factory.mktemp(request.param) / "project"
    return render(destination, **ANSWER_SETS[request.param])


def assert_least_privilege(
    workflow: dict[str, Any], writers: dict[str, dict[str, str]] | None = None
) -> None:
    """No permission at the top, read-only contents per job (the jobs named in
    ``writers`` have exactly the permissions given there, and check out no
    code), actions pinned to a commit and checkouts that keep no credentials."""
    writers = writers or {}
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert job["permissions"] == writers.get(name, {"contents": "read"})
        if name in writers:
            assert not any("checkout" in step.get("uses", "") for step in job["steps"])
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            if uses:
                ref = uses.split("@")[1].split()[0]
                assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{uses} is not a commit"
