"""Real commits from several threads and processes: duplicate creates racing, read-then-write
requests on SQLite, and a server killed with SIGKILL keeping every acknowledged record."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import PASSWORD, ROOT, new_account, test_settings

EPISODE = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7}


@pytest.fixture
def shared_app(committed_db: str) -> Iterator[FastAPI]:
    application = create_app(test_settings(committed_db))
    with TestClient(application):
        yield application


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs `work(i)` in `count` threads released together; returns the results in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_a_duplicate_create_racing_itself_answers_201_and_200(shared_app: FastAPI) -> None:
    with TestClient(shared_app) as setup:
        headers = new_account(setup).headers
    body = {**EPISODE, "id": str(uuid.uuid4())}

    def create(_: int) -> int:
        with TestClient(shared_app) as client:
            return client.post("/api/v1/episodes", json=body, headers=headers).status_code

    assert sorted(at_once(2, create)) == [200, 201]


def test_a_conflicting_create_racing_answers_201_and_409(shared_app: FastAPI) -> None:
    with TestClient(shared_app) as setup:
        headers = new_account(setup).headers
    record_id = str(uuid.uuid4())

    def create(index: int) -> int:
        with TestClient(shared_app) as client:
            body = {**EPISODE, "id": record_id, "severity": 3 + index}
            return client.post("/api/v1/episodes", json=body, headers=headers).status_code

    assert sorted(at_once(2, create)) == [201, 409]


def test_read_then_write_requests_from_eight_threads_never_fail(shared_app: FastAPI) -> None:
    with TestClient(shared_app) as setup:
        headers = new_account(setup).headers

    def create_then_patch(index: int) -> list[int]:
        statuses = []
        with TestClient(shared_app) as client:
            for round_ in range(5):
                created = client.post("/api/v1/episodes", json={**EPISODE, "severity": 1 + index}, headers=headers)
                patched = client.patch(
                    f"/api/v1/episodes/{created.json()['id']}", json={"severity": 1 + round_}, headers=headers
                )
                statuses += [created.status_code, patched.status_code]
        return statuses

    results = at_once(8, create_then_patch)
    assert all(status in (200, 201) for statuses in results for status in statuses), results
    with TestClient(shared_app) as client:
        listed = client.get("/api/v1/episodes", params={"limit": 200}, headers=headers).json()["items"]
    assert len(listed) == 40


def test_one_refresh_token_spent_twice_at_once_succeeds_at_most_once(shared_app: FastAPI) -> None:
    with TestClient(shared_app) as setup:
        refresh_token = new_account(setup).tokens["refresh_token"]

    def refresh(_: int) -> int:
        with TestClient(shared_app) as client:
            return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token}).status_code

    assert sorted(at_once(2, refresh)).count(200) <= 1


# --- durability ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SECRET_KEY": "durability-test-signing-key-0123456789",
        "APP_ENV": "development",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def test_a_server_killed_mid_write_keeps_every_acknowledged_record(committed_db: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(committed_db, port)
    acknowledged: dict[str, int] = {}
    try:
        email = f"durable-{uuid.uuid4().hex[:8]}@example.org"
        httpx.post(f"{base}/api/v1/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        stop = threading.Event()

        def write() -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
                for index in range(10_000):
                    if stop.is_set():
                        return
                    body = {**EPISODE, "id": str(uuid.uuid4()), "severity": 1 + index % 10}
                    try:
                        response = client.post("/api/v1/episodes", json=body)
                    except httpx.TransportError:
                        return  # the server is gone: this write was never acknowledged
                    if response.status_code == 201:
                        acknowledged[body["id"]] = body["severity"]

        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # while the writer is still sending
        server.wait(timeout=10)
        stop.set()
        writer.join(timeout=10)
        assert len(acknowledged) >= 50
        server = start_server(committed_db, port)
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            for record_id, severity in acknowledged.items():
                response = client.get(f"/api/v1/episodes/{record_id}")
                assert response.status_code == 200, record_id
                assert response.json()["severity"] == severity
    finally:
        server.kill()
        server.wait(timeout=10)


def test_two_first_routine_puts_at_once_both_succeed(shared_app: FastAPI) -> None:
    with TestClient(shared_app) as setup:
        headers = new_account(setup).headers

    def put(index: int) -> int:
        with TestClient(shared_app) as client:
            body = {"started_on": None, "daily_target_minutes": 5 + index}
            return client.put("/api/v1/routine", json=body, headers=headers).status_code

    assert at_once(2, put) == [200, 200]
    with TestClient(shared_app) as client:
        assert client.get("/api/v1/routine", headers=headers).json()["version"] == 2
