"""`nox -s bench -- monitor`: the rendered project's drift tests against
Evidently's data-drift report on the same tables (1M reference x 100k current
rows, 24 numeric and 6 categorical columns, four of them drifted, one shifted
trivially): seconds of each and whether they flag the same columns. Evidently
runs in its own environment."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nox

from .projects import package_of
from .template import render

# Evidently 0.7 imports pandas internals that pandas 3 removed.
EVIDENTLY = ("evidently>=0.7,<0.8", "pandas<3", "pyarrow")
MONITOR_TABLES = str(Path(__file__).with_name("monitor_tables.py"))
MONITOR_TIMING = str(Path(__file__).with_name("monitor_timing.py"))
EVIDENTLY_TIMING = str(Path(__file__).with_name("evidently_timing.py"))


def last_json_line(output: str) -> dict:
    """The JSON a script printed last; warnings may come before it (a silent
    session.run returns stderr together with stdout)."""
    return json.loads(output.strip().splitlines()[-1])


def run(session: nox.Session) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        project = folder / "project"
        render(session, project, ml_framework="sklearn")
        # pyarrow reads the Parquet tables; the project's lock brings it along.
        session.install(str(project), "pyarrow")
        evidently = folder / "evidently"
        session.run(sys.executable, "-m", "venv", str(evidently), external=True)
        python = str(evidently / "bin" / "python")
        session.run(python, "-m", "pip", "install", "-q", *EVIDENTLY, external=True)
        session.run("python", MONITOR_TABLES, tmp)
        ours = last_json_line(
            session.run("python", MONITOR_TIMING, package_of(project), tmp, silent=True)
        )
        theirs = last_json_line(
            session.run(python, EVIDENTLY_TIMING, tmp, silent=True, external=True)
        )
    session.log("drift tests, 1M reference x 100k current rows x 30 columns:")
    for name, result in (("monitor", ours), ("Evidently", theirs)):
        columns = ", ".join(result["drifted"])
        session.log(
            f"  {name:<10}{result['seconds']:7.1f} s ({result['cpu']:.1f} s CPU)"
            f"  drifted: {columns}"
        )
    for what in ("seconds", "cpu"):
        session.log(f"  monitor is {theirs[what] / ours[what]:.1f}x faster ({what})")
    same = sorted(ours["drifted"]) == theirs["drifted"]
    session.log(f"  same columns flagged: {'yes' if same else 'no'}")
