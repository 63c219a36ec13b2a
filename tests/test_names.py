"""Fast tier: the generated code passes black, isort and flake8 whatever name
the project gets.

black joins or splits a statement by its length, so a package name of one
length can format differently from another. Every length a package name may
have (1 to the validator's maximum) is checked, for both frameworks, on
renders that differ only in that name; real renders of short, long and
unicode-derived names on several Pythons check the rest of the answers.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import isort
import pytest
from conftest import ROOT, SUPPORTED_PYTHONS, Project, render, run

MAX_PACKAGE_LENGTH = int(
    re.search(
        r"set max_package_length = (\d+)",
        (ROOT / "template" / "templates" / "names.jinja").read_text(encoding="utf-8"),
    ).group(1)
)
# Stands for the package name and the slug in one render; each length's tree is
# that render with the stand-in replaced, which is what rendering the name does.
STAND_IN = "zqxstandin"
FRAMEWORKS = ["pytorch", "sklearn"]


def name_of_length(length: int) -> str:
    """A valid package name (and slug) of `length` characters: "n", "nm", ..."""
    return ("n" + "m" * MAX_PACKAGE_LENGTH)[:length]


def python_files(project: Path) -> dict[Path, str]:
    return {
        path.relative_to(project): path.read_text(encoding="utf-8")
        for path in sorted(project.rglob("*.py"))
        if ".git" not in path.parts
    }


def renamed(files: dict[Path, str], name: str) -> dict[Path, str]:
    """The files as a render for `name` has them (upper case in environment names)."""

    def rename(text: str) -> str:
        return text.replace(STAND_IN, name).replace(STAND_IN.upper(), name.upper())

    return {Path(rename(str(path))): rename(text) for path, text in files.items()}


def write(files: dict[Path, str], destination: Path) -> None:
    for relative, text in files.items():
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def lint(tree: Path, config_from: Path) -> None:
    """black and flake8 with the settings of the project in `config_from`."""
    config = ["--config", str(config_from / "pyproject.toml")]
    run(sys.executable, "-m", "black", "--check", "--diff", *config, ".", cwd=tree)
    flake8_config = ["--config", str(config_from / ".flake8")]
    run(sys.executable, "-m", "flake8", *flake8_config, ".", cwd=tree)


@pytest.fixture(scope="module")
def stand_in_renders(tmp_path_factory) -> dict[str, Project]:
    """A render per framework whose package and slug are the stand-in."""
    return {
        framework: render(
            tmp_path_factory.mktemp(f"stand-in-{framework}") / "project",
            project_name=STAND_IN,
            project_slug=STAND_IN,
            package_name=STAND_IN,
            ml_framework=framework,
        )
        for framework in FRAMEWORKS
    }


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_replacing_the_name_is_what_rendering_it_does(
    stand_in_renders: dict[str, Project], framework: str, tmp_path: Path
) -> None:
    """The sweep below is only sound if the name enters the code as plain text."""
    files = python_files(stand_in_renders[framework].path)
    for length in (1, MAX_PACKAGE_LENGTH):
        name = name_of_length(length)
        rendered = render(tmp_path / name, project_name=name, ml_framework=framework)
        assert rendered.answers["package_name"] == name
        assert renamed(files, name) == python_files(rendered.path)


def test_every_package_name_length_passes_the_linters(
    stand_in_renders: dict[str, Project], tmp_path: Path
) -> None:
    # Each file once: a PyTorch file identical to the scikit-learn one is skipped.
    # (The folders are no module names: isort would take them for first-party.)
    sklearn = python_files(stand_in_renders["sklearn"].path)
    pytorch = python_files(stand_in_renders["pytorch"].path)
    files = {Path("sklearn-files", path): text for path, text in sklearn.items()} | {
        Path("pytorch-files", path): text
        for path, text in pytorch.items()
        if sklearn.get(path) != text
    }
    # A file that does not mention the name formats alike for every name.
    named = {
        path: text
        for path, text in files.items()
        if STAND_IN in text or STAND_IN.upper() in text
    }
    settings = stand_in_renders["sklearn"].path
    for length in range(1, MAX_PACKAGE_LENGTH + 1):
        name = name_of_length(length)
        tree = tmp_path / f"length-{length:02d}"
        write(renamed(named, name), tree)
        # isort's first-party package is the name itself.
        pyproject = (settings / "pyproject.toml").read_text(encoding="utf-8")
        (tree / "pyproject.toml").write_text(pyproject.replace(STAND_IN, name))
        config = isort.Config(settings_file=str(tree / "pyproject.toml"))
        unsorted = [
            path
            for path in sorted(tree.rglob("*.py"))
            if not isort.check_file(path, show_diff=True, config=config)
        ]
        assert not unsorted, f"isort would change {unsorted}"
    # black's and flake8's settings hold no name: one run over every tree.
    lint(tmp_path, settings)


# Real renders: names at the edges of what the questions accept, spread over
# both frameworks and every supported Python.
NAMES = [
    ("Churn Sk", "sklearn"),
    ("ML", "pytorch"),
    ("x", "sklearn"),
    ("Ærøskøbing Fähre Prognose", "pytorch"),
    ("3D Vision", "sklearn"),
    ("Forecasting Customer Churn Daily With Gradient Boosting", "pytorch"),
]


@pytest.mark.parametrize(
    ("project_name", "framework", "python"),
    [
        (name, framework, SUPPORTED_PYTHONS[index % len(SUPPORTED_PYTHONS)])
        for index, (name, framework) in enumerate(NAMES)
    ],
    ids=[name for name, _ in NAMES],
)
def test_a_render_of_any_name_passes_the_linters(
    project_name: str, framework: str, python: str, tmp_path: Path
) -> None:
    project = render(
        tmp_path / "project",
        project_name=project_name,
        ml_framework=framework,
        python_version=python,
    )
    lint(project.path, project.path)
    run(sys.executable, "-m", "isort", "--check-only", "--diff", ".", cwd=project.path)
