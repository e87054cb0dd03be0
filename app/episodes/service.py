"""Episode use cases: the shared record rules plus the night rule for the diary date."""

import uuid
from datetime import UTC
from typing import Any

from sqlalchemy import RowMapping
from sqlmodel import Session, col

from app.core.pagination import PageRequest
from app.core.records import DateWindow, RecordService
from app.core.time import episode_diary_date
from app.episodes.models import Episode
from app.episodes.repository import episodes
from app.episodes.schemas import EpisodeCreate, EpisodePublic, EpisodeUpdate
from app.users.models import User


def _derive(episode: Episode) -> None:
    episode.started_at = episode.started_at.astimezone(UTC)
    episode.diary_date = episode_diary_date(episode.started_at, episode.timezone, episode.during_sleep)


def _render(episode: Episode) -> dict[str, Any]:
    return EpisodePublic.model_validate(episode).model_dump(mode="json")


records = RecordService(episodes, time_attribute="started_at", derive=_derive, render=_render)


def create_fields(user: User, payload: EpisodeCreate) -> dict[str, Any]:
    """The stored fields of a create request: the user's time zone by default, the time in UTC."""
    fields = payload.model_dump(exclude={"id"})
    fields["timezone"] = payload.timezone or user.timezone
    fields["started_at"] = payload.started_at.astimezone(UTC)
    return fields


def create(session: Session, user: User, payload: EpisodeCreate) -> tuple[Episode, bool]:
    return records.create(session, user.id, payload.id, create_fields(user, payload))


def get(session: Session, user: User, episode_id: uuid.UUID) -> Episode:
    return records.get(session, user.id, episode_id)


def list_page(
    session: Session, user: User, window: DateWindow, page: PageRequest
) -> tuple[list[RowMapping], str | None]:
    return records.list(session, user.id, page, window.conditions(col(Episode.diary_date)))


def update(
    session: Session, user: User, episode_id: uuid.UUID, payload: EpisodeUpdate, if_match: str | None
) -> Episode:
    return records.update(session, user.id, episode_id, payload.model_dump(exclude_unset=True), if_match)


def delete(session: Session, user: User, episode_id: uuid.UUID, if_match: str | None) -> None:
    records.delete(session, user.id, episode_id, if_match)
