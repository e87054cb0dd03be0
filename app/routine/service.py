"""The routine: a start date (or the first release session's day) and a daily target."""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.changes import stamp as stamp_change
from app.core.db import utcnow
from app.core.errors import PreconditionFailed
from app.core.records import etag, matches
from app.routine import repository
from app.routine.models import DEFAULT_DAILY_TARGET_MINUTES, Routine
from app.routine.schemas import RoutinePublic, RoutineUpdate


@dataclass(frozen=True)
class EffectiveRoutine:
    start: date | None
    daily_target_minutes: int


def effective(session: Session, owner_id: uuid.UUID) -> EffectiveRoutine:
    routine = repository.get(session, owner_id)
    target = routine.daily_target_minutes if routine else DEFAULT_DAILY_TARGET_MINUTES
    start = routine.started_on if routine and routine.started_on else repository.first_release_day(session, owner_id)
    return EffectiveRoutine(start=start, daily_target_minutes=target)


def read(session: Session, owner_id: uuid.UUID) -> RoutinePublic:
    return _public(session, owner_id, repository.get(session, owner_id))


def replace(session: Session, owner_id: uuid.UUID, payload: RoutineUpdate, if_match: str | None) -> RoutinePublic:
    routine = repository.get(session, owner_id, lock=True)
    current_version = routine.version if routine else 0
    if if_match is not None and (routine is None or not matches(if_match, current_version)):
        raise PreconditionFailed(
            f"The routine is at version {current_version}.",
            headers={"ETag": etag(current_version)},
            body={"record": _public(session, owner_id, routine).model_dump(mode="json")},
        )
    if routine is not None and (routine.started_on, routine.daily_target_minutes) == (
        payload.started_on,
        payload.daily_target_minutes,
    ):
        return _public(session, owner_id, routine)  # the same routine again (a replay): no change
    if routine is None:
        routine = _first_routine(session, owner_id)
    routine.started_on = payload.started_on
    routine.daily_target_minutes = payload.daily_target_minutes
    routine.version += 1
    routine.updated_at = utcnow()
    stamp_change(session, owner_id, routine)
    session.commit()
    return _public(session, owner_id, routine)


def _first_routine(session: Session, owner_id: uuid.UUID) -> Routine:
    """Inserts the user's routine row; when a concurrent first PUT got there first, locks theirs."""
    routine = Routine(user_id=owner_id, version=0, updated_at=utcnow())
    try:
        with session.begin_nested():
            session.add(routine)
    except IntegrityError:
        existing = repository.get(session, owner_id, lock=True)
        if existing is None:
            raise
        return existing
    return routine


def _public(session: Session, owner_id: uuid.UUID, routine: Routine | None) -> RoutinePublic:
    current = effective(session, owner_id)
    return RoutinePublic(
        started_on=routine.started_on if routine else None,
        daily_target_minutes=current.daily_target_minutes,
        effective_start=current.start,
        version=routine.version if routine else 0,
        updated_at=routine.updated_at if routine else None,
    )
