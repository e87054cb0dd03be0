"""`python -m app demo`: a demo client with two years of seeded diary and a demo therapist they share it with.

In the demo diary a statin (from month 8 on) doubles the cramp rate and a week of full adherence to
the self-release routine (from month 13 on) halves it; high heels, orthotics and an electrolyte
drink do nothing. Re-running replaces both demo accounts. Refused outside development.
"""

import datetime as dt
import math
import random
import secrets
from dataclasses import dataclass

from sqlmodel import Session

from app.core.config import ConfigurationError, Settings
from app.core.db import Database, make_engine
from app.core.time import zone
from app.diary.service import days_between
from app.episodes import service as episodes
from app.episodes.schemas import EpisodeCreate
from app.factors import service as factors
from app.factors.schemas import CheckInPut, ExposureCreate
from app.release import service as releases
from app.release.schemas import ReleaseSessionCreate
from app.routine import service as routines
from app.routine.schemas import RoutineUpdate
from app.sharing import service as sharing
from app.users import repository as users_repository
from app.users import service as users
from app.users.models import User
from app.users.schemas import UserRegister

CLIENT_EMAIL = "demo.client@example.org"
THERAPIST_EMAIL = "demo.therapist@example.org"
TIMEZONE = "Europe/Berlin"
SEED = 6  # chosen so the null factors do not happen to look like effects (see the note in README)
DAYS = 720
BASE_RATE = 0.45
STATIN_RATE_RATIO = 2.0
FULL_ADHERENCE_RATE_RATIO = 0.5


@dataclass(frozen=True)
class DemoLogins:
    client_password: str
    therapist_password: str


def load(settings: Settings) -> DemoLogins:
    if settings.app_env != "development":
        raise ConfigurationError("demo data is only for development databases")
    database = Database(make_engine(settings), max_concurrent=settings.db_pool_size)
    logins = DemoLogins(secrets.token_urlsafe(12), secrets.token_urlsafe(12))
    with database.session(write=True) as session:
        for email in (CLIENT_EMAIL, THERAPIST_EMAIL):
            existing = users_repository.get_by_email(session, email)
            if existing is not None:
                users_repository.delete_user(session, existing.id)
        session.commit()
        client = users.register(
            session, settings, _account(CLIENT_EMAIL, logins.client_password, "client", "Demo client")
        )
        therapist = users.register(
            session, settings, _account(THERAPIST_EMAIL, logins.therapist_password, "therapist", "Demo therapist")
        )
        # The same consent a real client gives: a share code, redeemed by the therapist.
        sharing.redeem(session, therapist, sharing.make_code(session, client).code)
        _write_diary(session, client, random.Random(SEED))  # noqa: S311 - seeded demo data, not secrets
    database.dispose()
    return logins


def _account(email: str, password: str, role: str, name: str) -> UserRegister:
    return UserRegister.model_validate(
        {"email": email, "password": password, "role": role, "display_name": name, "timezone": TIMEZONE}
    )


def _write_diary(session: Session, client: User, rng: random.Random) -> None:
    today = dt.date.today()
    first = today - dt.timedelta(days=DAYS)
    statin_from = first + dt.timedelta(days=240)
    routine_from = first + dt.timedelta(days=400)
    orthotics = (first + dt.timedelta(days=60), first + dt.timedelta(days=140))
    factors.create_exposure(session, client.id, ExposureCreate(factor="statin", start_date=statin_from))
    factors.create_exposure(
        session, client.id, ExposureCreate(factor="orthotics", start_date=orthotics[0], end_date=orthotics[1])
    )
    routines.replace(session, client.id, RoutineUpdate(started_on=routine_from, daily_target_minutes=5), None)
    adherent: list[bool] = []
    flare = 1.0
    for day in days_between(first, today - dt.timedelta(days=2)):
        # A slowly wandering flare level makes bad weeks, as real diaries have.
        flare = math.exp(0.85 * math.log(flare) + rng.gauss(0, 0.25))
        did_routine = day >= routine_from and rng.random() < 0.8
        adherent.append(did_routine)
        if rng.random() < 0.05:
            continue  # an unlogged day: missing, not cramp-free
        week = adherent[-8:-1]
        adherence = sum(week) / len(week) if day >= routine_from + dt.timedelta(days=7) else 0.0
        rate = BASE_RATE * flare * (STATIN_RATE_RATIO if day >= statin_from else 1.0)
        rate *= FULL_ADHERENCE_RATE_RATIO**adherence
        present = [key for key, share in (("high_heels", 0.2), ("electrolyte_drink", 0.3)) if rng.random() < share]
        factors.put_checkin(session, client.id, day, CheckInPut(factors=present), None)
        if did_routine:
            _release(session, client, day, rng)
        for _ in range(_poisson(rng, rate)):
            _episode(session, client, day, rng)


def _poisson(rng: random.Random, rate: float) -> int:
    count, threshold, product = 0, math.exp(-rate), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _local(day: dt.date, hour: int, minute: int) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(TIMEZONE)).isoformat()


def _episode(session: Session, client: User, day: dt.date, rng: random.Random) -> None:
    at_night = rng.random() < 0.7
    if at_night:  # in the small hours of the next morning: the night rule counts it for `day`
        moment = _local(day + dt.timedelta(days=1), rng.randint(0, 5), rng.randint(0, 59))
    else:
        moment = _local(day, rng.randint(9, 20), rng.randint(0, 59))
    payload = EpisodeCreate.model_validate(
        {
            "started_at": moment,
            "duration_seconds": rng.randint(20, 600),
            "leg": rng.choice(["left", "right", "both"]),
            "severity": max(1, min(10, round(rng.gauss(6, 2)))),
            "during_sleep": at_night,
            "activity": "sleeping" if at_night else rng.choice(["sitting", "walking", "standing"]),
            "relief": [rng.choice(["stretching", "massage", "walking"])],
        }
    )
    episodes.create(session, client, payload)


def _release(session: Session, client: User, day: dt.date, rng: random.Random) -> None:
    payload = ReleaseSessionCreate.model_validate(
        {
            "performed_at": _local(day, 20, rng.randint(0, 59)),
            "duration_minutes": rng.randint(5, 15),
            "technique": rng.choice(["hands", "foam_roller", "massage_ball"]),
            "areas": ["left_calf", "right_calf"],
            "discomfort": rng.randint(0, 6),
            "gait_practice_minutes": rng.randint(0, 20),
        }
    )
    releases.create(session, client, payload)
