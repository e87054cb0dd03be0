"""Benchmark: GET /api/v1/analysis for diaries of 90, 365 and 730 days with a dozen factors,
beside the /healthz floor measured in the same run, against a real server on loopback.

    .venv/bin/python -m bench.analysis [--requests 40]

Prints median and p95 latency per diary length, the ratio to /healthz, and how the cost grows
with the diary (730 vs 365 vs 90 days). Target: the 730-day report under 50 ms on 2 cores.
"""

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
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
from bench.server import running_server, settings_for

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
                UserRegister.model_validate({"email": f"bench-{days}@example.org", "password": PASSWORD}),
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


def timed(client: httpx.Client, path: str, headers: dict[str, str], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return latencies


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with running_server(url) as base:
            seed(url)
            with httpx.Client(base_url=base, timeout=30) as client:
                floor = timed(client, "/healthz", {}, args.requests * 3)
                floor_median = statistics.median(floor)
                print(f"/healthz median {floor_median:.2f} ms, p95 {p95(floor):.2f} ms")
                print(f"{'days':>6} {'median ms':>10} {'p95 ms':>8} {'× healthz':>10}")
                medians = {}
                for days in DIARY_LENGTHS:
                    token = client.post(
                        "/api/v1/auth/token", data={"username": f"bench-{days}@example.org", "password": PASSWORD}
                    ).json()["access_token"]
                    headers = {"Authorization": f"Bearer {token}"}
                    report = client.get("/api/v1/analysis", headers=headers).json()
                    assert report["window"]["days_logged"] >= days - 2, report["window"]
                    latencies = timed(client, "/api/v1/analysis", headers, args.requests)
                    medians[days] = statistics.median(latencies)
                    print(
                        f"{days:>6} {medians[days]:>10.2f} {p95(latencies):>8.2f} {medians[days] / floor_median:>10.1f}"
                    )
                print(
                    f"growth: 365/90 days = {medians[365] / medians[90]:.2f}× for {365 / 90:.2f}× the days; "
                    f"730/365 days = {medians[730] / medians[365]:.2f}× for 2.00× the days"
                )


if __name__ == "__main__":
    main()
