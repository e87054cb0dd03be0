"""A user's diary as one row per day: what trends, the analysis and dashboards are built from."""

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlmodel import Session

from app.core.db import utcnow
from app.core.time import local_date
from app.diary import repository


@dataclass
class Day:
    episodes: int = 0
    severity_sum: int = 0
    release_minutes: int = 0
    checked_in: bool = False
    factors: set[str] = field(default_factory=set)

    @property
    def logged(self) -> bool:
        """A day with a check-in, an episode or a release session; any other day is missing data."""
        return self.checked_in or self.episodes > 0 or self.release_minutes > 0


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def local_today(timezone: str) -> dt.date:
    return local_date(utcnow(), timezone)


def daily(
    session: Session, owner_id: uuid.UUID, start: dt.date, end: dt.date, *, with_factors: bool = False
) -> dict[dt.date, Day]:
    """The days of [start, end] that have any record, keyed by date. With `with_factors`, each
    day also lists the factors present (an exposure covering it or its check-in listing them)."""
    days: dict[dt.date, Day] = {}
    for day, count, severity_sum in repository.episode_days(session, owner_id, start, end):
        entry = days.setdefault(day, Day())
        entry.episodes, entry.severity_sum = count, severity_sum
    for day, minutes in repository.release_days(session, owner_id, start, end):
        days.setdefault(day, Day()).release_minutes = minutes
    for day, factors in repository.checkin_days(session, owner_id, start, end):
        entry = days.setdefault(day, Day())
        entry.checked_in = True
        entry.factors.update(factors)
    if with_factors:
        for factor, first, last in repository.exposures_overlapping(session, owner_id, start, end):
            for day in days_between(max(first, start), min(last or end, end)):
                days.setdefault(day, Day()).factors.add(factor)
    return days


def first_present(
    session: Session, owner_id: uuid.UUID, read: dict[dt.date, Day], read_from: dt.date
) -> dict[str, dt.date]:
    """The first day each factor was ever present, from exposures and check-ins alike. `read` are
    the days from `read_from` on that the caller already has (from `daily`, with factors): only
    the check-ins before them are read again."""
    firsts = repository.first_exposure_days(session, owner_id)
    earlier = repository.checkin_factors_before(session, owner_id, read_from)
    for day, factors in [*earlier, *((day, entry.factors) for day, entry in read.items())]:
        for factor in factors:
            if factor not in firsts or day < firsts[factor]:
                firsts[factor] = day
    return firsts


def span(session: Session, owner_id: uuid.UUID) -> tuple[dt.date | None, dt.date | None]:
    return repository.diary_span(session, owner_id)
