"""Benchmark: the therapist dashboard, GET /api/v1/therapist/clients, for therapists with 10, 100
and 1,000 linked clients, each client with 90 days of diary.

    .venv/bin/python -m bench.dashboard [--requests 15]

Prints the median and p99 latency per size, the ratio 1000 / 100 clients (target: under 3; the
summaries are one aggregate statement, so the cost should grow far less than the number of clients)
and the SQL statements one request runs (target: the same for every size).

Clients are written straight into the database in bulk (1,110 accounts and about 200,000 diary
rows through the API would take longer than the measurement); the therapists log in through the
API and the latency is measured against a real server on loopback. Statements are counted on an
in-process app over the same database file, as the test suite counts them.
"""

import argparse
import datetime as dt
import random
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, insert

from app.core.db import Database, make_engine, utcnow
from app.episodes.models import Episode
from app.factors.models import CheckIn
from app.main import create_app
from app.release.models import ReleaseSession
from app.sharing.models import TherapistLink
from app.users import service as users
from app.users.models import User
from app.users.schemas import UserRegister
from bench.api import p99, sequential_latencies
from bench.report import Row, print_table
from bench.server import RUN_TAG, running_server, settings_for

SIZES = (10, 100, 1000)
DIARY_DAYS = 90
PASSWORD = "benchmark-password"
TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
# Any fixed string: bulk-made clients never log in.
UNUSABLE_PASSWORD_HASH = "!bench"


def therapist_email(size: int) -> str:
    return f"therapist-{size}-{RUN_TAG}@example.org"


def seed(database_url: str) -> None:
    """Registers one therapist per size through the API's own service (so they can log in) and
    bulk-inserts their clients, links and diaries."""
    settings = settings_for(database_url)
    database = Database(make_engine(settings), max_concurrent=1)
    rng = random.Random(11)
    with database.session(write=True) as session:
        therapists = {
            size: users.register(
                session,
                settings,
                UserRegister.model_validate(
                    {"email": therapist_email(size), "password": PASSWORD, "role": "therapist"}
                ),
            ).id
            for size in SIZES
        }
    with database.engine.begin() as connection:
        for size, therapist_id in therapists.items():
            for index in range(size):
                insert_client(connection, therapist_id, f"client-{size}-{index}", rng)
    database.dispose()


def insert_client(connection: Connection, therapist_id: uuid.UUID, name: str, rng: random.Random) -> None:
    now = utcnow()
    client_id = uuid.uuid4()
    timezone = rng.choice(TIMEZONES)
    connection.execute(
        insert(User),
        [
            {
                "id": client_id,
                "email": f"{name}-{RUN_TAG}@example.org",
                "password_hash": UNUSABLE_PASSWORD_HASH,
                "display_name": name,
                "role": "client",
                "timezone": timezone,
                "created_at": now - dt.timedelta(days=DIARY_DAYS),
            }
        ],
    )
    connection.execute(
        insert(TherapistLink),
        [{"id": uuid.uuid4(), "client_id": client_id, "therapist_id": therapist_id, "created_at": now}],
    )
    episodes, sessions, checkins = [], [], []
    for offset in range(DIARY_DAYS):
        day = now.date() - dt.timedelta(days=offset)
        noon = dt.datetime.combine(day, dt.time(12), dt.UTC)
        common = {"user_id": client_id, "timezone": timezone, "diary_date": day, "created_at": noon, "updated_at": noon}
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            episodes.append(
                {
                    **common,
                    "id": uuid.uuid4(),
                    "create_digest": "bench",
                    "started_at": noon - dt.timedelta(hours=rng.randint(0, 10)),
                    "leg": "left",
                    "muscle": "calf",
                    "severity": rng.randint(1, 10),
                    "during_sleep": False,
                    "relief": [],
                }
            )
        if rng.random() < 0.7:
            sessions.append(
                {
                    **common,
                    "id": uuid.uuid4(),
                    "create_digest": "bench",
                    "performed_at": noon,
                    "duration_minutes": rng.randint(2, 12),
                    "technique": "hands",
                    "areas": ["left_calf", "right_calf"],
                    "gait_practice_minutes": 0,
                }
            )
        if rng.random() < 0.5:
            checkins.append(
                {
                    "user_id": client_id,
                    "id": uuid.uuid4(),
                    "create_digest": "bench",
                    "date": day,
                    "factors": [],
                    "created_at": noon,
                    "updated_at": noon,
                }
            )
    for model, rows in ((Episode, episodes), (ReleaseSession, sessions), (CheckIn, checkins)):
        if rows:
            connection.execute(insert(model), rows)


def login(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def latencies(client: httpx.Client, headers: dict[str, str], size: int, requests: int) -> list[float]:
    first = client.get("/api/v1/therapist/clients", headers=headers)
    first.raise_for_status()
    if len(first.json()["items"]) != size:
        raise RuntimeError(f"expected {size} clients, got {len(first.json()['items'])}")
    return sequential_latencies(client, "/api/v1/therapist/clients", headers, requests)


@contextmanager
def counted_statements(app: Any) -> Iterator[list[str]]:
    engine = app.state.database.engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements_per_request(database_url: str) -> dict[int, int]:
    """Whole request, authentication and the access rule included."""
    app = create_app(settings_for(database_url))
    counts = {}
    with TestClient(app) as client:
        for size in SIZES:
            headers = login(client, therapist_email(size))
            client.get("/api/v1/therapist/clients", headers=headers).raise_for_status()  # warm caches
            with counted_statements(app) as statements:
                client.get("/api/v1/therapist/clients", headers=headers).raise_for_status()
            counts[size] = len(statements)
    return counts


def measure(database_url: str, base: str, requests: int) -> list[Row]:
    rows = []
    medians = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for size in SIZES:
            measured = latencies(client, login(client, therapist_email(size)), size, requests)
            medians[size] = statistics.median(measured)
            rows.append(Row("dashboard", f"{size:,} clients: median", medians[size], "ms"))
            rows.append(Row("dashboard", f"{size:,} clients: p99", p99(measured), "ms"))
    rows.append(Row("dashboard", "median 1,000 / 100 clients", medians[1000] / medians[100], "x", "< 3"))
    counts = statements_per_request(database_url)
    for size, count in counts.items():
        rows.append(Row("dashboard", f"{size:,} clients: SQL statements", count, "", "same for all"))
    return rows


@contextmanager
def seeded_server() -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'dashboard.db'}"
        with running_server(url) as base:
            seed(url)
            yield url, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args()
    with seeded_server() as (url, base):
        print_table(measure(url, base, args.requests))


if __name__ == "__main__":
    main()
