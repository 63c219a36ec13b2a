"""`nox -s bench -- serve`: requests per second, p50 and p99 latency of the
project's API against `mlflow models serve --env-manager local` serving the
same model, for requests of 1 and 100 rows, per framework; loopback traffic
only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nox

from .measure import printed, run_measured, timed
from .projects import installed_project, package_of, use_project_environments
from .template import FRAMEWORKS

# Fixed load: concurrent connections, and bounds in requests and seconds.
LOAD = ("--concurrency", "8", "--requests", "3000", "--seconds", "20")
REQUEST_ROWS = (1, 100)
SERVE_LOAD = str(Path(__file__).with_name("serve_load.py"))
REQUEST_BODIES = str(Path(__file__).with_name("request_bodies.py"))
REGISTERED_NAME = str(Path(__file__).with_name("registered_name.py"))


def start_server(
    command: list[str], cwd: Path, ready: str, env: dict
) -> subprocess.Popen:
    """Start a server, wait until `ready` (a loopback URL) answers 200."""
    process = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(ready, timeout=5) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{' '.join(command)} did not become ready")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load_test(session: nox.Session, url: str, body: Path) -> dict:
    output = subprocess.run(
        [sys.executable, SERVE_LOAD, url, str(body), *LOAD],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    session.log(f"  {url} {body.name}: {output.strip()}")
    return json.loads(output)


def compare_servers(session: nox.Session, project: Path, python: str) -> list[tuple]:
    """Serve the project's model with its own API and, as the MLflow model the
    pipeline registered (`models:/<slug>@champion`), with `mlflow models serve`;
    load-test both."""
    package = package_of(project)
    for rows in REQUEST_ROWS:
        timed(session, python, REQUEST_BODIES, str(rows), cwd=project)
    registered = printed(session, python, REGISTERED_NAME, cwd=project).strip()
    champion = f"models:/{registered}@champion"
    ours_port, mlflow_port = free_port(), free_port()
    quiet = {f"{package.upper()}_LOG_LEVEL": "WARNING", "PYTHONHASHSEED": "0"}
    ours = start_server(
        [python, "-m", package, "serve"], project,
        f"http://127.0.0.1:{ours_port}/ready", {**quiet, "PORT": str(ours_port)},
    )  # fmt: skip
    try:
        mlflow = start_server(
            [python, "-m", "mlflow", "models", "serve", "-m", champion,
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port),
             "-w", "1"],
            project, f"http://127.0.0.1:{mlflow_port}/ping",
            {
                "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONHASHSEED": "0",
                # `mlflow models serve` runs the `uvicorn` script found on PATH.
                "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}",
            },
        )  # fmt: skip
        try:
            results = []
            for rows in REQUEST_ROWS:
                mine = load_test(session, f"http://127.0.0.1:{ours_port}/predict",
                                 project / f"ours-{rows}.json")  # fmt: skip
                theirs = load_test(session,
                                   f"http://127.0.0.1:{mlflow_port}/invocations",
                                   project / f"mlflow-{rows}.json")  # fmt: skip
                results.append((rows, mine, theirs))
        finally:
            stop_server(mlflow)
    finally:
        stop_server(ours)
    return results


def run(session: nox.Session) -> None:
    use_project_environments()
    table = []
    for framework in FRAMEWORKS:
        with installed_project(session, framework) as (project, python):
            run_measured(session, [python, "-m", "dvc", "repro"], project)
            for rows, mine, theirs in compare_servers(session, project, python):
                table.append((framework, rows, mine, theirs))
    session.log(
        f"serving, {LOAD[1]} concurrent connections, at most {LOAD[3]} requests "
        f"or {LOAD[5]} s each:"
    )
    session.log(
        "  framework  rows   server        rps  p50 ms  p99 ms  errors   rps ratio"
    )
    for framework, rows, mine, theirs in table:
        for name, result in (("ours", mine), ("mlflow", theirs)):
            ratio = mine["rps"] / theirs["rps"] if name == "ours" else 1.0
            session.log(
                f"  {framework:<9}{rows:>5}   {name:<8}{result['rps']:>9.1f}"
                f"{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}"
                f"{result['errors']:>8}{ratio:>11.2f}x"
            )
