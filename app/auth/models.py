import uuid
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime


class RefreshToken(SQLModel, table=True):
    """An opaque refresh token, stored as a digest. Tokens rotated from one login share a family,
    so presenting a used one again can end the whole family."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    family_id: uuid.UUID = Field(index=True)
    token_digest: str = Field(max_length=64, unique=True)
    token_version: int
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """Failed password logins per email digest: kept in the database so throttling holds across
    workers and restarts, keyed by digest so no typed address is stored in the clear."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_digest_failed_at", "email_digest", "failed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    email_digest: str = Field(max_length=64)
    failed_at: datetime = Field(sa_type=UTCDateTime)
