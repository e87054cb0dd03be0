from datetime import date, datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field

from app.core.db import UTCDateTime
from app.core.records import RecordBase


class Episode(RecordBase, table=True):
    __tablename__ = "episodes"
    __table_args__ = (
        Index("ix_episodes_user_id_change_seq", "user_id", "change_seq"),
        # Serves the newest-first keyset pages; `diary_date` filters and the sync feed come after.
        Index("ix_episodes_user_id_started_at_id", "user_id", "started_at", "id"),
        Index("ix_episodes_user_id_diary_date", "user_id", "diary_date"),
        # The therapist dashboard's `last_entry_at`.
        Index("ix_episodes_user_id_created_at", "user_id", "created_at"),
    )

    started_at: datetime = Field(sa_type=UTCDateTime)
    timezone: str = Field(max_length=64)
    diary_date: date
    duration_seconds: int | None = None
    leg: str = Field(max_length=16)
    muscle: str = Field(max_length=16)
    severity: int
    during_sleep: bool
    activity: str | None = Field(default=None, max_length=16)
    relief: list[str] = Field(default_factory=list, sa_type=JSON)
    notes: str | None = Field(default=None, max_length=2000)
