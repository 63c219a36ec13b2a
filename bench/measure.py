"""Running a command once, timed; the session fails with its output when the
command fails."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import nox


def _run(
    session: nox.Session, command: tuple[str, ...], cwd: Path, stderr: int
) -> tuple[float, str]:
    """(seconds, output) of one run of `command` with the session's tools first
    on PATH; `stderr` is subprocess.STDOUT to merge it into the output, in order."""
    env = {**os.environ, "PATH": f"{session.bin}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr,
        text=True, errors="replace",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        output = done.stdout + (done.stderr or "")
        session.error(f"{' '.join(command)} failed:\n{output[-4000:]}")
    return seconds, done.stdout


def timed(session: nox.Session, *command: str, cwd: Path) -> float:
    """Wall time in seconds of one run of `command` with the session's tools."""
    return _run(session, command, cwd, stderr=subprocess.STDOUT)[0]


def printed(session: nox.Session, *command: str, cwd: Path) -> str:
    """What one run of `command` printed on its standard output."""
    return _run(session, command, cwd, stderr=subprocess.PIPE)[1]


def run_measured(
    session: nox.Session, command: list[str], cwd: Path
) -> tuple[float, float]:
    """(seconds, peak resident memory in MiB) of one run of `command`.

    The folder of `command`'s program comes first on PATH, so that `dvc repro`
    run by a project's Python finds that Python's `python` for its stages.
    """
    program_dir = str(Path(command[0]).parent)
    env = {**os.environ, "PATH": f"{program_dir}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        session.error(f"{' '.join(command)} failed:\n{output.decode()[-4000:]}")
    return seconds, usage.ru_maxrss / 1024
