"""Every question refuses a wrong answer with a message, before writing a file."""

from __future__ import annotations

import keyword
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
from conftest import ROOT, Project, render

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


# (project name, kind of clash of the name derived from it, package name)
CLASHING_NAMES = [
    ("class", "keyword", "class_project"),
    ("Match", "soft keyword", "match_project"),
    ("type", "soft keyword", "type_project"),
    ("Tests", "the project's tests folder", "tests_project"),
    ("Data", "the project's data folder", "data_project"),
    ("torch", "a runtime dependency", "torch_project"),
    ("Pydantic Settings", "a dependency's module", "pydantic_settings_project"),
    ("pytest", "a development tool", "pytest_project"),
    (
        "Forecasting Customer Churn Daily With Extras",
        "over 32 characters: cut after a word",
        "forecasting_customer_churn_daily",
    ),
    ("A" * 40, "over 32 characters in one word", "a" * 32),
]


@pytest.mark.parametrize(
    ("project_name", "clash", "package"),
    CLASHING_NAMES,
    ids=[clash for _, clash, _ in CLASHING_NAMES],
)
def test_defaults_turn_a_clashing_derived_package_name_into_a_valid_one(
    tmp_path: Path, project_name: str, clash: str, package: str
) -> None:
    project = render(tmp_path / "project", project_name=project_name)
    assert project.answers["package_name"] == package
    assert (project.package / "cli.py").is_file()


def test_cli_defaults_render_a_project_named_after_a_keyword(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    subprocess.run(
        [
            sys.executable, "-m", "copier", "copy", "--quiet", "--defaults",
            "--vcs-ref=HEAD", "--data=project_name=class", str(ROOT), str(destination),
        ],
        check=True,
    )  # fmt: skip
    assert (destination / "src" / "class_project" / "__init__.py").is_file()


def shared_names():
    """template/templates/names.jinja as copier loads it: its lists and limits."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )
    return environment.get_template("template/templates/names.jinja").module


def test_every_python_keyword_is_refused_as_a_package_name() -> None:
    lowercase = {k for k in keyword.kwlist + keyword.softkwlist if k.islower()}
    assert lowercase <= set(shared_names().keywords)


def test_no_top_level_folder_of_the_project_can_name_the_package(
    project: Project,
) -> None:
    folders = {
        path.name
        for path in project.path.iterdir()
        if path.is_dir() and path.name.isidentifier()
    }
    assert folders <= set(shared_names().taken)
