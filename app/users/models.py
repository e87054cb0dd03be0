import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=255)
    display_name: str | None = Field(default=None, max_length=100)
    role: str = Field(max_length=16)
    timezone: str = Field(max_length=64)
    # Bumped on password change; every token carrying an older value stops working.
    token_version: int = Field(default=0)
    created_at: datetime = Field(sa_type=UTCDateTime)
