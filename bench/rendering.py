"""`nox -s bench -- render`: render time of the default project with copier,
cookiecutter and cruft, and copier's own floor."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import nox

from .measure import timed
from .projects import git_commit_all
from .template import ROOT, render

RUNS = 9
Render = Callable[[Path], list[str]]


def copier_copy(template: Path) -> Render:
    """The command that renders `template`'s defaults into a destination."""
    command = ["copier", "copy", "--quiet", "--defaults", "--vcs-ref=HEAD"]
    return lambda destination: [*command, str(template), str(destination)]


def cookiecutter_cli(*command: str) -> Render:
    """`command` (cookiecutter, or cruft create) rendering the template's
    defaults into a destination."""
    return lambda destination: [
        *command, "--no-input", "--output-dir", str(destination),
        "--directory", "template", str(ROOT),
    ]  # fmt: skip


def median_renders(session: nox.Session, renders: list[Render], runs: int) -> list:
    """Median wall time of each render command (destination -> command).

    Runs alternate between the commands so that a busy machine slows all alike.
    """
    times: list[list[float]] = [[] for _ in renders]
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            for index, command in enumerate(renders):
                destination = Path(tmp) / f"render-{index}-{run}"
                destination.mkdir()
                times[index].append(timed(session, *command(destination), cwd=ROOT))
    return [statistics.median(series) for series in times]


def trivial_template(folder: Path, layout: Path | None = None) -> Path:
    """A one-question template in a git repository: copier's floor.

    With `layout` (a rendered project), the template also holds an empty file
    at each of that project's paths: copier's floor for that many files.
    """
    folder.mkdir()
    if layout is not None:
        for path in layout.rglob("*"):
            if path.is_file() and ".git" not in path.relative_to(layout).parts:
                placeholder = folder / path.relative_to(layout)
                placeholder.parent.mkdir(parents=True, exist_ok=True)
                placeholder.touch()
        (folder / ".copier-answers.yml").unlink(missing_ok=True)
        (folder / "README.md").unlink(missing_ok=True)
    (folder / "copier.yml").write_text("name:\n  type: str\n  default: demo\n")
    (folder / "README.md.jinja").write_text("# {{ name }}\n")
    git_commit_all(folder, "floor")
    return folder


def run(session: nox.Session) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        render(session, project)
        renders = [
            copier_copy(trivial_template(Path(tmp) / "floor")),
            copier_copy(trivial_template(Path(tmp) / "layout", layout=project)),
            copier_copy(ROOT),
            cookiecutter_cli("cookiecutter"),
            cookiecutter_cli("cruft", "create"),
        ]
        files = sum(1 for path in project.rglob("*") if path.is_file())
        # Cookiecutter's own configuration, so that no replay lands in $HOME.
        config = Path(tmp) / "cookiecutter.yaml"
        config.write_text(f"replay_dir: {Path(tmp) / 'replay'}\n")
        os.environ["COOKIECUTTER_CONFIG"] = str(config)
        floor, layout, ours, cookiecutter, cruft = median_renders(
            session, renders, RUNS
        )
    session.log(f"render time of the default project, median of {RUNS}:")
    rows = [
        (f"copier copy --defaults ({files} files)", ours),
        ("cookiecutter --no-input (the same files)", cookiecutter),
        ("cruft create --no-input (clones the template)", cruft),
        ("copier's floor, a trivial one-file template", floor),
        (f"copier, the same {files} paths as reproml, empty", layout),
        ("added by reproml over copier's floor", ours - floor),
        (f"  of which copier's own cost of {files} files", layout - floor),
    ]
    for label, seconds in rows:
        session.log(f"  {label:<48}{seconds:6.2f} s")
