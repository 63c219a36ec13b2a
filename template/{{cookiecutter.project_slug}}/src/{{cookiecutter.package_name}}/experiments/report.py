"""Command ``report``: the workspace against a git ref, as Markdown for a
pull request.

The parameters that changed and every metric with its change come from
DVC's own ``params diff`` and ``metrics diff``; each test metric is shown
beside its baseline's (``baseline_<metric>``), and the drift summary in a table
of its own. Figures are listed with whether they changed; ``dvc plots diff``
draws them side by side (the pull-request workflow attaches its page).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ConfigError
from ..modeling.evaluate import BASELINE_PREFIX
from ..modeling.evaluators import FIGURES
from ..params import Params

MARKER = "<!-- experiment report -->"
"""The report's first line: the workflow finds its earlier comment by it."""


def dvc_json(root: Path, *args: str) -> dict[str, Any]:
    """The JSON a ``dvc`` command prints, run in ``root``."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args, "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[-500:]
        raise ConfigError(f"dvc {' '.join(args)} failed: {message}")
    parsed: dict[str, Any] = json.loads(done.stdout or "{}")
    return parsed


def shown(value: Any) -> str:
    """A value as a table cell: numbers to 4 significant digits, none as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def change(old: Any, new: Any) -> str:
    """``new - old`` with its sign, when both are numbers."""
    numbers = (int, float)
    if old is None or new is None:
        return ""
    if isinstance(old, bool) or isinstance(new, bool):
        return "" if old == new else "changed"
    if isinstance(old, numbers) and isinstance(new, numbers):
        delta = new - old
        return "0" if delta == 0 else f"{delta:+.4g}"
    return ""


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def params_section(diff: Mapping[str, Any]) -> list[str]:
    rows = [
        [f"`{name}`", shown(values.get("old")), shown(values.get("new"))]
        for changes in diff.values()
        for name, values in sorted(changes.items())
    ]
    if not rows:
        return ["No parameter changed."]
    return table(["parameter", "base", "workspace"], rows)


def metrics_section(metrics: Mapping[str, Any]) -> list[str]:
    """Each test metric, its change, and the baseline's score in the workspace."""
    rows = []
    for name, values in sorted(metrics.items()):
        if name.startswith(BASELINE_PREFIX):
            continue
        baseline = metrics.get(BASELINE_PREFIX + name, {}).get("new")
        old, new = values.get("old"), values.get("new")
        rows.append([name, shown(old), shown(new), change(old, new), shown(baseline)])
    return table(["metric", "base", "workspace", "change", "baseline"], rows)


def plain_section(metrics: Mapping[str, Any]) -> list[str]:
    rows = []
    for name, values in sorted(metrics.items()):
        old, new = values.get("old"), values.get("new")
        rows.append([name, shown(old), shown(new), change(old, new)])
    return table(["metric", "base", "workspace", "change"], rows)


def git_blob(root: Path, ref: str, path: str) -> bytes | None:
    """The file ``path`` at ``ref``, or None where it did not exist."""
    done = subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=root, capture_output=True, check=False
    )
    return done.stdout if done.returncode == 0 else None


def figures_section(root: Path, base: str) -> list[str]:
    rows = []
    for folder in FIGURES:
        for path in sorted((root / folder).glob("*.png")):
            relative = path.relative_to(root).as_posix()
            before = git_blob(root, base, relative)
            if before is None:
                state = "new"
            elif before == path.read_bytes():
                state = "unchanged"
            else:
                state = "changed"
            rows.append([f"`{relative}`", state])
    if not rows:
        return ["No figures: run `dvc repro` first."]
    return table(["figure", "against base"], rows)


def report(settings: Settings, params: Params, base: str = "HEAD") -> str:
    """The Markdown report of the workspace against ``base``."""
    root = settings.pipeline_file.parent
    known = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", base + "^{commit}"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if known.returncode != 0:
        raise ConfigError(
            f"{base!r} is not a git commit here: fetch it or name another."
        )
    metrics = dvc_json(root, "metrics", "diff", base, "--all")
    params_diff = dvc_json(root, "params", "diff", base)
    test = metrics.pop(settings.metrics_file.relative_to(root).as_posix(), {})
    drift = metrics.pop(settings.drift_metrics_file.relative_to(root).as_posix(), {})
    lines = [MARKER, f"## Experiment: workspace against `{base}`", ""]
    lines += ["### Parameters", "", *params_section(params_diff), ""]
    lines += ["### Test metrics", ""]
    lines += metrics_section(test) if test else ["No test metrics: run `dvc repro`."]
    lines += ["", "### Drift of the test split from the training split", ""]
    lines += plain_section(drift) if drift else ["No drift summary."]
    for path, values in sorted(metrics.items()):
        lines += ["", f"### `{path}`", "", *plain_section(values)]
    lines += ["", "### Figures", "", *figures_section(root, base), ""]
    lines += [
        "`dvc plots diff " + base + "` draws the plots of both side by side.",
        "",
    ]
    return "\n".join(lines)
