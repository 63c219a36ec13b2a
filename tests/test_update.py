"""`copier update` against the real template history, in a temporary clone.

The clone's newest commit is this working tree (uncommitted changes included),
tagged 2.0.0; the previous release is tagged 1.0.0. Tests that need a later
release commit a change to the clone's template and tag it 3.0.0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import copier
import pytest
import yaml
from conftest import ROOT, Project, run, tool
from relock import PROJECT_FOLDER, released_lock_at

# The previous release while no release tag precedes HEAD: the first commit
# with today's layout.
FIRST_RELEASE = "81b3cb5a42c0cbe9fb1a765542ddeb4256ba19c5"
GIT_IDENTITY = ["-c", "user.name=reproml tests", "-c", "user.email=tests@example.org"]
# The last commit whose package was flat (train.py, features.py, data.py ...),
# before the modules moved into sub-packages by stage of the model's life.
FLAT_LAYOUT = "0a969fb6d288e9f8243c382b399489af2c55f34d"
# The last commit whose params.yaml held the data's columns (data.features),
# before they moved to columns.yaml.
FEATURES_IN_PARAMS = "d0a33c37b42da987073ba7c5f0e6f8c0f9a338eb"


def git(*args: str, cwd: Path) -> str:
    return run("git", *GIT_IDENTITY, *args, cwd=cwd).stdout.strip()


def previous_release() -> str:
    """The commit of the last release tag before HEAD (else FIRST_RELEASE)."""
    found = subprocess.run(
        ["git", "describe", "--tags", "--abbrev=0", "HEAD~1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        return FIRST_RELEASE
    # A commit, not the tag's name: the clone drops the template's own tags.
    return git("rev-parse", f"{found.stdout.strip()}^{{commit}}", cwd=ROOT)


@dataclass(frozen=True)
class TemplateRepo:
    path: Path

    def render(self, destination: Path, ref: str, **answers: str) -> Project:
        copier.run_copy(
            str(self.path), str(destination), data=answers, vcs_ref=ref,
            defaults=True, quiet=True,
        )  # fmt: skip
        commit_all(destination, "Start from reproml")
        return Project(destination, {})

    def release(self, tag: str, edits: dict[str, Callable[[str], str]]) -> None:
        """Commit `edits` (path in the project folder -> text transform) as `tag`."""
        for relative, transform in edits.items():
            path = self.path / PROJECT_FOLDER / relative
            path.write_text(transform(path.read_text()))
        git("commit", "-qam", f"Release {tag}", cwd=self.path)
        git("tag", tag, cwd=self.path)


def commit_all(path: Path, message: str) -> None:
    if not (path / ".git").exists():
        git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-qm", message, cwd=path)


def update(project: Path, ref: str, **answers: str) -> None:
    copier.run_update(
        str(project), data=answers, vcs_ref=ref, defaults=True, overwrite=True,
        unsafe=True, quiet=True,
    )  # fmt: skip


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file below `path` but git's, the answers file without `_commit`."""
    files = {}
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if file.is_file() and relative.parts[0] != ".git":
            content = file.read_bytes()
            if relative.name == ".copier-answers.yml":
                lines = content.splitlines(keepends=True)
                content = b"".join(x for x in lines if not x.startswith(b"_commit:"))
            files[str(relative)] = content
    return files


def changed_files(project: Path) -> set[str]:
    """Files that differ from the last commit, untracked ones included."""
    changed = git("diff", "--name-only", "HEAD", cwd=project).split()
    untracked = git("ls-files", "--others", "--exclude-standard", cwd=project).split()
    return set(changed) | set(untracked)


@pytest.fixture
def template_repo(tmp_path: Path) -> TemplateRepo:
    """A clone whose tags 1.0.0 and 2.0.0 are the previous and current release."""
    clone = tmp_path / "template"
    previous = previous_release()
    git("clone", "-q", str(ROOT), str(clone), cwd=tmp_path)
    git("rm", "-rq", "--cached", ".", cwd=clone)
    for path in clone.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    listed = git("ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT)
    for relative in filter(None, listed.split("\0")):
        if (ROOT / relative).is_file():
            (clone / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, clone / relative)
    git("add", "-A", cwd=clone)
    git("commit", "-q", "--allow-empty", "-m", "Working tree", cwd=clone)
    for tag in git("tag", cwd=clone).split():
        git("tag", "-d", tag, cwd=clone)
    git("tag", "1.0.0", previous, cwd=clone)
    git("tag", "2.0.0", cwd=clone)
    return TemplateRepo(clone)


@pytest.mark.parametrize("framework", ["pytorch", "sklearn"])
def test_update_from_previous_release_equals_fresh_render(
    template_repo: TemplateRepo, tmp_path: Path, framework: str
) -> None:
    updated = template_repo.render(
        tmp_path / "updated", "1.0.0", ml_framework=framework
    )
    update(updated.path, "2.0.0")
    fresh = template_repo.render(tmp_path / "fresh", "2.0.0", ml_framework=framework)
    assert snapshot(updated.path) == snapshot(fresh.path)
    run(tool("poetry"), "check", "--lock", cwd=updated.path)


@pytest.mark.parametrize("framework", ["pytorch", "sklearn"])
def test_the_lock_a_release_shipped_is_found_in_that_releases_layout(
    template_repo: TemplateRepo, tmp_path: Path, framework: str
) -> None:
    # 1.0.0 kept its project in template/, 2.0.0 in the cookiecutter folder.
    for tag in ("1.0.0", "2.0.0"):
        shipped = (
            template_repo.render(tmp_path / tag, tag, ml_framework=framework).path
            / "poetry.lock"
        )
        found = released_lock_at(template_repo.path, tag, framework)
        assert found == shipped.read_bytes()


# A user's edits of modules that moved: (path before the move, path after it,
# the line the user changed, what they made of it).
MOVED_EDITS = [
    (
        "src/my_ml_project/train.py",
        "src/my_ml_project/modeling/train.py",
        '        message = " ".join(str(exc).split())\n',
        '        message = " ".join(str(exc).split()).rstrip(".")\n',
    ),
    (
        "src/my_ml_project/features.py",
        "src/my_ml_project/features/transform.py",
        "        tiny = 64 * np.finfo(np.float64).eps",
        "        tiny = 128 * np.finfo(np.float64).eps",
    ),
    (  # data.py was split: the split function went to data/split.py
        "src/my_ml_project/data.py",
        "src/my_ml_project/data/split.py",
        "    rng = np.random.default_rng(seed)\n",
        "    rng = np.random.default_rng(seed + 1)\n",
    ),
    (
        "tests/test_features.py",
        "tests/features/test_transform.py",
        "def test_",
        "def test_ours():\n    assert True\n\n\ndef test_",
    ),
]


@pytest.mark.parametrize("framework", ["pytorch", "sklearn"])
def test_update_across_the_move_to_sub_packages_keeps_edits_of_moved_modules(
    template_repo: TemplateRepo, tmp_path: Path, framework: str
) -> None:
    project = template_repo.render(
        tmp_path / "updated", FLAT_LAYOUT, ml_framework=framework
    ).path
    for old, _, line, edited in MOVED_EDITS:
        path = project / old
        text = path.read_text()
        assert line in text, (old, line)
        path.write_text(text.replace(line, edited, 1))
    commit_all(project, "Our changes")
    update(project, "2.0.0")
    fresh = template_repo.render(tmp_path / "fresh", "2.0.0", ml_framework=framework)
    expected = snapshot(fresh.path)
    for old, new, line, edited in MOVED_EDITS:
        assert not (project / old).exists()
        text = expected[new].decode()
        assert line in text, (new, line)
        expected[new] = text.replace(line, edited, 1).encode()
    updated = snapshot(project)
    assert not [name for name in updated if name.endswith(".rej")]
    assert not [
        name
        for name, text in updated.items()
        if b"<<<<<<<" in text and b"<<<<<<<" not in expected.get(name, b"")
    ]
    assert updated == expected
    run(tool("poetry"), "check", "--lock", cwd=project)


def test_an_edit_next_to_a_change_of_the_template_is_a_named_conflict(
    template_repo: TemplateRepo, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = template_repo.render(
        tmp_path / "project", FLAT_LAYOUT, ml_framework="sklearn"
    ).path
    # The release rewrote the docstring right above this line.
    old = project / "src" / "my_ml_project" / "train.py"
    line = "    data = hashlib.sha256()\n"
    assert line in old.read_text()
    old.write_text(old.read_text().replace(line, line.replace("()", "(b'ours')")))
    commit_all(project, "Our changes")
    update(project, "2.0.0")
    new = (project / "src" / "my_ml_project" / "modeling" / "train.py").read_text()
    assert "<<<<<<< after updating" in new and "hashlib.sha256(b'ours')" in new
    assert "Resolve the <<<<<<< markers" in capfd.readouterr().err


def test_a_project_on_a_dropped_python_moves_to_the_oldest_supported(
    template_repo: TemplateRepo, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # 1.0.0 offered Python 3.10, which the current release no longer supports.
    answers = {"ml_framework": "sklearn"}
    updated = template_repo.render(
        tmp_path / "updated", "1.0.0", python_version="3.10", **answers
    )
    update(updated.path, "2.0.0")
    assert "Python 3.10 is no longer supported" in capfd.readouterr().out
    recorded = yaml.safe_load((updated.path / ".copier-answers.yml").read_text())
    assert recorded["python_version"] == "3.11"
    fresh = template_repo.render(
        tmp_path / "fresh", "2.0.0", python_version="3.11", **answers
    )
    assert snapshot(updated.path) == snapshot(fresh.path)
    run(tool("poetry"), "check", "--lock", cwd=updated.path)


def test_python_migration_never_fails_the_update(tmp_path: Path) -> None:
    unreadable = tmp_path / "missing" / ".copier-answers.yml"
    script = ROOT / "hooks" / "retire_python.py"
    completed = subprocess.run(
        [sys.executable, str(script), str(unreadable)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0
    assert "copier update --trust --data python_version=3.11" in completed.stderr
    assert not unreadable.parent.exists()


def test_second_update_changes_nothing(template_repo: TemplateRepo, tmp_path) -> None:
    project = template_repo.render(tmp_path / "project", "1.0.0")
    update(project.path, "2.0.0")
    commit_all(project.path, "Update to 2.0.0")
    update(project.path, "2.0.0")
    assert changed_files(project.path) == set()


def test_update_of_a_dirty_project_is_refused(template_repo: TemplateRepo, tmp_path):
    project = template_repo.render(tmp_path / "project", "1.0.0")
    readme = project.path / "README.md"
    readme.write_text(readme.read_text() + "\nUncommitted notes.\n")
    before = snapshot(project.path)
    with pytest.raises(Exception, match="dirty"):
        update(project.path, "2.0.0")
    assert snapshot(project.path) == before


def test_changing_an_answer_rerenders_only_what_it_controls(
    template_repo: TemplateRepo, tmp_path: Path
) -> None:
    project = template_repo.render(tmp_path / "project", "2.0.0", license="MIT")
    update(project.path, "2.0.0", license="Apache-2.0")
    assert changed_files(project.path) == {
        ".copier-answers.yml",
        "LICENSE",
        "README.md",
        "pyproject.toml",
    }
    assert (project.path / "LICENSE").read_text().lstrip().startswith("Apache License")
    run(tool("poetry"), "check", "--lock", cwd=project.path)


def test_conflicting_edit_leaves_markers_that_pre_commit_flags(
    template_repo: TemplateRepo, tmp_path: Path
) -> None:
    project = template_repo.render(tmp_path / "project", "2.0.0")
    readme = project.path / "README.md"
    user_title = "# Churn forecasting, our way"
    readme.write_text(readme.read_text().replace("# My ML Project", user_title, 1))
    commit_all(project.path, "Our title")
    template_repo.release(
        "3.0.0",
        {
            "README.md": lambda text: text.replace(
                "# {{ cookiecutter.project_name }}",
                "# {{ cookiecutter.project_name }} (reproducible)",
                1,
            )
        },
    )
    update(project.path, "3.0.0")
    text = readme.read_text()
    assert "<<<<<<<" in text and ">>>>>>>" in text
    assert user_title in text and "# My ML Project (reproducible)" in text
    hook = subprocess.run(
        [tool("pre-commit"), "run", "check-merge-conflict", "--files", "README.md"],
        cwd=project.path,
        capture_output=True,
        text=True,
    )
    assert hook.returncode == 1
    assert "README.md" in hook.stdout


@pytest.mark.slow
def test_user_edits_survive_an_update_of_the_same_files(
    template_repo: TemplateRepo, tmp_path: Path
) -> None:
    project = template_repo.render(
        tmp_path / "project", "2.0.0", ml_framework="sklearn"
    )
    path = project.path
    package = path / "src" / "my_ml_project"
    (package / "ranking.py").write_text('"""Our own module."""\n\nTOP_K = 5\n')
    readme = path / "README.md"
    readme.write_text(
        readme.read_text() + "\n## Our findings\n\nRecall matters most.\n"
    )
    run(tool("poetry"), "add", "--lock", "--no-interaction", "tabulate>=0.9", cwd=path)
    commit_all(path, "Our work")
    template_repo.release(
        "3.0.0",
        {
            "README.md": lambda text: text.replace(
                "## Project layout", "## Where things are", 1
            ),
            "pyproject.toml": lambda text: text.replace(
                '    "typer>=0.12",\n', '    "typer>=0.12",\n    "rich>=13.0",\n', 1
            ),
        },
    )
    update(path, "3.0.0")
    assert (package / "ranking.py").read_text().endswith("TOP_K = 5\n")
    text = readme.read_text()
    assert "## Our findings\n\nRecall matters most." in text
    assert "## Where things are" in text and "<<<<<<<" not in text
    pyproject = project.toml("pyproject.toml")["project"]["dependencies"]
    assert any(d.startswith("tabulate") for d in pyproject)
    assert "rich>=13.0" in pyproject
    locked = {p["name"] for p in project.toml("poetry.lock")["package"]}
    assert {"tabulate", "rich"} <= locked
    run(tool("poetry"), "check", "--lock", cwd=path)


def update_as_a_user(project: Path, ref: str, path: str) -> subprocess.CompletedProcess:
    """`copier update --trust` from the command line, with `path` as PATH."""
    return subprocess.run(
        [
            sys.executable, "-m", "copier", "update", "--trust", "--defaults",
            f"--vcs-ref={ref}",
        ],
        cwd=project,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
    )  # fmt: skip


def not_relocked_block(stderr: str) -> list[str]:
    """The lines between the two ==== rules that relock.py prints on stderr."""
    lines = stderr.splitlines()
    rules = [index for index, line in enumerate(lines) if set(line) == {"="}]
    assert len(rules) == 2, stderr
    return lines[rules[0] + 1 : rules[1]]


@pytest.fixture
def release_with_new_readme(template_repo: TemplateRepo, tmp_path: Path) -> Path:
    """A project at 2.0.0 and a release 3.0.0 that retitles its README."""
    project = template_repo.render(tmp_path / "project", "2.0.0")
    template_repo.release(
        "3.0.0",
        {
            "README.md": lambda text: text.replace(
                "# {{ cookiecutter.project_name }}",
                "# {{ cookiecutter.project_name }} (reproducible)",
                1,
            )
        },
    )
    return project.path


def assert_updated_but_not_relocked(
    project: Path, lock_before: bytes, done: subprocess.CompletedProcess
) -> list[str]:
    """The merge is in place and the lock untouched; returns the message block."""
    assert done.returncode == 0, done.stderr
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# My ML Project (reproducible)\n")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "3.0.0"
    assert (project / "poetry.lock").read_bytes() == lock_before
    block = not_relocked_block(done.stderr)
    assert "    poetry lock && poetry check --lock" in block
    assert "poetry.lock is left exactly as it was. To bring it in line with" in block
    return block


def test_update_without_poetry_completes_and_says_how_to_relock(
    release_with_new_readme: Path,
) -> None:
    project = release_with_new_readme
    lock_before = (project / "poetry.lock").read_bytes()
    folders = os.environ["PATH"].split(os.pathsep)
    without_poetry = [d for d in folders if not shutil.which("poetry", path=d)]
    assert len(without_poetry) < len(folders), "the test needs Poetry on PATH"
    done = update_as_a_user(project, "3.0.0", os.pathsep.join(without_poetry))
    block = assert_updated_but_not_relocked(project, lock_before, done)
    assert block[0] == "poetry.lock was NOT re-locked: Poetry is not on PATH."


def test_update_whose_relock_fails_completes_and_keeps_the_lock(
    release_with_new_readme: Path,
) -> None:
    project = release_with_new_readme
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    # A dependency no release of the package satisfies: `poetry lock` fails.
    pyproject.write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "tabulate<0",\n', 1),
        encoding="utf-8",
    )
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert "tabulate<0" in dependencies
    commit_all(project, "Depend on what cannot be had")
    lock_before = (project / "poetry.lock").read_bytes()
    done = update_as_a_user(project, "3.0.0", os.environ["PATH"])
    block = assert_updated_but_not_relocked(project, lock_before, done)
    assert block[0].startswith("poetry.lock was NOT re-locked: `poetry lock` exited")
    assert "tabulate" in done.stdout + done.stderr


def readme_copy_command() -> str:
    """The copier command of the README's first code block, as a shell line."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip()
    return block.split(" && ")[-1]


def test_a_project_made_by_the_readmes_command_updates_from_the_clone(
    template_repo: TemplateRepo, tmp_path: Path
) -> None:
    clone = template_repo.path
    for tag in git("tag", cwd=clone).split():  # as the repository: no release yet
        git("tag", "-d", tag, cwd=clone)
    command = readme_copy_command()
    assert command.startswith(".venv/bin/copier copy --defaults ")
    command = command.replace(".venv/bin/copier", tool("copier"), 1)
    run("bash", "-c", command, cwd=clone)
    project = clone.parent / "my-ml-project"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert Path(answers["_src_path"]) == clone
    commit_all(project, "Start from reproml")
    readme = Path(PROJECT_FOLDER, "README.md")
    (clone / readme).write_text((clone / readme).read_text() + "\nA later line.\n")
    git("commit", "-qam", "A later template commit", cwd=clone)

    check = run(tool("copier"), "check-update", "--output-format", "json", cwd=project)
    assert yaml.safe_load(check.stdout)["update_available"] is True
    run(tool("copier"), "update", "--trust", "--defaults", cwd=project)
    assert (project / "README.md").read_text().endswith("\nA later line.\n")
    assert changed_files(project) == {".copier-answers.yml", "README.md"}


# The data section as `init-data` wrote it before columns.yaml, for a file.
ADOPTED = """data:
  # `init-data FILE --target COLUMN` writes this section; edit it freely.
  source: data/external/houses.csv  # a CSV or Parquet file, or sklearn:<name>
  task: classification  # classification or regression
  target: sold  # the column to predict
  classes: ['no', 'yes']  # every label, as in the data; null for regression
  test_size: 0.25  # share of rows held out for evaluation
  features:
    rooms: {kind: numeric, min: 1.0}
    area m2: {kind: numeric, nullable: true}
    district: {kind: categorical, categories: ['on', north, '1']}
"""


def test_update_moves_adopted_columns_into_columns_yaml(
    template_repo: TemplateRepo, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    git("tag", "1.5.0", FEATURES_IN_PARAMS, cwd=template_repo.path)
    project = template_repo.render(tmp_path / "project", "1.5.0")
    params = project.path / "params.yaml"
    text = params.read_text()
    start = text.index("data:\n")
    end = text.index("\nfeatures:\n", start)
    params.write_text(text[:start] + ADOPTED + text[end:])
    commit_all(project.path, "Adopt houses.csv")
    adopted = yaml.safe_load(ADOPTED)["data"]

    update(project.path, "2.0.0")

    text = params.read_text()
    assert "<<<<<<<" not in text and ">>>>>>>" not in text
    data = yaml.safe_load(text)["data"]
    # The project's own data, and the settings later releases added beside it.
    own = {k: v for k, v in adopted.items() if k != "features"}
    assert data == {**own, "checks": "warn", "engine": "pandas"}
    assert "# every label, as in the data; empty for regression" in text
    columns = yaml.safe_load((project.path / "columns.yaml").read_text())
    assert columns == adopted["features"]
    assert "init-data data/external/houses.csv" in capfd.readouterr().err
    # A project that kept the default data is left as a fresh render has it.
    default = template_repo.render(tmp_path / "default", "1.5.0")
    update(default.path, "2.0.0")
    fresh = template_repo.render(tmp_path / "fresh", "2.0.0")
    for name in ("params.yaml", "columns.yaml"):
        assert (default.path / name).read_text() == (fresh.path / name).read_text()
