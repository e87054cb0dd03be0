"""Release-session use cases: the shared record rules; the diary date is the local date."""

import uuid
from datetime import UTC
from typing import Any

from sqlalchemy import RowMapping
from sqlmodel import Session, col

from app.core.pagination import PageRequest
from app.core.records import DateWindow, RecordService
from app.core.time import local_date
from app.release.models import ReleaseSession
from app.release.repository import release_sessions
from app.release.schemas import ReleaseSessionCreate, ReleaseSessionPublic, ReleaseSessionUpdate
from app.users.models import User


def _derive(release: ReleaseSession) -> None:
    release.performed_at = release.performed_at.astimezone(UTC)
    release.diary_date = local_date(release.performed_at, release.timezone)


def _render(release: ReleaseSession) -> dict[str, Any]:
    return ReleaseSessionPublic.model_validate(release).model_dump(mode="json")


records = RecordService(release_sessions, time_attribute="performed_at", derive=_derive, render=_render)


def create_fields(user: User, payload: ReleaseSessionCreate) -> dict[str, Any]:
    """The stored fields of a create request: the user's time zone by default, the time in UTC."""
    fields = payload.model_dump(exclude={"id"})
    fields["timezone"] = payload.timezone or user.timezone
    fields["performed_at"] = payload.performed_at.astimezone(UTC)
    return fields


def create(session: Session, user: User, payload: ReleaseSessionCreate) -> tuple[ReleaseSession, bool]:
    return records.create(session, user.id, payload.id, create_fields(user, payload))


def get(session: Session, user: User, release_id: uuid.UUID) -> ReleaseSession:
    return records.get(session, user.id, release_id)


def list_page(
    session: Session, user: User, window: DateWindow, page: PageRequest
) -> tuple[list[RowMapping], str | None]:
    return records.list(session, user.id, page, window.conditions(col(ReleaseSession.diary_date)))


def update(
    session: Session, user: User, release_id: uuid.UUID, payload: ReleaseSessionUpdate, if_match: str | None
) -> ReleaseSession:
    return records.update(session, user.id, release_id, payload.model_dump(exclude_unset=True), if_match)


def delete(session: Session, user: User, release_id: uuid.UUID, if_match: str | None) -> None:
    records.delete(session, user.id, release_id, if_match)
