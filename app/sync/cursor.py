"""Feed cursors: the position (a change number), when the cursor was issued, and an HMAC tag over
both and the owner's id. A cursor cannot be forged, altered, or replayed into another user's feed:
any of those fails verification and is answered like a malformed cursor."""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from app.core.config import Settings
from app.core.errors import Unprocessable
from app.core.security import sign, verify

PURPOSE = "sync-cursor-v1"
CURSOR_PATTERN = r"^[0-9]{1,19}\.[0-9]{1,12}\.[A-Za-z0-9_-]{22}$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True)
class Position:
    seq: int
    issued_at: datetime


def _message(owner_id: uuid.UUID, seq: int, issued: int) -> str:
    return f"{owner_id.hex}.{seq}.{issued}"


def encode(settings: Settings, owner_id: uuid.UUID, seq: int, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{seq}.{issued}.{sign(settings, PURPOSE, _message(owner_id, seq, issued))}"


def decode(settings: Settings, owner_id: uuid.UUID, cursor: str) -> Position:
    if not _CURSOR.match(cursor):
        raise Unprocessable("cursor", "not a cursor of your sync feed")
    seq_text, issued_text, tag = cursor.split(".")
    seq, issued = int(seq_text), int(issued_text)
    if not verify(settings, PURPOSE, _message(owner_id, seq, issued), tag):
        raise Unprocessable("cursor", "not a cursor of your sync feed")
    return Position(seq=seq, issued_at=datetime.fromtimestamp(issued, UTC))
