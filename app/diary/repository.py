"""Per-day aggregates of one user's diary, computed in SQL over the (user_id, diary_date) indexes:
the rows returned grow with the number of days, never with the number of records."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Date, func, or_, union_all
from sqlmodel import Session, col, select

from app.episodes.models import Episode
from app.factors.models import CheckIn, Exposure
from app.release.models import ReleaseSession


def _live(model: Any, owner_id: uuid.UUID) -> list[Any]:
    return [model.user_id == owner_id, col(model.deleted_at).is_(None)]


def episode_days(session: Session, owner_id: uuid.UUID, start: dt.date, end: dt.date) -> list[tuple[dt.date, int, int]]:
    """(diary_date, episodes, sum of severities) for each day with episodes."""
    statement = (
        select(col(Episode.diary_date), func.count(), func.sum(col(Episode.severity)))
        .where(*_live(Episode, owner_id), col(Episode.diary_date).between(start, end))
        .group_by(col(Episode.diary_date))
    )
    return [(day, int(count), int(total)) for day, count, total in session.exec(statement).all()]


def release_days(session: Session, owner_id: uuid.UUID, start: dt.date, end: dt.date) -> list[tuple[dt.date, int]]:
    """(diary_date, release minutes) for each day with release sessions."""
    statement = (
        select(col(ReleaseSession.diary_date), func.sum(col(ReleaseSession.duration_minutes)))
        .where(*_live(ReleaseSession, owner_id), col(ReleaseSession.diary_date).between(start, end))
        .group_by(col(ReleaseSession.diary_date))
    )
    return [(day, int(minutes)) for day, minutes in session.exec(statement).all()]


def checkin_days(
    session: Session, owner_id: uuid.UUID, start: dt.date, end: dt.date
) -> list[tuple[dt.date, list[str]]]:
    statement = select(col(CheckIn.date), col(CheckIn.factors)).where(
        *_live(CheckIn, owner_id), col(CheckIn.date).between(start, end)
    )
    return [(day, list(factors)) for day, factors in session.exec(statement).all()]


def exposures_overlapping(
    session: Session, owner_id: uuid.UUID, start: dt.date, end: dt.date
) -> list[tuple[str, dt.date, dt.date | None]]:
    statement = select(col(Exposure.factor), col(Exposure.start_date), col(Exposure.end_date)).where(
        *_live(Exposure, owner_id),
        col(Exposure.start_date) <= end,
        or_(col(Exposure.end_date).is_(None), col(Exposure.end_date) >= start),
    )
    return [(factor, first, last) for factor, first, last in session.exec(statement).all()]


def first_exposure_days(session: Session, owner_id: uuid.UUID) -> dict[str, dt.date]:
    statement = (
        select(col(Exposure.factor), func.min(col(Exposure.start_date)))
        .where(*_live(Exposure, owner_id))
        .group_by(col(Exposure.factor))
    )
    return {factor: first for factor, first in session.exec(statement).all()}


def checkin_factors_before(session: Session, owner_id: uuid.UUID, before: dt.date) -> list[tuple[dt.date, list[str]]]:
    """The factors of every check-in before `before` (one row per day)."""
    statement = select(col(CheckIn.date), col(CheckIn.factors)).where(
        *_live(CheckIn, owner_id), col(CheckIn.date) < before
    )
    return [(day, list(factors)) for day, factors in session.exec(statement).all()]


def diary_span(session: Session, owner_id: uuid.UUID) -> tuple[dt.date | None, dt.date | None]:
    """The first and last logged diary day."""
    days = union_all(
        select(col(Episode.diary_date).label("day")).where(*_live(Episode, owner_id)),
        select(col(ReleaseSession.diary_date).label("day")).where(*_live(ReleaseSession, owner_id)),
        select(col(CheckIn.date).label("day")).where(*_live(CheckIn, owner_id)),
    ).subquery()
    first, last = session.execute(select(func.min(days.c.day, type_=Date()), func.max(days.c.day, type_=Date()))).one()
    return first, last
