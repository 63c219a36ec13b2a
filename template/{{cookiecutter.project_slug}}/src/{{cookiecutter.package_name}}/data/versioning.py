"""The adopted data under version control, and the paths the pipeline owns.

A file adopted with ``init-data`` lives in ``data/external`` and is tracked
by DVC (:func:`track`, ``dvc add``): git holds its small ``.dvc`` file, DVC's
cache and remote hold the data, so ``dvc push`` carries it and ``dvc pull``
brings it back in a fresh clone. The ``ingest`` stage depends on that one
file through ``${data.source}`` in ``dvc.yaml``, which DVC reads from
``params.yaml``. A table bundled with scikit-learn is no file: with one, the
stage has no such dependency (DVC would look for a file named
``sklearn:...``); ``init-data`` adds or removes it (:func:`with_source_dep`).

Commands run by hand (``monitor FILE``, ``predict``, ``sample``) write only
outside the files the stages read or write (:func:`check_outside_pipeline`),
so that ``dvc status`` stays clean.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ..config import Settings
from ..errors import ConfigError

INGEST = "ingest"
SOURCE_DEP = "${data.source}"
"""The ingest stage's dependency on a file source, as ``dvc.yaml`` writes it."""
INTERPOLATION = re.compile(r"\$\{\s*([^}\s]+)\s*\}")


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping; empty when the file does not exist."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return loaded if isinstance(loaded, dict) else {}


def stage_deps(pipeline: dict[str, Any], stage: str) -> list[str]:
    """The dependencies ``dvc.yaml`` declares for ``stage``, as written."""
    definition = (pipeline.get("stages") or {}).get(stage) or {}
    return [str(dep) for dep in definition.get("deps") or []]


def depends_on_source(pipeline: dict[str, Any], source: str) -> bool:
    """Whether the ingest stage depends on the file ``source``."""
    deps = stage_deps(pipeline, INGEST)
    return SOURCE_DEP in deps or source in deps


def check_source_declared(settings: Settings, source: str, target: str) -> None:
    """Refuse a file source that the ingest stage of ``dvc.yaml`` does not
    depend on: ``dvc repro`` would miss its changes, ``dvc push`` its data."""
    pipeline = read_yaml(settings.pipeline_file)
    if INGEST not in (pipeline.get("stages") or {}):
        return  # no pipeline around this project: nothing to keep in step
    if not depends_on_source(pipeline, source):
        raise ConfigError(
            f"data.source is the file {source}, but the ingest stage in dvc.yaml "
            "does not depend on it, so `dvc repro` would not see it change: run "
            f"`init-data {source} --target {target}`, which versions it with DVC "
            f"and adds the dependency, or add `- {SOURCE_DEP}` to the deps of "
            "ingest in dvc.yaml."
        )


def with_source_dep(text: str, present: bool) -> str:
    """``dvc.yaml``'s text with the ingest stage depending on ``${data.source}``
    (``present``) or not; every other line stays as it was."""
    lines = text.splitlines(keepends=True)
    deps = deps_block(lines)
    if deps is None:
        raise ConfigError(
            f"dvc.yaml has no ingest stage with a deps list to "
            f"{'add' if present else 'remove'} `- {SOURCE_DEP}` "
            f"{'to' if present else 'from'}: edit it by hand."
        )
    start, end, indent = deps
    listed = [i for i in range(start, end) if lines[i].strip() == f"- {SOURCE_DEP}"]
    if present and not listed:
        lines.insert(end, f"{indent}- {SOURCE_DEP}\n")
    if not present:
        lines = [line for i, line in enumerate(lines) if i not in listed]
    updated = "".join(lines)
    if (SOURCE_DEP in stage_deps(yaml.safe_load(updated), INGEST)) != present:
        raise ConfigError(
            f"Could not {'add' if present else 'remove'} `- {SOURCE_DEP}` in the "
            "deps of the ingest stage in dvc.yaml: edit it by hand."
        )
    return updated


def deps_block(lines: list[str]) -> tuple[int, int, str] | None:
    """Where the ingest stage's deps list is: its first line, the line after its
    last item, and the items' indent."""
    stage = next(
        (i for i, line in enumerate(lines) if re.match(rf"^ +{INGEST}:\s*$", line)),
        None,
    )
    if stage is None:
        return None
    for i in range(stage + 1, len(lines)):
        if is_content(lines[i]) and indent_of(lines[i]) <= indent_of(lines[stage]):
            return None  # the next stage: this one has no deps
        if re.match(r"^ +deps:\s*$", lines[i]):
            items = []
            for j in range(i + 1, len(lines)):
                if not is_content(lines[j]):
                    continue
                item = lines[j].lstrip().startswith("- ")
                if indent_of(lines[j]) < indent_of(lines[i]) + (0 if item else 1):
                    break
                if item:
                    items.append(j)
            if not items:
                return None
            return items[0], items[-1] + 1, " " * indent_of(lines[items[0]])
    return None


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def is_content(line: str) -> bool:
    """Not blank and not a comment."""
    return bool(line.strip()) and not line.lstrip().startswith("#")


def is_dvc_repository(settings: Settings) -> bool:
    return (settings.project_root / ".dvc").is_dir()


def track(settings: Settings, path: Path) -> Path:
    """Put ``path`` (a file inside the project) under DVC with ``dvc add``;
    return the ``.dvc`` file that git tracks in its place."""
    root = settings.project_root
    relative = path.resolve().relative_to(root).as_posix()
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "add", relative],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        detail = " ".join(done.stderr.split()).removeprefix("ERROR: ")
        raise ConfigError(
            f"DVC could not track {relative} (`dvc add {relative}`): {detail}"
        )
    return path.with_name(path.name + ".dvc")


def resolve(text: str, params: dict[str, Any]) -> str:
    """``text`` with each ``${a.b}`` replaced by that value of params.yaml."""

    def value(match: re.Match[str]) -> str:
        found: Any = params
        for key in match.group(1).split("."):
            if not isinstance(found, dict) or key not in found:
                return match.group(0)
            found = found[key]
        return str(found)

    return INTERPOLATION.sub(value, text)


def pipeline_paths(settings: Settings) -> set[Path]:
    """Every file or folder that a stage of ``dvc.yaml`` reads or writes."""
    pipeline = read_yaml(settings.pipeline_file)
    params = read_yaml(settings.params_file)
    paths = set()
    for stage in (pipeline.get("stages") or {}).values():
        for field in ("deps", "outs", "metrics", "plots"):
            for entry in stage.get(field) or []:
                name = entry if isinstance(entry, str) else next(iter(entry))
                path = Path(resolve(str(name), params))
                paths.add((settings.project_root / path).resolve())
    return paths


def check_outside_pipeline(settings: Settings, path: Path, what: str) -> None:
    """Refuse to write ``path`` when a stage reads or writes it: a run by hand
    would change the pipeline's data behind DVC's back."""
    target = path.resolve()
    for owned in sorted(pipeline_paths(settings)):
        if target == owned or owned in target.parents:
            try:
                shown = owned.relative_to(settings.project_root).as_posix()
            except ValueError:
                shown = str(owned)
            where = "is" if target == owned else f"lies inside {shown}, which is"
            raise ConfigError(
                f"{what} {path} {where} read or written by the pipeline "
                "(dvc.yaml): choose a path outside the pipeline's files, such as "
                "one under samples/ or reports/adhoc/."
            )
