"""`nox -s bench -- serve`: requests per second, p50 and p99 latency of the
project's API (`/predict`, `/invocations`, `/predict` with an API key) against
`mlflow models serve --env-manager local` serving the same model, for requests
of 1 and 100 rows, per framework, and the cost of the service's metrics;
loopback traffic only."""

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
METRICS_COST = str(Path(__file__).with_name("metrics_cost.py"))
KEY = "bench-" + "0123456789abcdef" * 4


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


def rps(result: dict) -> float:
    return float(result["rps"])


def load_test(session: nox.Session, url: str, body: Path, *headers: str) -> dict:
    extra = [option for header in headers for option in ("--header", header)]
    output = subprocess.run(
        [sys.executable, SERVE_LOAD, url, str(body), *LOAD, *extra],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    session.log(f"  {url} {body.name}: {output.strip()}")
    return json.loads(output)


def compare_servers(session: nox.Session, project: Path, python: str) -> list[tuple]:
    """Serve the project's model with its own API (as it starts, and with an
    API key), and, as the MLflow model the pipeline registered
    (`models:/<slug>@champion`), with `mlflow models serve`; load-test
    `/predict`, `/invocations` and MLflow's `/invocations`."""
    package = package_of(project)
    for rows in REQUEST_ROWS:
        timed(session, python, REQUEST_BODIES, str(rows), cwd=project)
    registered = printed(session, python, REGISTERED_NAME, cwd=project).strip()
    champion = f"models:/{registered}@champion"
    ours_port, keyed_port, mlflow_port = free_port(), free_port(), free_port()
    quiet = {f"{package.upper()}_LOG_LEVEL": "WARNING", "PYTHONHASHSEED": "0"}
    keyed_env = {**quiet, f"{package.upper()}_API_KEYS": KEY, "PORT": str(keyed_port)}
    servers = [
        start_server(
            [python, "-m", package, "serve"], project,
            f"http://127.0.0.1:{ours_port}/ready", {**quiet, "PORT": str(ours_port)},
        ),
        start_server(
            [python, "-m", package, "serve"], project,
            f"http://127.0.0.1:{keyed_port}/ready", keyed_env,
        ),
    ]  # fmt: skip
    try:
        servers.append(start_server(
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
        ))  # fmt: skip
        results = []
        for rows in REQUEST_ROWS:
            ours, theirs = (
                project / f"ours-{rows}.json",
                project / f"mlflow-{rows}.json",
            )
            url = "http://127.0.0.1:{}{}".format
            key = f"Authorization: Bearer {KEY}"
            # Plain and keyed in turn, the best of two each: the key's cost is
            # a few percent at most, less than one run's noise.
            plain, keyed = [], []
            for _ in range(2):
                plain.append(load_test(session, url(ours_port, "/predict"), ours))
                keyed.append(load_test(session, url(keyed_port, "/predict"), ours, key))
            measured = {
                "/predict": max(plain, key=rps),
                "/invocations": load_test(
                    session, url(ours_port, "/invocations"), theirs
                ),
                "/predict, key": max(keyed, key=rps),
                "mlflow": load_test(session, url(mlflow_port, "/invocations"), theirs),
            }  # fmt: skip
            results.append((rows, measured))
    finally:
        for server in servers:
            stop_server(server)
    return results


def run(session: nox.Session) -> None:
    use_project_environments()
    table = []
    costs = {}
    for framework in FRAMEWORKS:
        with installed_project(session, framework) as (project, python):
            run_measured(session, [python, "-m", "dvc", "repro"], project)
            cost = json.loads(printed(session, python, METRICS_COST, cwd=project))
            costs[framework] = cost["us_per_request"]
            for rows, measured in compare_servers(session, project, python):
                table.append((framework, rows, measured))
    session.log(
        f"serving, {LOAD[1]} concurrent connections, at most {LOAD[3]} requests "
        f"or {LOAD[5]} s each; ratio: requests/s against mlflow models serve:"
    )
    session.log(
        "  framework  rows   server / route         rps  p50 ms  p99 ms  errors"
        "   rps ratio"
    )
    for framework, rows, measured in table:
        for name, result in measured.items():
            label = "mlflow /invocations" if name == "mlflow" else f"ours {name}"
            ratio = result["rps"] / measured["mlflow"]["rps"]
            session.log(
                f"  {framework:<9}{rows:>5}   {label:<20}{result['rps']:>9.1f}"
                f"{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}"
                f"{result['errors']:>8}{ratio:>11.2f}x"
            )
    session.log("cost of the service's metrics and API keys, single-row requests:")
    for framework, rows, measured in table:
        if rows != 1:
            continue
        plain = measured["/predict"]["rps"]
        metrics_share = costs[framework] * 1e-6 * plain
        key_change = measured["/predict, key"]["rps"] / plain - 1
        session.log(
            f"  {framework:<9} metrics {costs[framework]:.1f} us per request = "
            f"{metrics_share:.1%} of a request at {plain:.0f} rps; "
            f"with an API key {key_change:+.1%} requests/s"
        )
