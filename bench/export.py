"""Benchmark: GET /api/v1/export/episodes.csv of 100,000 episodes from a real server on loopback,
beside `sqlite3 -csv` dumping the same rows from the same database file as the floor.

    .venv/bin/python -m bench.export [--episodes 100000]

Prints rows per second, the server's peak RSS growth during the export (sampled from
/proc/<pid>/status), and the time ratio to the floor. Targets: at least 100,000 rows per second
and under 50 MiB of RSS growth (the export streams, so the growth must not follow the row count).
"""

import argparse
import datetime as dt
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert

from app.core.db import make_engine
from app.core.time import episode_diary_date
from app.episodes.models import Episode
from bench.report import Row, print_table
from bench.server import running_server_process, settings_for

NAME = "export"
PASSWORD = "benchmark-password"
EMAIL = "bench-export@example.org"
TIMEZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
NOTES = (None, None, "woke up twice", 'calf, left; "sharp"', "=not a formula", "Krämpfe nachts")
SEED_BATCH = 10_000
# The export's query (the same columns, rows and order), for the sqlite3 shell.
FLOOR_QUERY = (
    "SELECT id, started_at, timezone, duration_seconds, leg, muscle, severity, during_sleep, activity, relief, "
    "notes, diary_date, created_at, updated_at FROM episodes WHERE user_id = "
    "(SELECT id FROM users WHERE email = 'bench-export@example.org') AND deleted_at IS NULL ORDER BY started_at, id"
)
MIB = 1024 * 1024


def seed(database_url: str, user_id: uuid.UUID, count: int) -> None:
    """Bulk insert straight into the database: building 100,000 episodes through the API would
    take minutes and measure the wrong thing."""
    engine = make_engine(settings_for(database_url))
    rng = random.Random(11)
    start = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        for first in range(0, count, SEED_BATCH):
            rows = []
            for index in range(first, min(first + SEED_BATCH, count)):
                started = start + dt.timedelta(minutes=53 * index)
                zone = TIMEZONES[index % len(TIMEZONES)]
                sleep = rng.random() < 0.5
                rows.append(
                    {
                        "id": uuid.uuid4(), "user_id": user_id, "version": 1, "create_digest": "bench",
                        "created_at": now, "updated_at": now, "started_at": started, "timezone": zone,
                        "diary_date": episode_diary_date(started, zone, sleep), "leg": "left", "muscle": "calf",
                        "severity": rng.randint(1, 10), "during_sleep": sleep,
                        "duration_seconds": rng.choice((None, 30, 90)), "activity": rng.choice((None, "resting")),
                        "relief": rng.choice(([], ["stretching"], ["massage", "heat"])), "notes": rng.choice(NOTES),
                    }
                )  # fmt: skip
            connection.execute(insert(Episode), rows)
    engine.dispose()


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


class RssSampler:
    """The highest VmRSS of a process while running; VmHWM alone would also count start-up peaks."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_kib(pid, "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid, "VmRSS"))
            time.sleep(0.005)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid, "VmRSS"))


def timed_export(client: httpx.Client, headers: dict[str, str], params: dict[str, str]) -> tuple[float, int, int]:
    """Seconds, rows and chunks of one streamed export."""
    started = time.perf_counter()
    newlines = chunks = 0
    with client.stream("GET", "/api/v1/export/episodes.csv", headers=headers, params=params) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            newlines += chunk.count(b"\r\n")  # a rough count: notes may hold line breaks too
            chunks += 1
    return time.perf_counter() - started, newlines - 1, chunks


def floor_seconds(database_file: Path) -> tuple[float, int]:
    """`sqlite3 -csv` writing the same rows (same columns, same order) from the same file."""
    sqlite3 = shutil.which("sqlite3")
    if sqlite3 is None:
        raise RuntimeError("the sqlite3 command-line shell is needed for the floor (Debian: apt install sqlite3)")
    query = FLOOR_QUERY
    started = time.perf_counter()
    result = subprocess.run([sqlite3, "-csv", "-header", str(database_file), query], capture_output=True, check=True)
    return time.perf_counter() - started, result.stdout.count(b"\n") - 1


def measure(episodes: int = 100_000) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        database_file = Path(tmp) / "bench.db"
        url = f"sqlite:///{database_file}"
        with running_server_process(url) as (base, pid), httpx.Client(base_url=base, timeout=300) as client:
            client.post("/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}).raise_for_status()
            token = client.post("/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            user_id = uuid.UUID(client.get("/api/v1/users/me", headers=headers).json()["id"])
            seed(url, user_id, episodes)
            # Warm-up: a small window loads the code paths, so the measured export shows its own growth.
            timed_export(client, headers, {"to": "2015-01-10"})
            before = rss_kib(pid, "VmRSS")
            with RssSampler(pid) as sampler:
                seconds, rows, chunks = timed_export(client, headers, {})
            floor, floor_rows = floor_seconds(database_file)
    if floor_rows != episodes:
        raise RuntimeError(f"the floor dumped {floor_rows} rows, expected {episodes}")
    growth_mib = (sampler.peak - before) / 1024
    return [
        Row(NAME, f"episodes exported ({chunks} chunks)", rows, "rows"),
        Row(NAME, "export rate", episodes / seconds, "rows/s", ">= 100,000"),
        Row(NAME, "export time", seconds * 1000, "ms"),
        Row(NAME, "peak server RSS growth", growth_mib, "MiB", "< 50"),
        Row(NAME, "floor: sqlite3 -csv rate", floor_rows / floor, "rows/s"),
        Row(NAME, "time ratio ours / floor", seconds / floor, "x"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100_000)
    args = parser.parse_args()
    print_table(measure(args.episodes))


if __name__ == "__main__":
    main()
