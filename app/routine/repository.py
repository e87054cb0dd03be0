import uuid
from datetime import date

from sqlmodel import Session, col, func, select

from app.release.models import ReleaseSession
from app.routine.models import Routine


def get(session: Session, owner_id: uuid.UUID, *, lock: bool = False) -> Routine | None:
    statement = select(Routine).where(Routine.user_id == owner_id)
    if lock:
        statement = statement.with_for_update()
    return session.exec(statement).first()


def first_release_day(session: Session, owner_id: uuid.UUID) -> date | None:
    statement = select(func.min(ReleaseSession.diary_date)).where(
        ReleaseSession.user_id == owner_id, col(ReleaseSession.deleted_at).is_(None)
    )
    return session.exec(statement).one()
