"""Consent to share a diary: single-use codes a client hands out, the links they create, and the
log of every therapist access that the client can read."""

import uuid
from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime


class ShareCode(SQLModel, table=True):
    """Only the code's SHA-256 is stored: a database leak does not hand out live codes."""

    __tablename__ = "share_codes"
    __table_args__ = (Index("ix_share_codes_client_id_created_at", "client_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    code_digest: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TherapistLink(SQLModel, table=True):
    """A client's consent for one therapist to read their diary, active until `revoked_at`.
    At most one active link per pair; revoked ones stay as the client's record of past sharing."""

    __tablename__ = "therapist_links"
    __table_args__ = (
        Index("ix_therapist_links_therapist_id_client_id", "therapist_id", "client_id"),
        Index("ix_therapist_links_client_id_created_at", "client_id", "created_at"),
        Index(
            "uq_therapist_links_active_pair",
            "client_id",
            "therapist_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    therapist_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AccessLogEntry(SQLModel, table=True):
    """Append-only: nothing updates or deletes an entry except erasing the client's account.
    The therapist is kept by id and name at the time, without a foreign key, so the client's
    history survives the therapist deleting their account."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_client_id_at_id", "client_id", "at", "id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    therapist_id: uuid.UUID
    therapist_name: str = Field(max_length=254)
    action: str = Field(max_length=16)
    resource: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)


class RedemptionFailure(SQLModel, table=True):
    """A therapist's failed code redemptions, for throttling guesses across workers and restarts."""

    __tablename__ = "redemption_failures"
    __table_args__ = (Index("ix_redemption_failures_therapist_id_failed_at", "therapist_id", "failed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    therapist_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    failed_at: datetime = Field(sa_type=UTCDateTime)
