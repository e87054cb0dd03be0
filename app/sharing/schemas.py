import math
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from app.core.types import InputModel, JsonSchemaExtra

# No 0/O/1/I/L, and only the lower-case letters whose shape differs from their capital and from
# the digits, so a code read off a screen cannot be mistyped as another valid one. 43 symbols:
# 12 of them carry 65 bits (the 31 upper-case-only symbols would give 59.4, under the 60 wanted).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZabdefhjmnrty"
CODE_LENGTH = 12
CODE_BITS = CODE_LENGTH * math.log2(len(CODE_ALPHABET))
_SYMBOL = f"[{CODE_ALPHABET}]"
# Typed with or without the dashes it is shown with.
CODE_PATTERN = f"^{_SYMBOL}{{4}}-?{_SYMBOL}{{4}}-?{_SYMBOL}{{4}}$"

LinkStatus = Literal["active", "revoked"]
AccessAction = Literal["read", "export", "link_created", "link_revoked"]

ShareCodeText = Annotated[
    str,
    StringConstraints(strict=True, pattern=CODE_PATTERN),
    JsonSchemaExtra(examples=["7Kx4-MfQ9-R2dT"]),
]


class ShareCodePublic(BaseModel):
    code: str
    expires_at: datetime


class TherapistInfo(BaseModel):
    id: uuid.UUID
    display_name: str | None
    email: str


class ClientInfo(BaseModel):
    id: uuid.UUID
    display_name: str | None


class LinkPublic(BaseModel):
    """A link as its client sees it."""

    id: uuid.UUID
    therapist: TherapistInfo
    status: LinkStatus
    created_at: datetime
    revoked_at: datetime | None


class LinkList(BaseModel):
    items: list[LinkPublic]


class Redemption(InputModel):
    code: ShareCodeText


class TherapistLinkPublic(BaseModel):
    """A link as its therapist sees it."""

    id: uuid.UUID
    client: ClientInfo
    status: LinkStatus
    created_at: datetime


class AccessLogEntryPublic(BaseModel):
    at: datetime
    therapist_id: uuid.UUID
    therapist_name: str
    action: AccessAction
    resource: str


Trend = Literal["rising", "falling", "stable", "insufficient_data"]
Alert = Literal["cramps_rising", "severe_episode", "low_adherence", "not_logging"]
ClientSort = Literal[
    "display_name",
    "-display_name",
    "linked_at",
    "-linked_at",
    "last_entry_at",
    "-last_entry_at",
    "episodes_30d",
    "-episodes_30d",
    "rate_change_30d",
    "-rate_change_30d",
    "adherence_30d",
    "-adherence_30d",
]


class ClientSummary(BaseModel):
    """A linked client's last 60 diary days in their own time zone, ending today (inclusive).
    A figure without data is null.

    - `trend`: `insufficient_data` when either 30-day window has under 7 logged days; `rising` when
      `episodes_30d` ≥ 4 and ≥ 1.5 times `episodes_prev_30d`; `falling` when the reverse holds
      (`episodes_prev_30d` ≥ 4 and ≥ 1.5 times `episodes_30d`); otherwise `stable`.
    - `alerts` (stable codes, in this order): `cramps_rising` (the last 30 days have at least 4
      episodes and at least 1.5 times the 30 days before); `severe_episode` (an episode of severity
      ≥ 8 in the last 7 days); `low_adherence` (under 50 % adherent days over the last 14 days,
      counted from the routine's start once it has started); `not_logging` (no logged day in the
      last 7 days).
    """

    client_id: uuid.UUID
    display_name: str | None
    linked_at: datetime
    last_entry_at: datetime | None
    days_logged_30d: int
    episodes_7d: int
    episodes_30d: int
    episodes_prev_30d: int
    rate_change_30d: float | None
    mean_severity_30d: float | None
    adherence_30d: float | None
    trend: Trend
    alerts: list[Alert]


class ClientList(BaseModel):
    items: list[ClientSummary]
