"""Benchmark: GET /api/v1/analysis for diaries of 90, 365 and 730 days with a dozen factors,
beside the /healthz floor measured in the same run, against a real server on loopback.

    .venv/bin/python -m bench.analysis [--requests 40]

Prints median and p99 latency per diary length, the 730-day median as a multiple of the
/healthz median (target: under 30), and how the cost grows with the diary (730 vs 365 days).
"""

import argparse
import datetime as dt
import random
import statistics
import tempfile
from pathlib import Path

import httpx

from app.core.db import Database, make_engine
from app.episodes import service as episodes
from app.episodes.schemas import EpisodeCreate
from app.factors import service as factors
from app.factors.schemas import CheckInPut, ExposureCreate, FactorCreate
from app.release import service as releases
from app.release.schemas import ReleaseSessionCreate
from app.routine import service as routines
from app.routine.schemas import RoutineUpdate
from app.users import service as users
from app.users.schemas import UserRegister
from bench.api import p99, sequential_latencies
from bench.report import Row, print_table
from bench.server import RUN_TAG, running_server, settings_for

DIARY_LENGTHS = (90, 365, 730)
PASSWORD = "benchmark-password"
DAILY_FACTORS = ("high_heels", "electrolyte_drink", "warm_shower", "stretching", "acetaminophen", "mineral_supplement")
BLOCK_FACTORS = ("statin", "diuretic", "birth_control_pill", "rigid_shoes", "orthotics", "custom_socks")


def seed(database_url: str) -> None:
    settings = settings_for(database_url)
    database = Database(make_engine(settings), max_concurrent=settings.db_pool_size)
    rng = random.Random(7)
    with database.session(write=True) as session:
        for days in DIARY_LENGTHS:
            user = users.register(
                session,
                settings,
                UserRegister.model_validate({"email": email(days), "password": PASSWORD}),
            )
            factors.add_factor(
                session, user.id, FactorCreate(key="custom_socks", label="Compression socks", category="other")
            )
            first = dt.date.today() - dt.timedelta(days=days + 1)
            for index, key in enumerate(BLOCK_FACTORS):
                start = first + dt.timedelta(days=(index + 1) * days // 8)
                end = start + dt.timedelta(days=days // 5)
                factors.create_exposure(session, user.id, ExposureCreate(factor=key, start_date=start, end_date=end))
            routines.replace(
                session,
                user.id,
                RoutineUpdate(started_on=first + dt.timedelta(days=days // 2), daily_target_minutes=5),
                None,
            )
            for offset in range(days):
                day = first + dt.timedelta(days=offset)
                present = [key for key in DAILY_FACTORS if rng.random() < 0.3]
                factors.put_checkin(session, user.id, day, CheckInPut(factors=present), None)
                noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
                for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
                    episodes.create(
                        session,
                        user,
                        EpisodeCreate(
                            started_at=noon + dt.timedelta(minutes=rng.randint(0, 600)),
                            leg="left",
                            severity=rng.randint(1, 10),
                        ),
                    )
                if rng.random() < 0.6:
                    releases.create(
                        session,
                        user,
                        ReleaseSessionCreate(
                            performed_at=noon,
                            duration_minutes=rng.randint(3, 12),
                            technique="hands",
                            areas=["left_calf"],
                        ),
                    )
    database.dispose()


def email(days: int) -> str:
    return f"bench-{days}-{RUN_TAG}@example.org"


def measure(base: str, requests: int, floor_median_ms: float) -> list[Row]:
    """Median and p99 latency of the report per diary length, one request at a time, and the
    730-day median as a multiple of the `/healthz` median measured the same way."""
    rows = []
    medians = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for days in DIARY_LENGTHS:
            token = client.post("/api/v1/auth/token", data={"username": email(days), "password": PASSWORD})
            token.raise_for_status()
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            report = client.get("/api/v1/analysis", headers=headers).json()
            if report["window"]["days_logged"] < days - 2:
                raise RuntimeError(f"the {days}-day diary was not seeded: {report['window']}")
            latencies = sequential_latencies(client, "/api/v1/analysis", headers, requests)
            medians[days] = statistics.median(latencies)
            rows.append(Row("analysis", f"{days} days: median", medians[days], "ms"))
            rows.append(Row("analysis", f"{days} days: p99", p99(latencies), "ms"))
    rows.append(Row("analysis", "730 days: median / /healthz median", medians[730] / floor_median_ms, "x", "< 30"))
    rows.append(Row("analysis", "730 / 365 days", medians[730] / medians[365], "x", "~2 (linear)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with running_server(url) as base:
            seed(url)
            with httpx.Client(base_url=base, timeout=30) as client:
                floor = statistics.median(sequential_latencies(client, "/healthz", {}, 3 * args.requests))
            rows = [Row("floor", "/healthz median, one at a time", floor, "ms"), *measure(base, args.requests, floor)]
    print_table(rows)


if __name__ == "__main__":
    main()
