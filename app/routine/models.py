import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime

DEFAULT_DAILY_TARGET_MINUTES = 5


class Routine(SQLModel, table=True):
    """A user's self-release routine: when it started and how many minutes a day count as adherent.
    No row means the defaults: start at the first release session, 5 minutes a day."""

    __tablename__ = "routines"

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    started_on: date | None = None
    daily_target_minutes: int = DEFAULT_DAILY_TARGET_MINUTES
    version: int = 1
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # One row per user, so the primary key already finds it; the feed reads it by user.
    change_seq: int = Field(default=0, sa_type=BigInteger)
