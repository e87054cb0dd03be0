"""Keyset pagination: newest first by the record's own time, ties broken by id, opaque cursors."""

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from app.core.errors import Unprocessable

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Position:
    """The last record of a page: the next page starts strictly after it in (time desc, id desc)."""

    at: datetime | date
    id: uuid.UUID


def encode_cursor(position: Position) -> str:
    kind = "t" if isinstance(position.at, datetime) else "d"
    raw = json.dumps([kind, position.at.isoformat(), position.id.hex], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, at, record_id = json.loads(raw)
        moment: datetime | date = datetime.fromisoformat(at) if kind == "t" else date.fromisoformat(at)
        return Position(at=moment, id=uuid.UUID(hex=record_id))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable("cursor", "not a cursor returned by this list") from exc


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: Position | None


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="The previous page's `next_cursor`.")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageRequest, Depends(page_request)]
