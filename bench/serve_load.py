"""Load test of one JSON endpoint on the loopback interface; standard library only.

    python serve_load.py URL BODY_FILE --concurrency 8 --requests 2000 --seconds 20 \
        [--header "Authorization: Bearer KEY"]

Each of `concurrency` threads keeps one HTTP/1.1 connection open and posts the
body again and again until `requests` have been sent or `seconds` have passed.
Prints one JSON object: requests, errors (non-200 answers), seconds, rps, p50_ms
and p99_ms.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

WARM_UP = 20


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("body", type=Path)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    url = urlsplit(args.url)
    if url.hostname != "127.0.0.1":
        parser.error("only 127.0.0.1 is load-tested")
    body = args.body.read_bytes()
    headers = {"Content-Type": "application/json"}
    headers.update(tuple(h.split(": ", 1)) for h in args.header)

    def post(connection: http.client.HTTPConnection) -> tuple[float, int]:
        start = time.perf_counter()
        connection.request("POST", url.path, body, headers)
        answer = connection.getresponse()
        answer.read()
        return time.perf_counter() - start, answer.status

    warm = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    for _ in range(WARM_UP):
        post(warm)
    warm.close()

    tickets = itertools.count()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        while time.perf_counter() < deadline and next(tickets) < args.requests:
            seconds, status = post(connection)
            with lock:
                latencies.append(seconds)
                errors[0] += status != 200
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors[0],
                "seconds": round(elapsed, 2),
                "rps": round(len(latencies) / elapsed, 1),
                "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
