from datetime import date, datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field

from app.core.db import UTCDateTime
from app.core.records import RecordBase


class ReleaseSession(RecordBase, table=True):
    """A daily self-release session on the calves, with optional gait practice."""

    __tablename__ = "release_sessions"
    __table_args__ = (
        Index("ix_release_sessions_user_id_change_seq", "user_id", "change_seq"),
        Index("ix_release_sessions_user_id_performed_at_id", "user_id", "performed_at", "id"),
        Index("ix_release_sessions_user_id_diary_date", "user_id", "diary_date"),
        Index("ix_release_sessions_user_id_created_at", "user_id", "created_at"),
    )

    performed_at: datetime = Field(sa_type=UTCDateTime)
    timezone: str = Field(max_length=64)
    diary_date: date
    duration_minutes: int
    technique: str = Field(max_length=16)
    areas: list[str] = Field(default_factory=list, sa_type=JSON)
    discomfort: int | None = None
    gait_practice_minutes: int = 0
    notes: str | None = Field(default=None, max_length=2000)
