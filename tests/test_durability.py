"""An acknowledged write survives the server being killed with SIGKILL: the real server
(`python -m app serve`) runs as a subprocess on the committed database of each backend, is killed
while a writer is still writing, and is started again on the same database."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, ROOT

SECRET_KEY = "durability-test-secret-0123456789abcdefg"  # 40 characters
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = httpx.Timeout(20.0)
EPISODES = 50
assert len(SECRET_KEY) == 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)


@contextmanager
def running_server(database_url: str, log: Path) -> Iterator[Server]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"WORKERS", "DATA_DIR", "DB_POOL_SIZE"}}
    env.update(
        DATABASE_URL=database_url,
        HOST="127.0.0.1",
        PORT=str(port),
        SECRET_KEY=SECRET_KEY,
        APP_ENV="development",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="1024",
    )
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the kill reaches any child too
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.kill()


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server did not answer /healthz within {START_TIMEOUT}s:\n{server.output()}")


def episode_body(index: int) -> dict[str, Any]:
    started = datetime(2024, 1, 1, 6, 30, tzinfo=UTC) + timedelta(hours=index, minutes=index % 60)
    return {
        "id": str(uuid.uuid4()),
        "started_at": started.isoformat(),
        "timezone": "Europe/Berlin",
        "duration_seconds": 30 + index,
        "leg": ["left", "right", "both"][index % 3],
        "muscle": ["calf", "foot", "toes", "hamstring"][index % 4],
        "severity": 1 + index % 10,
        "during_sleep": index % 2 == 0,
        "activity": "sleeping" if index % 2 == 0 else "walking",
        "relief": [["stretching"], ["massage", "heat"], []][index % 3],
        "notes": f"episode {index}: Wadenkrampf, \u00fcbel \u2014 {'x' * (index % 7)}",
    }


SENT_FIELDS = ("duration_seconds", "leg", "muscle", "severity", "during_sleep", "activity", "relief", "notes")


def has_content(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    same_time = datetime.fromisoformat(stored["started_at"]) == datetime.fromisoformat(sent["started_at"])
    return same_time and all(stored[name] == sent[name] for name in SENT_FIELDS) and stored["id"] == sent["id"]


@dataclass
class Ledger:
    """What the client knows: the last acknowledged state of each record, and what was sent
    without an answer (it may or may not have been committed, but never half)."""

    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    unanswered: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> bool:
        try:
            response = http.post("/api/v1/episodes", json=body, headers=headers)
        except httpx.TransportError:
            with self.lock:
                self.unanswered[body["id"]] = body
            return False
        assert response.status_code == 201, response.text
        stored = response.json()
        assert has_content(stored, body), (stored, body)
        with self.lock:
            self.acknowledged[body["id"]] = stored
        return True


def sign_up(base_url: str) -> tuple[str, dict[str, str]]:
    email = f"durable-{uuid.uuid4().hex[:10]}@example.org"
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as http:
        registered = http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
    return email, log_in(base_url, email)


def log_in(base_url: str, email: str) -> dict[str, str]:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as http:
        tokens = http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def list_all(http: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/api/v1/episodes", params=params, headers=headers)
        assert page.status_code == 200, page.text
        items.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    pytest.fail("the list did not end")


def write_until_stopped(
    base_url: str, headers: dict[str, str], ledger: Ledger, stop: threading.Event, first_index: int
) -> None:
    index = first_index
    try:
        with httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0)) as http:
            while not stop.is_set():
                if not ledger.create(http, headers, episode_body(index)):
                    return  # the server is gone
                index += 1
    except BaseException as error:  # reported by the test thread
        ledger.failures.append(error)


def test_acknowledged_writes_survive_sigkill(committed_db: str, tmp_path: Path) -> None:
    ledger = Ledger()
    patched: dict[str, dict[str, Any]] = {}
    log = tmp_path / "server.log"
    stop = threading.Event()
    writer: threading.Thread | None = None

    with running_server(committed_db, log) as server:
        email, headers = sign_up(server.base_url)
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http:
            for index in range(EPISODES):
                assert ledger.create(http, headers, episode_body(index))
            # Later edits are durable too: patch every tenth record after creating it.
            for record_id in list(ledger.acknowledged)[::10]:
                response = http.patch(
                    f"/api/v1/episodes/{record_id}", json={"severity": 10, "notes": "edited"}, headers=headers
                )
                assert response.status_code == 200, response.text
                patched[record_id] = response.json()
        assert len(ledger.acknowledged) == EPISODES

        # A writer keeps writing; the server dies under it.
        writer = threading.Thread(
            target=write_until_stopped, args=(server.base_url, headers, ledger, stop, EPISODES), daemon=True
        )
        writer.start()
        deadline = time.monotonic() + 30
        while len(ledger.acknowledged) < EPISODES + 5 and time.monotonic() < deadline and writer.is_alive():
            time.sleep(0.005)
        if ledger.failures:
            raise ledger.failures[0]
        assert len(ledger.acknowledged) >= EPISODES + 5, f"the writer stalled:\n{server.output()}"
        server.kill()
        assert server.process.returncode == -signal.SIGKILL
        stop.set()
        writer.join(timeout=30)
        assert not writer.is_alive()

    acknowledged = dict(ledger.acknowledged)
    acknowledged.update(patched)
    assert len(acknowledged) >= EPISODES + 5

    with (
        running_server(committed_db, log) as server,
        httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http,
    ):
        # The access token from before the crash is still good (same key), and so is the password.
        assert http.get("/api/v1/users/me", headers=headers).status_code == 200
        headers = log_in(server.base_url, email)

        for record_id, expected in acknowledged.items():
            response = http.get(f"/api/v1/episodes/{record_id}", headers=headers)
            assert response.status_code == 200, f"acknowledged record {record_id} was lost: {response.text}"
            assert response.json() == expected

        for record_id, sent in ledger.unanswered.items():
            response = http.get(f"/api/v1/episodes/{record_id}", headers=headers)
            assert response.status_code in {200, 404}, response.text
            if response.status_code == 200:
                assert has_content(response.json(), sent), "a write without an answer was stored half"

        listed = {item["id"]: item for item in list_all(http, headers)}
        assert acknowledged.keys() <= listed.keys()
        assert listed.keys() <= acknowledged.keys() | ledger.unanswered.keys()

        # The database still takes writes after the crash.
        again = http.post("/api/v1/episodes", json=episode_body(10_000), headers=headers)
        assert again.status_code == 201, again.text


def test_concurrent_acknowledged_writes_survive_sigkill(committed_db: str, tmp_path: Path) -> None:
    """Four writers at once (one account each); the kill lands while all of them are writing."""
    log = tmp_path / "server.log"
    ledgers = [Ledger() for _ in range(4)]
    stop = threading.Event()

    with running_server(committed_db, log) as server:
        accounts = [sign_up(server.base_url) for _ in ledgers]
        writers = [
            threading.Thread(
                target=write_until_stopped,
                args=(server.base_url, headers, ledger, stop, 100 * number),
                daemon=True,
            )
            for number, ((_, headers), ledger) in enumerate(zip(accounts, ledgers, strict=True))
        ]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(len(ledger.acknowledged) < 10 for ledger in ledgers):
            if not all(writer.is_alive() for writer in writers):
                break
            time.sleep(0.005)
        for ledger in ledgers:
            if ledger.failures:
                raise ledger.failures[0]
        assert all(len(ledger.acknowledged) >= 10 for ledger in ledgers), f"writers stalled:\n{server.output()}"
        server.kill()
        stop.set()
        for writer in writers:
            writer.join(timeout=30)
        assert not any(writer.is_alive() for writer in writers)

    with (
        running_server(committed_db, log) as server,
        httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http,
    ):
        for (email, _), ledger in zip(accounts, ledgers, strict=True):
            headers = log_in(server.base_url, email)
            listed = {item["id"]: item for item in list_all(http, headers)}
            for record_id, expected in ledger.acknowledged.items():
                assert listed.get(record_id) == expected, f"acknowledged record {record_id} was lost or changed"
            assert listed.keys() <= ledger.acknowledged.keys() | ledger.unanswered.keys()
            for record_id in listed.keys() - ledger.acknowledged.keys():
                assert has_content(listed[record_id], ledger.unanswered[record_id])
