"""Fast tier: a rendered project assumes no POSIX shell, layout or file system.

Generated projects run on Linux, macOS and Windows. These checks find the
usual offenders statically, in every named answer set: shell syntax in the
pipeline's commands, POSIX-only paths in the noxfile, `shell=True`, file names
that Windows refuses, and line endings left to the platform.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import venv
from pathlib import Path, PurePosixPath

import pytest
import yaml
from conftest import ROOT, Project, render, run

# Syntax that means something else, or nothing, in cmd.exe or PowerShell:
# `VAR=value cmd`, pipes, redirections, chaining, expansions, POSIX quoting.
SHELL_SYNTAX = re.compile(r"^\s*\w+=|[|&;<>$`\\'\"]")
POSIX_PATH_PART = re.compile(r"(^|[/\\])(bin|lib)([/\\]|$)")
WINDOWS_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM\d|LPT\d)(\..*)?", re.IGNORECASE)
WINDOWS_FORBIDDEN_CHARS = set('<>:"|?*\\') | {chr(code) for code in range(32)}
BINARY_OUTPUTS = ("models/model.pkl", "models/model.pt", "reports/figures/roc.png")


def relative_files(project: Project) -> list[PurePosixPath]:
    return sorted(
        PurePosixPath(path.relative_to(project.path).as_posix())
        for path in project.path.rglob("*")
        if path.is_file()
    )


def python_files(project: Project):
    for relative in relative_files(project):
        if relative.suffix == ".py":
            path = project.path / relative
            yield relative, ast.parse(path.read_text(encoding="utf-8"))


def windows_name_problems(paths: list[PurePosixPath]) -> list[str]:
    """Names Windows refuses, and paths that only differ in case (which a
    case-insensitive file system, as on Windows and macOS, would merge)."""
    problems = []
    for path in paths:
        for name in path.parts:
            if WINDOWS_RESERVED.fullmatch(name):
                problems.append(f"{path}: {name!r} is a reserved device name")
            if WINDOWS_FORBIDDEN_CHARS & set(name):
                problems.append(f"{path}: {name!r} has a forbidden character")
            if name.endswith((".", " ")):
                problems.append(f"{path}: {name!r} ends with a dot or space")
    folded: dict[str, PurePosixPath] = {}
    for path in paths:
        other = folded.setdefault(str(path).casefold(), path)
        if other != path:
            problems.append(f"{path} and {other} differ only in case")
    return problems


def test_pipeline_commands_are_valid_in_every_shell(project: Project) -> None:
    stages = yaml.safe_load((project.path / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        commands = stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]
        for command in commands:
            assert not SHELL_SYNTAX.search(command), f"{name}: {command!r}"


def test_pre_commit_hooks_run_programs_not_shell_lines(project: Project) -> None:
    config = yaml.safe_load((project.path / ".pre-commit-config.yaml").read_text())
    for repo in config["repos"]:
        for hook in repo["hooks"]:
            if hook["language"] == "system":
                assert not SHELL_SYNTAX.search(hook["entry"]), hook


def test_noxfile_has_no_posix_paths_or_separators(project: Project) -> None:
    tree = ast.parse((project.path / "noxfile.py").read_text(encoding="utf-8"))
    literals = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    # venv/bin/python or lib/pythonX.Y: Windows has Scripts\python.exe and Lib.
    assert [text for text in literals if POSIX_PATH_PART.search(text)] == []
    # PATH entries are joined with os.pathsep (";" on Windows), never ":".
    assert ":" not in literals


@pytest.fixture(scope="module")
def noxfile(tmp_path_factory: pytest.TempPathFactory):
    """The generated noxfile of a default render, imported as a module."""
    project = render(tmp_path_factory.mktemp("noxfile") / "project")
    spec = importlib.util.spec_from_file_location(
        "noxfile", project.path / "noxfile.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_noxfile_finds_a_virtual_environment_s_python(noxfile, tmp_path) -> None:
    venv.create(tmp_path / "env", with_pip=False)  # as the sessions make one
    python = noxfile.venv_python(tmp_path / "env")
    assert python is not None
    assert Path(python).parent == noxfile.programs_dir(tmp_path / "env")
    prefix = run(python, "-c", "import sys; print(sys.prefix)", cwd=tmp_path)
    assert Path(prefix.stdout.strip()).resolve() == (tmp_path / "env").resolve()
    assert noxfile.venv_python(tmp_path / "missing") is None


def test_noxfile_finds_installed_pythons_by_version(noxfile, tmp_path) -> None:
    version = "%d.%d" % sys.version_info[:2]  # the tests' Python is on PATH
    found = noxfile.find_python(version)
    assert found is not None
    reported = run(found, "-c", "import sys; print(sys.version_info[:2])", cwd=tmp_path)
    assert reported.stdout.strip() == str(sys.version_info[:2])
    assert noxfile.find_python("2.9") is None


def test_no_code_goes_through_a_shell(project: Project) -> None:
    offenders = [
        f"{relative}:{node.lineno}"
        for relative, tree in python_files(project)
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword)
        and node.arg == "shell"
        and not (isinstance(node.value, ast.Constant) and node.value.value is False)
    ]
    assert offenders == []


def test_file_names_are_valid_on_windows_and_macos(project: Project) -> None:
    assert windows_name_problems(relative_files(project)) == []


def test_template_file_names_are_valid_on_windows_and_macos() -> None:
    # The template is cloned by copier on the user's machine, Windows included.
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True
    )
    paths = [PurePosixPath(name) for name in listed.stdout.split("\0") if name]
    assert paths and windows_name_problems(paths) == []


def test_the_checks_catch_what_windows_refuses() -> None:
    bad = [
        PurePosixPath("reports/aux.json"),
        PurePosixPath("data/a:b.csv"),
        PurePosixPath("notes."),
        PurePosixPath("src/Model.py"),
        PurePosixPath("src/model.py"),
    ]
    assert len(windows_name_problems(bad)) == 4
    assert SHELL_SYNTAX.search("PYTHONHASHSEED=0 python -m pkg train")
    assert SHELL_SYNTAX.search("python -m pkg evaluate | tee log")
    assert not SHELL_SYNTAX.search("python -m pkg train")
    assert POSIX_PATH_PART.search(".venv/bin/python")


def git_attributes(gitattributes: Path, paths: list[str], tmp_path: Path) -> dict:
    """``{path: {attribute: value}}`` as git applies `gitattributes` to `paths`."""
    repo = tmp_path / "attributes"
    repo.mkdir()
    run("git", "init", "-q", cwd=repo)
    (repo / ".gitattributes").write_bytes(gitattributes.read_bytes())
    listed = run("git", "check-attr", "text", "eol", "--", *paths, cwd=repo).stdout
    attributes: dict[str, dict[str, str]] = {}
    for line in listed.splitlines():
        path, attribute, value = line.rsplit(": ", 2)
        attributes.setdefault(path, {})[attribute] = value
    return attributes


def test_hashed_files_keep_lf_line_endings_on_every_platform(
    project: Project, tmp_path: Path
) -> None:
    # DVC hashes the bytes of code, params and outputs; CRLF would change them.
    package = project.answers["package_name"]
    hashed = [
        "params.yaml",
        "columns.yaml",
        "dvc.yaml",
        "dvc.lock",
        "poetry.lock",
        "pyproject.toml",
        f"src/{package}/cli.py",
        "reports/metrics.json",
        "reports/live/metrics.json",
        "reports/live/run_info.json",
        "data/external/mine.csv",
    ]
    rendered = [
        str(path)
        for path in relative_files(project)
        if path.suffix not in {".png", ".pkl", ".pt"}
    ]
    paths = [*hashed, *rendered, *BINARY_OUTPUTS]
    attributes = git_attributes(project.path / ".gitattributes", paths, tmp_path)
    for path in hashed:
        assert attributes[path] == {"text": "set", "eol": "lf"}, path
    for path in rendered:  # the rest: LF too, unless git finds it binary
        assert attributes[path]["eol"] == "lf", path
        assert attributes[path]["text"] in {"set", "auto"}, path
    for path in BINARY_OUTPUTS:
        assert attributes[path]["text"] == "unset", path


@pytest.mark.parametrize("shell", ["bash", "powershell"])
def test_readme_quick_start_speaks_bash_and_powershell(
    project: Project, shell: str
) -> None:
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(rf"```{shell}\n(.*?)```", readme, flags=re.DOTALL)
    commands = "\n".join(blocks)
    prefix = project.answers["package_name"].upper()
    if shell == "bash":
        expected = ["source .venv/bin/activate", f"export {prefix}_LOG_LEVEL="]
    else:
        expected = [r".venv\Scripts\Activate.ps1", f"$env:{prefix}_LOG_LEVEL ="]
    for command in expected:
        assert command in commands
