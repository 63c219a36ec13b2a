"""Fast tier: what `copier copy` writes, for every named answer set."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import SUPPORTED_PYTHONS, Project, lock_file, run, tool
from lockfile import PYTHONS, applies, drop_shadowed, duplicates, environments
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%|\{#")


def text_files(project: Project):
    for path in sorted(project.path.rglob("*")):
        if path.is_file() and ".git" not in path.parts:
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def test_no_jinja_is_left_in_names_or_contents(project: Project) -> None:
    leftovers = [
        str(path.relative_to(project.path))
        for path, text in text_files(project)
        if UNRENDERED.search(text)
        or UNRENDERED.search(str(path))
        or path.suffix == ".jinja"
    ]
    assert leftovers == []


def test_every_structured_file_parses(project: Project) -> None:
    parsed = set()
    for path, text in text_files(project):
        if path.suffix == ".toml" or path.name == "poetry.lock":
            tomllib.loads(text)
        elif path.suffix in {".yaml", ".yml"}:
            list(yaml.safe_load_all(text))
        elif path.suffix in {".json", ".ipynb"}:
            json.loads(text)
        else:
            continue
        parsed.add(str(path.relative_to(project.path)))
    assert {
        "pyproject.toml",
        "poetry.toml",
        "poetry.lock",
        ".copier-answers.yml",
        ".pre-commit-config.yaml",
    } <= parsed


def test_layout_matches_the_design(project: Project) -> None:
    package = project.answers["package_name"]
    expected = [
        "README.md",
        ".gitignore",
        ".env.example",
        ".flake8",
        ".pre-commit-config.yaml",
        ".copier-answers.yml",
        "pyproject.toml",
        "poetry.toml",
        "poetry.lock",
        "noxfile.py",
        f"src/{package}/__init__.py",
        f"src/{package}/__main__.py",
        *(
            f"src/{package}/{module}.py"
            for module in (
                "cli", "config", "params", "errors",
                "data/sources", "data/tables", "data/schema", "data/split",
                "data/ingest", "data/prepare", "data/init_data",
                "data/versioning", "data/sample",
                "features/transform", "features/targets", "features/processed",
                "features/build",
                "modeling/interfaces", "modeling/model", "modeling/train",
                "modeling/evaluators", "modeling/predictor", "modeling/evaluate",
                "modeling/plots",
                "tracking/store", "tracking/runs", "tracking/registry",
                "serving/loading", "serving/batch", "serving/api", "serving/pyfunc",
                "serving/mlflow_model",
                "monitoring/statistics", "monitoring/report", "monitoring/monitor",
                "utils/atomic", "utils/arrays", "utils/figures", "utils/hashseed",
                "utils/log", "utils/run_info", "utils/seeding",
            )
        ),  # fmt: skip
        *(
            f"tests/{name}.py"
            for name in (
                "conftest", "test_cli", "test_config", "test_package", "test_pipeline",
                "test_reproducibility",
                "data/test_init_data", "data/test_sources_and_split",
                "data/test_schema", "features/test_transform",
                "modeling/test_model", "modeling/test_evaluate",
                "modeling/test_framework", "tracking/test_tracking",
                "serving/test_serving", "monitoring/test_monitor",
                "utils/test_hashseed", "utils/test_seeding",
            )  # fmt: skip
        ),
        "dvc.yaml",
        "params.yaml",
        "columns.yaml",
        ".dvc/config",
        ".dvc/.gitignore",
        ".dvcignore",
        "mkdocs.yml",
        "docs/index.md",
        "docs/pipeline.md",
        "docs/own-data.md",
        "docs/monitoring.md",
        "docs/serving.md",
        "docs/reproducibility.md",
        "docs/updating.md",
        "notebooks/01-exploration.ipynb",
        "Dockerfile",
        ".dockerignore",
        ".github/dependabot.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/monitor.yml",
        *(
            f"data/{part}/.gitkeep"
            for part in ("raw", "interim", "processed", "external")
        ),
        "models/.gitkeep",
        "reports/figures/.gitkeep",
    ]
    missing = [name for name in expected if not (project.path / name).is_file()]
    assert missing == []
    assert (project.path / "LICENSE").exists() == (project.answers["license"] != "none")


def test_answers_file_records_every_answer(project: Project) -> None:
    for key in ("project_name", "project_slug", "package_name", "ml_framework"):
        assert project.answers[key]
    assert project.answers["_src_path"]
    assert project.answers["_commit"]


def test_pyproject_carries_the_answers(project: Project) -> None:
    pyproject = project.toml("pyproject.toml")
    meta = pyproject["project"]
    answers = project.answers
    assert meta["name"] == answers["project_slug"]
    assert meta["description"] == answers["description"]
    assert meta["authors"] == [
        {"name": answers["author_name"], "email": answers["author_email"]}
    ]
    assert meta["requires-python"] == ">=3.11,<3.15"
    assert meta.get("license", "none") == answers["license"]
    # The CLI's entry point, which gives pipeline commands the hash seed.
    assert meta["scripts"] == {
        answers["project_slug"]: f"{answers['package_name']}.__main__:main"
    }
    assert pyproject["tool"]["mypy"]["python_version"] == answers["python_version"]
    assert pyproject["tool"]["isort"]["profile"] == "black"
    requirements = " ".join(meta["dependencies"])
    assert ("torch" in requirements) == (answers["ml_framework"] == "pytorch")


def test_dev_tools_are_pep_735_groups_that_dev_includes(project: Project) -> None:
    pyproject = project.toml("pyproject.toml")
    groups = pyproject["dependency-groups"]
    # The groups the generated nox sessions install one by one.
    jobs = {"test", "lint", "typecheck", "docs", "notebooks", "build"}
    assert set(groups) == jobs | {"dev"}
    assert sorted(entry["include-group"] for entry in groups["dev"]) == sorted(jobs)
    assert "group" not in pyproject["tool"]["poetry"]
    # Poetry reads [dependency-groups] from 2.2 on.
    assert pyproject["tool"]["poetry"]["requires-poetry"] == ">=2.2"


def test_lock_is_the_committed_lock_of_its_framework(project: Project) -> None:
    rendered = (project.path / "poetry.lock").read_bytes()
    assert rendered == lock_file(project.answers["ml_framework"]).read_bytes()
    packages = {p["name"]: p for p in tomllib.loads(rendered.decode())["package"]}
    assert not [name for name, p in packages.items() if "source" in p]
    assert ("torch" in packages) == (project.answers["ml_framework"] == "pytorch")


@pytest.mark.parametrize("framework", ["pytorch", "sklearn"])
def test_lock_installs_one_version_of_each_package(framework: str) -> None:
    # Two versions of one package go into the same files, in parallel.
    assert duplicates(lock_file(framework).read_text()) == {}


def test_supported_pythons_agree_everywhere(project: Project) -> None:
    # The lock checks, the noxfile and requires-python all follow copier.yml.
    assert list(PYTHONS) == SUPPORTED_PYTHONS
    noxfile = (project.path / "noxfile.py").read_text()
    assert f"PYTHONS = {SUPPORTED_PYTHONS!r}".replace("'", '"') in noxfile
    oldest, newest = SUPPORTED_PYTHONS[0], SUPPORTED_PYTHONS[-1]
    major, minor = newest.split(".")
    expected = f">={oldest},<{major}.{int(minor) + 1}"
    assert project.toml("pyproject.toml")["project"]["requires-python"] == expected
    lock = project.toml("poetry.lock")
    assert lock["metadata"]["python-versions"] == expected


def test_lock_installs_every_dependency_on_every_python(project: Project) -> None:
    # Markers decide what installs where: each supported Python (3.14 included,
    # which these machines lack) on each platform gets every package that the
    # project and its groups ask for.
    pyproject = project.toml("pyproject.toml")
    lock = project.toml("poetry.lock")
    requirements = list(pyproject["project"]["dependencies"])
    for group in pyproject["dependency-groups"].values():
        requirements += [entry for entry in group if isinstance(entry, str)]
    wanted = {canonicalize_name(Requirement(text).name) for text in requirements}
    for label, environment in environments():
        present = {
            canonicalize_name(package["name"])
            for package in lock["package"]
            if applies(package, environment)
        }
        assert sorted(wanted - present) == [], label


SHADOWED_LOCK = """# a lock shaped as Poetry writes the torch one
[[package]]
name = "cudnn"
version = "9.0"
markers = "platform_system == \\"Linux\\""

[package.dependencies]
cublas = "*"

[[package]]
name = "toolkit"
version = "13.0"
markers = "platform_system == \\"Linux\\""

[package.dependencies]
cublas = "==13.1.*"

[[package]]
name = "cublas"
version = "13.1.1"
markers = "sys_platform == \\"linux\\" and platform_system == \\"Linux\\""

[[package]]
name = "cublas"
version = "13.10.0"
markers = "platform_system == \\"Linux\\""

[metadata]
lock-version = "2.1"
"""


def test_a_shadowed_duplicate_is_dropped_and_a_needed_one_kept() -> None:
    assert "Python 3.12 on Linux x86_64" in duplicates(SHADOWED_LOCK)
    text, dropped = drop_shadowed(SHADOWED_LOCK)
    assert dropped == ["cublas 13.10.0"]
    assert duplicates(text) == {}
    assert [p["version"] for p in tomllib.loads(text)["package"]][-1] == "13.1.1"
    assert tomllib.loads(text)["metadata"] == {"lock-version": "2.1"}
    # When a dependent needs the newer version, both stay.
    needed = SHADOWED_LOCK.replace('cublas = "*"', 'cublas = ">=13.10"')
    assert drop_shadowed(needed) == (needed, [])
    # When the newer version also applies where the older does not, both stay.
    linux_only = 'version = "13.10.0"\nmarkers = "platform_system == \\"Linux\\""'
    wider = 'version = "13.10.0"\nmarkers = "platform_system != \\"Darwin\\""'
    assert linux_only in SHADOWED_LOCK
    uncovered = SHADOWED_LOCK.replace(linux_only, wider)
    assert drop_shadowed(uncovered) == (uncovered, [])


def test_every_text_file_is_as_the_whitespace_hooks_leave_it(project: Project) -> None:
    # The project's pre-commit fixes ends of files and trailing whitespace: a
    # render they would change fails its own lint (Jinja tags at a file's end
    # or line ends are where that happens).
    changed = []
    for path in sorted(project.path.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        if not data or b"\0" in data or ".git" in path.parts:
            continue
        text = data.decode("utf-8")
        name = path.relative_to(project.path).as_posix()
        if not text.endswith("\n") or text.endswith("\n\n"):
            changed.append(f"{name}: end of file")
        if any(line != line.rstrip() for line in text.splitlines()):
            changed.append(f"{name}: trailing whitespace")
    assert changed == []


def test_lock_is_valid_for_the_rendered_pyproject(project: Project) -> None:
    run(tool("poetry"), "check", "--lock", "--no-interaction", cwd=project.path)


def test_license_names_the_author(project: Project) -> None:
    license_name = project.answers["license"]
    if license_name == "none":
        assert not (project.path / "LICENSE").exists()
        assert "license" not in project.toml("pyproject.toml")["project"]
        return
    text = (project.path / "LICENSE").read_text()
    first_line = {
        "MIT": "MIT License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "Apache-2.0": "Apache License",
    }[license_name]
    assert text.strip().splitlines()[0].strip() == first_line
    if license_name != "Apache-2.0":
        assert f"Copyright (c) {project.answers['author_name']}" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


@pytest.mark.parametrize(
    "command",
    [
        ["black", "--check", "--diff", "."],
        ["isort", "--check-only", "--diff", "."],
        ["flake8", "."],
    ],
    ids=["black", "isort", "flake8"],
)
def test_generated_python_passes_the_linters(project: Project, command) -> None:
    run(sys.executable, "-m", *command, cwd=project.path)


def lint_imports(package_root: Path, config: Path) -> subprocess.CompletedProcess:
    """import-linter on the package under `package_root` (its src folder)."""
    return subprocess.run(
        [tool("lint-imports"), str(config), "--no-cache"],
        cwd=package_root.parent,
        env={**os.environ, "PYTHONPATH": str(package_root)},
        capture_output=True,
        text=True,
    )


def test_the_package_keeps_its_layers_and_an_upward_import_breaks_them(
    project: Project, tmp_path: Path
) -> None:
    package = project.answers["package_name"]
    pyproject = project.path / "pyproject.toml"
    contracts = project.toml("pyproject.toml")["tool"]["importlinter"]["contracts"]
    assert {contract["type"] for contract in contracts} == {
        "layers", "independence", "acyclic_siblings",
    }  # fmt: skip
    kept = lint_imports(project.path / "src", pyproject)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout
    # The data layer may not reach up to serving.
    source = tmp_path / "src"
    shutil.copytree(project.path / "src", source)
    sources = source / package / "data" / "sources.py"
    sources.write_text(sources.read_text() + "\nfrom ..serving import api  # noqa\n")
    broken = lint_imports(source, pyproject)
    assert broken.returncode != 0
    verdicts = dict(
        line.rsplit(" ", 1)
        for line in broken.stdout.splitlines()
        if line.endswith((" KEPT", " BROKEN"))
    )
    layers = next(c["name"] for c in contracts if c["type"] == "layers")
    assert verdicts[layers] == "BROKEN"
    assert "-> " + package + ".serving.api" in " ".join(broken.stdout.split())
    hooks = yaml.safe_load((project.path / ".pre-commit-config.yaml").read_text())
    entries = [hook["entry"] for repo in hooks["repos"] for hook in repo["hooks"]]
    assert "lint-imports" in entries


def test_names_are_derived_from_an_awkward_project_name(tmp_path) -> None:
    from conftest import render

    project = render(tmp_path / "p", project_name="Déjà Vu: Forecasting 2026")
    assert project.answers["project_slug"] == "deja-vu-forecasting-2026"
    assert project.answers["package_name"] == "deja_vu_forecasting_2026"
    assert (project.path / "src" / "deja_vu_forecasting_2026" / "cli.py").is_file()


def test_pipeline_stages_call_the_package_with_real_inputs(project: Project) -> None:
    package = project.answers["package_name"]
    stages = yaml.safe_load((project.path / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    assert list(stages) == [
        "ingest", "prepare", "features", "train", "evaluate", "register", "monitor"
    ]  # fmt: skip
    for name, stage in stages.items():
        # The CLI sets the hash seed itself: no shell syntax in the command.
        assert stage["cmd"].split() == ["python", "-m", package, name]
        for dependency in stage["deps"]:
            if dependency.startswith("src/"):
                assert (project.path / dependency).exists(), dependency
        for dotted in stage.get("params", []):
            value = params
            for key in dotted.split("."):
                value = value[key]
    suffix = ".pt" if project.answers["ml_framework"] == "pytorch" else ".pkl"
    assert f"models/model{suffix}" in stages["train"]["outs"]
    assert isinstance(params["seed"], int)
    # The quick start names every stage that `nox -s pipeline` runs.
    readme = (project.path / "README.md").read_text(encoding="utf-8").splitlines()
    (quick_start,) = [line for line in readme if line.startswith("nox -s pipeline ")]
    assert quick_start.split("# dvc repro: ")[1].split(", ") == list(stages)


def test_models_register_under_the_slug_and_the_store_stays_out(
    project: Project,
) -> None:
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    assert params["register"]["name"] == project.answers["project_slug"]
    stages = yaml.safe_load((project.path / "dvc.yaml").read_text())["stages"]
    # The registry is register's output: the stage writes no file.
    assert "outs" not in stages["register"]
    assert "reports/metrics.json" in stages["register"]["deps"]
    ignored = (project.path / ".gitignore").read_text().splitlines()
    assert {"/mlflow.db", "/mlartifacts/"} <= set(ignored)
    docker_ignored = (project.path / ".dockerignore").read_text().splitlines()
    assert {"mlflow.db", "mlartifacts"} <= set(docker_ignored)


def test_pytorch_projects_ship_torchrun_and_keep_checkpoints_out(
    project: Project, tmp_path
) -> None:
    pytorch = project.answers["ml_framework"] == "pytorch"
    shipped = {
        name: (project.path / name).is_file()
        for name in (
            "benchmarks/throughput.py",
            "tests/modeling/test_scale_out.py",
            f"src/{project.answers['package_name']}/modeling/batching.py",
            f"src/{project.answers['package_name']}/modeling/checkpoints.py",
        )
    }
    assert shipped == dict.fromkeys(shipped, pytorch)
    nav = yaml.safe_load((project.path / "mkdocs.yml").read_text())["nav"]
    pages = {page for entry in nav for page in entry.values()}
    assert "scaling-out.md" in pages  # the Dask engine, whatever the framework
    scaling = (project.path / "docs" / "scaling-out.md").read_text()
    assert ("## Several processes: torchrun" in scaling) == pytorch

    # training checkpoints (models/checkpoints/) are neither a DVC output ...
    stages = yaml.safe_load((project.path / "dvc.yaml").read_text())["stages"]
    outs = {
        (out if isinstance(out, str) else next(iter(out))).rstrip("/")
        for stage in stages.values()
        for out in stage.get("outs", [])
    }
    assert not outs & {"models", "models/checkpoints"}
    assert not [out for out in outs if out.startswith("models/checkpoints/")]
    # ... nor seen by git
    (tmp_path / ".gitignore").write_text((project.path / ".gitignore").read_text())
    run("git", "init", "-q", cwd=tmp_path)
    checkpoint = "models/checkpoints/last.pt"
    ignored = run("git", "check-ignore", "--no-index", checkpoint, cwd=tmp_path)
    assert ignored.stdout.strip() == checkpoint
