import datetime as dt
import uuid

from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.records import RecordBase


class CustomFactor(SQLModel, table=True):
    """A factor a user added to their own catalogue, beside the built-in ones."""

    __tablename__ = "custom_factors"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_custom_factors_user_id_change_seq", "user_id", "change_seq"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    key: str = Field(max_length=40)
    label: str = Field(max_length=80)
    category: str = Field(max_length=16)
    version: int = 1
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    change_seq: int = Field(default=0, sa_type=BigInteger)


class Exposure(RecordBase, table=True):
    """A factor over a range of days (inclusive; no end date: ongoing)."""

    __tablename__ = "exposures"
    __table_args__ = (
        Index("ix_exposures_user_id_start_date_id", "user_id", "start_date", "id"),
        Index("ix_exposures_user_id_change_seq", "user_id", "change_seq"),
        Index("ix_exposures_user_id_created_at", "user_id", "created_at"),
    )

    factor: str = Field(max_length=40)
    start_date: dt.date
    end_date: dt.date | None = None
    notes: str | None = Field(default=None, max_length=2000)


class CheckIn(RecordBase, table=True):
    """One per user and diary day; lists the factors present that day. Marks the day as logged."""

    __tablename__ = "checkins"
    # The unique (user_id, date) index also serves the newest-first pages: dates never tie.
    __table_args__ = (
        UniqueConstraint("user_id", "date"),
        Index("ix_checkins_user_id_change_seq", "user_id", "change_seq"),
        Index("ix_checkins_user_id_created_at", "user_id", "created_at"),
    )

    date: dt.date
    factors: list[str] = Field(default_factory=list, sa_type=JSON)
    notes: str | None = Field(default=None, max_length=2000)
