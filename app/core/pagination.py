"""Keyset pagination: newest first by the record's own time, ties broken by id, opaque cursors."""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    """The last record of a page: the next page starts strictly after it in (time desc, id desc).
    Lists ordered by a date use midnight UTC of that date."""

    at: datetime
    id: uuid.UUID


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Every string of this shape decodes to a valid position, so the schema states the rule exactly.
# 16 digits of microseconds either side of 1970 stay within the years 1653..2286.
CURSOR_PATTERN = r"^-?[0-9]{1,16}\.[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(position: Position) -> str:
    return f"{(position.at - _EPOCH) // _MICROSECOND}.{position.id.hex}"


def decode_cursor(cursor: str) -> Position:
    if not _CURSOR.match(cursor):
        raise Unprocessable("cursor", "not a cursor returned by this list")
    micros, record_id = cursor.split(".")
    return Position(at=_EPOCH + int(micros) * _MICROSECOND, id=uuid.UUID(hex=record_id))


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: Position | None


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(description="The previous page's `next_cursor`; opaque.", pattern=CURSOR_PATTERN)
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageRequest, Depends(page_request)]
