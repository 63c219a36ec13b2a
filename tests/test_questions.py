"""Every question refuses a wrong answer with a message, before writing a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, render

# (question, bad answer, words the refusal must contain)
BAD_ANSWERS = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", " padded ", "must not start or end with spaces"),
    ("project_slug", "", "not a safe project slug"),
    ("project_slug", "../escape", "not a safe project slug"),
    ("project_slug", "a/b", "not a safe project slug"),
    ("project_slug", "a..b", "'..' is not allowed"),
    ("project_slug", "My Project", "not a safe project slug"),
    ("project_slug", "-leading-dash", "not a safe project slug"),
    ("package_name", "", "not a valid package name"),
    ("package_name", "class", "is a Python keyword"),
    ("package_name", "match", "is a Python keyword"),
    ("package_name", "2fast", "not a valid package name"),
    ("package_name", "my-package", "not a valid package name"),
    ("package_name", "My_Package", "not a valid package name"),
    ("package_name", "torch", "would shadow a module"),
    ("package_name", "tests", "would shadow a module"),
    ("package_name", "a" * 33, "at most 32 characters"),
    ("description", "", "must not be empty"),
    ("description", "two\nlines", "single line"),
    ("author_name", " ", "must not be empty"),
    ("author_email", "", "not a valid email address"),
    ("author_email", "no-at-sign.example.com", "not a valid email address"),
    ("author_email", "two@@example.com", "not a valid email address"),
    ("author_email", "spaces in@example.com", "not a valid email address"),
    ("author_email", "user@nodot", "not a valid email address"),
    ("license", "GPL-3.0", "Invalid choice"),
    ("python_version", "3.10", "Invalid choice"),
    ("python_version", "3.15", "Invalid choice"),
    ("ml_framework", "tensorflow", "Invalid choice"),
]


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    BAD_ANSWERS,
    ids=[f"{q}={a!r}" for q, a, _ in BAD_ANSWERS],
)
def test_bad_answer_is_refused_before_anything_is_written(
    tmp_path: Path, question: str, answer: str, message: str
) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=message) as refused:
        render(destination, **{question: answer})
    assert question in str(refused.value) or "Invalid choice" in str(refused.value)
    assert not destination.exists()


def test_cli_reports_a_refusal_and_exits_non_zero(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    completed = subprocess.run(
        [
            sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref=HEAD",
            "--data=package_name=import", str(ROOT), str(destination),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert completed.returncode != 0
    assert '"import" is a Python keyword' in completed.stderr + completed.stdout
    assert not destination.exists()


@pytest.mark.parametrize(
    "answers",
    [
        {"project_slug": "ok.name_2"},
        {"package_name": "ml_2026"},
        {"author_email": "first.last+tag@sub.example.org"},
        {"project_name": "Ünïcödé & Co. (v2)"},
    ],
    ids=["slug-with-dot", "package-with-digits", "plus-address", "punctuated-name"],
)
def test_good_answers_are_accepted(tmp_path: Path, answers: dict[str, str]) -> None:
    project = render(tmp_path / "project", **answers)
    for key, value in answers.items():
        assert project.answers[key] == value
