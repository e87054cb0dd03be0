"""Benchmark: the request paths every app screen uses, beside the app's own floor.

    .venv/bin/python -m bench.api [--seconds 8]

`/healthz` (no database, no authentication) is the floor: nothing can be faster on this server.
Under 8 concurrent connections (wrk), authenticated `POST /api/v1/episodes` and
`GET /api/v1/episodes?limit=50` are reported as requests per second and as a ratio to the floor's
(targets: writes at least 0.25, reads at least 0.20), with their p50 and p99 latency.
"""

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import load
from bench.report import Row, print_table
from bench.server import RUN_TAG, cpu_seconds, running_server

PASSWORD = "benchmark-password"
EPISODE = {"started_at": "2026-01-15T03:10:00+01:00", "leg": "left", "severity": 6, "duration_seconds": 90}


@dataclass(frozen=True)
class Floor:
    requests_per_second: float
    median_ms: float


def sequential_latencies(client: httpx.Client, path: str, headers: dict[str, str], count: int) -> list[float]:
    """One request at a time, in milliseconds; every answer must be a success."""
    measured = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        measured.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return measured


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[-1]


def account_headers(client: httpx.Client, name: str) -> dict[str, str]:
    email = f"{name}-{RUN_TAG}@example.org"
    client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
    token = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float


def measure(base: str, seconds: int, rounds: int = 3) -> tuple[list[Row], Floor]:
    """`rounds` alternations of floor, write and read, each ratio taken within its round, then
    the median over rounds: other load on a shared machine then moves both sides of a ratio."""
    with httpx.Client(base_url=base, timeout=30) as client:
        headers = account_headers(client, "api")
        floor_latencies = sequential_latencies(client, "/healthz", {}, 300)
        for _ in range(60):  # the read benchmark reads full pages
            client.post("/api/v1/episodes", json=EPISODE, headers=headers).raise_for_status()
    paths = {
        "floor": {"url": f"{base}/healthz"},
        "write": {
            "url": f"{base}/api/v1/episodes",
            "method": "POST",
            "body": json.dumps(EPISODE),
            "headers": {**headers, "Content-Type": "application/json"},
        },
        "read": {"url": f"{base}/api/v1/episodes?limit=50", "headers": headers},
    }
    results: dict[str, list[Result]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, request in paths.items():
            results[name].append(_run(base, seconds, **request))
    floor = _median_result(results["floor"])
    rows = [
        Row("floor", "/healthz requests/s", floor.requests_per_second, "req/s"),
        Row("floor", "/healthz p50 under load", floor.p50_ms, "ms"),
        Row("floor", "/healthz p99 under load", floor.p99_ms, "ms"),
        Row("floor", "/healthz server CPU per request", floor.cpu_ms_per_request, "ms"),
        Row("floor", "/healthz median, one at a time", statistics.median(floor_latencies), "ms"),
    ]
    for name, target in (("write", ">= 0.25"), ("read", ">= 0.20")):
        ratios = [
            own.requests_per_second / base_.requests_per_second
            for own, base_ in zip(results[name], results["floor"], strict=True)
        ]
        result = _median_result(results[name])
        rows += [
            Row(name, "requests/s", result.requests_per_second, "req/s"),
            Row(name, "ratio to /healthz", statistics.median(ratios), "x", target),
            Row(name, "p50 under load", result.p50_ms, "ms"),
            Row(name, "p99 under load", result.p99_ms, "ms"),
            Row(name, "server CPU per request", result.cpu_ms_per_request, "ms"),
            Row(name, "CPU ratio /healthz to this", floor.cpu_ms_per_request / result.cpu_ms_per_request, "x"),
        ]
    return rows, Floor(floor.requests_per_second, statistics.median(floor_latencies))


def _run(base: str, seconds: int, url: str, **request: Any) -> Result:
    cpu_before = cpu_seconds(base)
    outcome = load.run(url, seconds=seconds, **request)
    cpu = cpu_seconds(base) - cpu_before
    return Result(
        outcome.requests_per_second,
        outcome.p50_ms,
        outcome.p99_ms,
        cpu * 1000 / (outcome.requests_per_second * seconds),
    )


def _median_result(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        statistics.median(r.cpu_ms_per_request for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=4, help="per run; three rounds of three runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_server(f"sqlite:///{Path(tmp) / 'api.db'}") as base:
        rows, _ = measure(base, args.seconds)
    print_table(rows)


if __name__ == "__main__":
    main()
