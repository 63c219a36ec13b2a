"""Cookiecutter and cruft render the project that copier renders, byte for byte.

The template tree is what copier sees of the working tree (the files git
lists, uncommitted changes included); cookiecutter and cruft render that same
tree. Cookiecutter reads a user configuration of the tests' own, so neither a
user's defaults nor its replay files take part.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import cruft
import pytest
import yaml
from conftest import ANSWER_SETS, ROOT, render, run
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config
from relock import PROJECT_FOLDER
from test_questions import BAD_ANSWERS, CLASHING_NAMES


def load_local_extensions():
    """local_extensions.py under a name of its own: cookiecutter imports the
    template's copy by its plain name, which this import must not shadow."""
    spec = importlib.util.spec_from_file_location(
        "reproml_local_extensions", ROOT / TEMPLATE_DIR / "local_extensions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GIT_IDENTITY = ["-c", "user.name=reproml tests", "-c", "user.email=tests@example.org"]
# What cookiecutter and cruft read lives in this folder: `--directory template`.
TEMPLATE_DIR = "template"
COPIER_ONLY = ".copier-answers.yml"
CRUFT_ONLY = ".cruft.json"


@pytest.fixture(scope="module", autouse=True)
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user configuration with defaults of its own and replays kept aside."""
    folder = tmp_path_factory.mktemp("cookiecutter-config")
    config = folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cookiecutters_dir": str(folder / "cookiecutters"),
                "replay_dir": str(folder / "replay"),
            }
        )
    )
    before = os.environ.get("COOKIECUTTER_CONFIG")
    os.environ["COOKIECUTTER_CONFIG"] = str(config)
    yield config
    if before is None:
        os.environ.pop("COOKIECUTTER_CONFIG")
    else:
        os.environ["COOKIECUTTER_CONFIG"] = before


def git(*args: str, cwd: Path) -> str:
    return run("git", *GIT_IDENTITY, *args, cwd=cwd).stdout.strip()


def copy_template(destination: Path) -> Path:
    """The files git lists in the working tree (as copier sees them), copied."""
    listed = git("ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT)
    for relative in filter(None, listed.split("\0")):
        if (ROOT / relative).is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, destination / relative)
    return destination


@pytest.fixture(scope="module")
def template_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_template(tmp_path_factory.mktemp("tree") / "reproml")


def tree(root: Path, *, leave_out: str) -> dict[str, tuple[str, int]]:
    """Every path below `root`, empty folders included, with its kind and mode."""
    return {
        path.relative_to(root).as_posix(): (
            "folder" if path.is_dir() else "file",
            stat.S_IMODE(path.stat().st_mode),
        )
        for path in root.rglob("*")
        if path.relative_to(root).parts[0] not in (leave_out, ".git")
    }


def assert_same_project(ours: Path, copiers: Path, *, leave_out: str) -> None:
    """Same paths, kinds and modes; same bytes in every file."""
    expected = tree(copiers, leave_out=COPIER_ONLY)
    assert tree(ours, leave_out=leave_out) == expected
    differing = [
        relative
        for relative, (kind, _) in expected.items()
        if kind == "file"
        and (ours / relative).read_bytes() != (copiers / relative).read_bytes()
    ]
    assert differing == []


def render_with_cookiecutter(template: Path, output: Path, **answers: str) -> Path:
    return Path(
        cookiecutter(
            str(template), no_input=True, extra_context=answers, output_dir=str(output),
            directory=TEMPLATE_DIR,
        )  # fmt: skip
    )


@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_cookiecutter_renders_copiers_project_byte_for_byte(
    name: str, template_tree: Path, tmp_path: Path
) -> None:
    answers = ANSWER_SETS[name]
    copiers = render(tmp_path / "copier", **answers)
    settled = cookiecutter_answers(template_tree, **answers)
    assert {key: settled[key] for key in copier_questions()} == {
        key: copiers.answers[key] for key in copier_questions()
    }
    ours = render_with_cookiecutter(template_tree, tmp_path / "cookiecutter", **answers)
    # Copier computes the dictionary the files read, and records it nowhere.
    assert "cookiecutter" not in copiers.answers
    assert ours.name == copiers.answers["project_slug"]
    assert not (ours / COPIER_ONLY).exists()
    assert_same_project(ours, copiers.path, leave_out=COPIER_ONLY)
    # benchmarks/ holds a PyTorch script only: both tools leave the folder
    # empty for scikit-learn, and the comparison above covers folders too.
    benchmarks = copiers.path / "benchmarks"
    empty = benchmarks.is_dir() and not any(benchmarks.iterdir())
    assert empty == (copiers.answers["ml_framework"] == "sklearn")


def test_cookiecutter_json_is_written_from_copier_yml() -> None:
    committed = (ROOT / TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8")
    assert (
        committed == load_local_extensions().cookiecutter_json_text()
    ), "cookiecutter.json differs from copier.yml: run `nox -s cookiecutter_json`"


def copier_questions() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    return {
        name: question
        for name, question in config.items()
        if not name.startswith("_") and question.get("when") is not False
    }


def test_both_tools_ask_the_same_questions_with_the_same_defaults_and_choices():
    asked = copier_questions()
    context = json.loads(
        (ROOT / TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8")
    )
    prompts = context["__prompts__"]
    assert [key for key in context if not key.startswith("_")] == list(asked)
    for name, question in asked.items():
        choices = question.get("choices")
        if choices is None:
            assert prompts[name] == question["help"]
            continue
        labels = choices if isinstance(choices, dict) else {c: c for c in choices}
        # Cookiecutter's default is its first choice; the others keep their order.
        assert context[name][0] == question["default"]
        assert sorted(context[name]) == sorted(labels.values())
        assert prompts[name] == {
            "__prompt__": question["help"],
            **{value: label for label, value in labels.items()},
        }


def cookiecutter_answers(template: Path, **answers: str) -> dict[str, Any]:
    """The answers cookiecutter settles on, defaults rendered, nothing written."""
    folder = template / TEMPLATE_DIR
    sys.path.append(str(folder))  # where cookiecutter finds local extensions
    try:
        context = generate_context(
            str(folder / "cookiecutter.json"), extra_context=answers
        )
        return dict(prompt_for_config(context, no_input=True))
    finally:
        sys.path.remove(str(folder))


@pytest.mark.parametrize(
    ("project_name", "clash", "package"),
    CLASHING_NAMES,
    ids=[clash for _, clash, _ in CLASHING_NAMES],
)
def test_cookiecutter_derives_copiers_package_name(
    template_tree: Path, project_name: str, clash: str, package: str
) -> None:
    answers = cookiecutter_answers(template_tree, project_name=project_name)
    assert answers["package_name"] == package


def test_each_template_is_checked_against_its_own_copier_yml(
    template_tree: Path, tmp_path: Path
) -> None:
    # cruft renders two releases in one process: the second must not reuse the
    # first one's extension, which reads the first one's copier.yml.
    stricter = copy_template(tmp_path / "stricter")
    config = stricter / "copier.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            "{% if not project_name.strip() %}",
            "{% if 'Radar' in project_name %}No radars.{% endif %}"
            "{% if not project_name.strip() %}",
            1,
        ),
        encoding="utf-8",
    )
    name = ANSWER_SETS["quoted-author-custom-names"]["project_name"]
    assert cookiecutter_answers(template_tree, project_name=name)
    with pytest.raises(ValueError, match="project_name': No radars."):
        cookiecutter_answers(stricter, project_name=name)
    assert cookiecutter_answers(template_tree, project_name=name)


def cookiecutter_cli(
    template: Path, output: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "cookiecutter", "--no-input",
            "--output-dir", str(output), "--directory", TEMPLATE_DIR, str(template),
            *arguments,
        ],
        cwd=output,
        capture_output=True,
        text=True,
    )  # fmt: skip


def last_error(output: str) -> str:
    """The message of the exception a command line tool ended with."""
    line = output.strip().splitlines()[-1]
    assert line.startswith("ValueError: "), output
    return line.removeprefix("ValueError: ")


VALIDATED = [case for case in BAD_ANSWERS if case[2] != "Invalid choice"]
CHOICES = [case for case in BAD_ANSWERS if case[2] == "Invalid choice"]


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    VALIDATED,
    ids=[f"{q}={a!r}" for q, a, _ in VALIDATED],
)
def test_cookiecutter_refuses_what_copier_refuses_with_its_message(
    template_tree: Path, tmp_path: Path, question: str, answer: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        copier.run_copy(
            str(template_tree), str(tmp_path / "copier"), data={question: answer},
            defaults=True, quiet=True,
        )  # fmt: skip
    output = tmp_path / "output"
    output.mkdir()
    completed = cookiecutter_cli(template_tree, output, f"{question}={answer}")
    assert completed.returncode != 0
    assert last_error(completed.stderr) == str(refused.value)
    assert list(output.iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["output"]


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    CHOICES,
    ids=[f"{q}={a!r}" for q, a, _ in CHOICES],
)
def test_cookiecutter_refuses_an_answer_that_is_no_choice(
    template_tree: Path, tmp_path: Path, question: str, answer: str, message: str
) -> None:
    # Cookiecutter checks choices itself, before anything else, in its words.
    completed = cookiecutter_cli(template_tree, tmp_path, f"{question}={answer}")
    assert completed.returncode != 0
    refusal = last_error(completed.stderr)
    assert refusal.startswith(f"{answer} provided for choice variable {question}")
    assert list(tmp_path.iterdir()) == []


# cruft works on git repositories of the template: a previous release, where
# the README names a section differently and one page is missing, and the
# current one, the working tree.
PREVIOUS_README = ("## Project layout", "## Where things are")
MISSING_PAGE = "docs/reference.md"


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_template(tmp_path_factory.mktemp("cruft") / "reproml")
    readme = repo / PROJECT_FOLDER / "README.md"
    current_readme = readme.read_text(encoding="utf-8")
    page = repo / PROJECT_FOLDER / MISSING_PAGE
    current_page = page.read_bytes()
    assert PREVIOUS_README[0] in current_readme
    readme.write_text(current_readme.replace(*PREVIOUS_README), encoding="utf-8")
    page.unlink()
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "Previous release", cwd=repo)
    git("tag", "previous", cwd=repo)
    readme.write_text(current_readme, encoding="utf-8")
    page.write_bytes(current_page)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "Current release", cwd=repo)
    git("tag", "current", cwd=repo)
    return repo


def cruft_create(repo: Path, output: Path, ref: str, **answers: str) -> Path:
    return cruft.create(
        str(repo), output_dir=output, checkout=ref, extra_context=answers,
        no_input=True, directory=TEMPLATE_DIR,
    )  # fmt: skip


def test_cruft_create_renders_copiers_project_and_its_cruft_file(
    template_repo: Path, tmp_path: Path
) -> None:
    answers = ANSWER_SETS["quoted-author-custom-names"]
    copiers = render(tmp_path / "copier", **answers)
    ours = cruft_create(template_repo, tmp_path / "cruft", "current", **answers)
    assert_same_project(ours, copiers.path, leave_out=CRUFT_ONLY)
    state = json.loads((ours / CRUFT_ONLY).read_text(encoding="utf-8"))
    assert state["commit"] == git("rev-parse", "current", cwd=template_repo)
    recorded = state["context"]["cookiecutter"]
    assert {key: recorded[key] for key in copier_questions()} == {
        key: copiers.answers[key] for key in copier_questions()
    }


def test_cruft_create_refuses_what_copier_refuses(template_repo: Path, tmp_path):
    with pytest.raises(ValueError, match='"import" is a Python keyword'):
        cruft_create(template_repo, tmp_path, "current", package_name="import")
    assert list(tmp_path.iterdir()) == []


def commit_all(project: Path, message: str) -> None:
    if not (project / ".git").exists():
        git("init", "-q", "-b", "main", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-qm", message, cwd=project)


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and path.relative_to(project).parts[0] != ".git"
    }


@pytest.mark.parametrize("framework", ["pytorch", "sklearn"])
def test_cruft_update_from_the_previous_release_equals_a_fresh_render(
    template_repo: Path, tmp_path: Path, framework: str
) -> None:
    project = cruft_create(
        template_repo, tmp_path / "updated", "previous", ml_framework=framework
    )
    assert PREVIOUS_README[1] in (project / "README.md").read_text(encoding="utf-8")
    assert not (project / MISSING_PAGE).exists()
    commit_all(project, "Start from reproml")
    assert cruft.update(project, checkout="current", skip_apply_ask=True)
    fresh = cruft_create(
        template_repo, tmp_path / "fresh", "current", ml_framework=framework
    )
    updated, expected = snapshot(project), snapshot(fresh)
    states = [json.loads(files.pop(CRUFT_ONLY)) for files in (updated, expected)]
    assert updated == expected
    assert states[0]["commit"] == states[1]["commit"]
    assert states[0]["context"] == states[1]["context"]


def test_cruft_update_keeps_the_users_edits(template_repo: Path, tmp_path) -> None:
    project = cruft_create(template_repo, tmp_path, "previous")
    commit_all(project, "Start from reproml")
    readme = project / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8") + "\n## Our findings\n\nRecall matters.\n",
        encoding="utf-8",
    )
    ours = project / "src" / "my_ml_project" / "ranking.py"
    ours.write_text('"""Our own module."""\n\nTOP_K = 5\n', encoding="utf-8")
    commit_all(project, "Our work")
    assert cruft.update(project, checkout="current", skip_apply_ask=True)
    text = readme.read_text(encoding="utf-8")
    assert PREVIOUS_README[0] in text and PREVIOUS_README[1] not in text
    assert text.endswith("\n## Our findings\n\nRecall matters.\n")
    assert "<<<<<<<" not in text
    assert ours.read_text(encoding="utf-8").endswith("TOP_K = 5\n")
    assert (project / MISSING_PAGE).is_file()


# The generated project's weekly check runs the tool that made the project:
# (record file, its text, exit status of the stubbed check, what the step must
# report).
URL = "_src_path: https://github.com/example/reproml.git\n"
LOCAL = "_src_path: /home/me/reproml\n"
WEEKLY_CHECKS = [
    (".copier-answers.yml", URL, 0, "::warning title=Template update::"),
    (".copier-answers.yml", LOCAL, 0, "recorded at the path /home/me/reproml"),
    (".cruft.json", "{}", 1, "::warning title=Template update::"),
    (".cruft.json", "{}", 0, "on the latest template release"),
    (None, "", 0, "records no template release"),
]


@pytest.fixture(scope="module")
def weekly_check(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The script of the generated project's weekly template check."""
    project = render(tmp_path_factory.mktemp("weekly") / "project")
    workflow = project.path / ".github" / "workflows" / "template-update.yml"
    steps = yaml.safe_load(workflow.read_text())["jobs"]["check-update"]["steps"]
    (script,) = [step["run"] for step in steps if "run" in step]
    return script


@pytest.mark.skipif(sys.platform == "win32", reason="stub tools are shell scripts")
@pytest.mark.parametrize(("record", "text", "status", "report"), WEEKLY_CHECKS)
def test_weekly_template_check_asks_the_tool_that_made_the_project(
    weekly_check: str,
    tmp_path: Path,
    record: str | None,
    text: str,
    status: int,
    report: str,
) -> None:
    script = weekly_check
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    calls = tmp_path / "calls"
    answers = {
        "copier": "echo '{\"update_available\": true}'",
        "cruft": f"exit {status}",
    }
    for name in ("pipx", "copier", "cruft"):
        stub = stubs / name
        stub.write_text(
            f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n{answers.get(name, "")}\n'
        )
        stub.chmod(0o755)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    if record:
        (checkout / record).write_text(text)
    summary = tmp_path / "summary.md"
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=checkout,
        env={**os.environ, "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}",
             "GITHUB_STEP_SUMMARY": str(summary)},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert report in done.stdout + summary.read_text()
    checks = calls.read_text().splitlines() if calls.exists() else []
    expected = {
        ".copier-answers.yml": [
            "pipx install copier",
            "copier check-update --output-format json",
        ],
        ".cruft.json": ["pipx install cruft", "cruft check"],
        None: [],
    }[record]
    if text == LOCAL:  # CI cannot reach the template: nothing to ask
        assert "::warning title=Template update::" in done.stdout
        expected = []
    assert checks == expected
    if report.startswith("::warning"):
        tool = "copier update --trust" if record == ".copier-answers.yml" else "cruft"
        assert f"run '{tool}" in done.stdout
