"""Fast tier: an outside review of every fresh render (sp-repo-review)."""

from __future__ import annotations

import json
import subprocess

from conftest import Project, tool


def repo_review(project: Project, *options: str) -> dict[str, dict]:
    """sp-repo-review's verdict on each rule, parsed from its JSON report."""
    completed = subprocess.run(
        [tool("repo-review"), "--format", "json", *options, "."],
        cwd=project.path,
        capture_output=True,
        text=True,
    )
    assert completed.stdout, completed.stderr
    return json.loads(completed.stdout)["checks"]


def failures(checks: dict[str, dict]) -> dict[str, str]:
    return {
        code: check["description"]
        for code, check in checks.items()
        if check["result"] is False
    }


def test_repo_review_reports_no_failure(project: Project) -> None:
    assert failures(repo_review(project)) == {}


def test_each_switched_off_rule_has_a_reason_and_would_fail(project: Project) -> None:
    ignored = project.toml("pyproject.toml")["tool"]["repo-review"]["ignore"]
    for code, reason in ignored.items():
        assert reason.strip() and "\n" not in reason, code
    checks = repo_review(project)
    assert {code: checks[code]["skip_reason"] for code in ignored} == ignored
    # An --ignore list on the command line replaces pyproject's: with a rule
    # that does not exist, every rule runs, and exactly the ignored ones fail.
    everything = repo_review(project, "--ignore=NONE")
    assert sorted(failures(everything)) == sorted(ignored)
