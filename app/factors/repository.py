import datetime as dt
import uuid

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from app.core.records import RecordRepository
from app.factors.models import CheckIn, CustomFactor, Exposure

exposures = RecordRepository(Exposure, time_column=col(Exposure.start_date))
checkins = RecordRepository(CheckIn, time_column=col(CheckIn.date))


def custom_factors(session: Session, owner_id: uuid.UUID) -> list[CustomFactor]:
    return list(session.exec(select(CustomFactor).where(CustomFactor.user_id == owner_id)).all())


def custom_factor(session: Session, owner_id: uuid.UUID, key: str) -> CustomFactor | None:
    statement = select(CustomFactor).where(CustomFactor.user_id == owner_id, CustomFactor.key == key)
    return session.exec(statement).first()


def add_custom_factor(session: Session, factor: CustomFactor) -> None:
    session.add(factor)


def exposure_filters(factor: str | None, active_on: dt.date | None) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if factor is not None:
        filters.append(col(Exposure.factor) == factor)
    if active_on is not None:
        filters.append(col(Exposure.start_date) <= active_on)
        filters.append(or_(col(Exposure.end_date).is_(None), col(Exposure.end_date) >= active_on))
    return filters


def checkin_on(session: Session, owner_id: uuid.UUID, day: dt.date, *, lock: bool = False) -> CheckIn | None:
    """The day's check-in, deleted or not (a PUT after a DELETE brings the same row back)."""
    statement = select(CheckIn).where(CheckIn.user_id == owner_id, CheckIn.date == day)
    if lock:
        statement = statement.with_for_update()
    return session.exec(statement).first()
