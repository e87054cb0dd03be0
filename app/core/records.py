"""What every diary record shares: client ids with idempotent create, versions, tombstones,
If-Match, and keyset pages. Each diary domain configures it with its table and its time column."""

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query
from pydantic import BaseModel
from sqlalchemy import BigInteger, ColumnElement, Date, RowMapping, Select, Table, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from app.core.changes import stamp as stamp_change
from app.core.db import UTCDateTime, utcnow
from app.core.errors import Conflict, NotFound, PreconditionFailed
from app.core.pagination import PageRequest, Position, encode_cursor
from app.core.types import Day


class RecordBase(SQLModel):
    """Columns of every diary table. `create_digest` fingerprints the original create request so
    a replay of it is recognised even after later edits."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    version: int = Field(default=1)
    create_digest: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The owner's change number of the latest write (app/core/changes.py); orders the sync feed.
    change_seq: int = Field(default=0, sa_type=BigInteger)


M = TypeVar("M", bound=RecordBase)


def content_digest(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, default=_json_scalar, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json_scalar(value: Any) -> str:
    if isinstance(value, datetime | date | uuid.UUID):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


CREATE_ERRORS = (400, 401, 409, 413, 422)
READ_ERRORS = (401, 404, 422)
WRITE_ERRORS = (400, 401, 404, 412, 413, 422)


def replay_response(public: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "model": public,
            "description": "A replay of an earlier create, or a replaced check-in: the stored record.",
        }
    }


def created_status(is_new: bool) -> int:
    return 201 if is_new else 200


def etag(version: int) -> str:
    return f'"{version}"'


def matches(if_match: str | None, version: int) -> bool:
    """RFC 9110 If-Match against our strong version tags; a bare number is accepted too."""
    if if_match is None:
        return True
    candidates = [part.strip().removeprefix("W/").strip('"') for part in if_match.split(",")]
    return "*" in candidates or str(version) in candidates


IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="The record's ETag (its `version`); a stale one is answered with 412.",
    ),
]


@dataclass(frozen=True)
class DateWindow:
    """`from` / `to` (inclusive) on the records' diary date. A `to` before `from` is a window
    with no days in it, so it selects nothing."""

    start: date | None
    end: date | None

    def conditions(self, day_column: Any) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.start is not None:
            conditions.append(day_column >= self.start)
        if self.end is not None:
            conditions.append(day_column <= self.end)
        return conditions


async def date_window(
    from_: Annotated[Day | None, Query(alias="from", description="First diary date, inclusive.")] = None,
    to: Annotated[
        Day | None, Query(description="Last diary date, inclusive; before `from`, the window is empty.")
    ] = None,
) -> DateWindow:
    # async: it does no I/O, so it need not cost a hop to the thread pool.
    return DateWindow(from_, to)


DateWindowDep = Annotated[DateWindow, Depends(date_window)]


class RecordRepository(Generic[M]):
    """Every query on one diary table; each one takes the owner, so scoping cannot be forgotten."""

    def __init__(self, model: type[M], time_column: Any) -> None:
        self.model = model
        self.time_column = time_column
        self.orders_by_date = isinstance(time_column.type, Date)
        self.table: Table = model.__table__  # type: ignore[attr-defined]

    def _live(self, owner_id: uuid.UUID) -> list[ColumnElement[bool]]:
        model: Any = self.model
        return [model.user_id == owner_id, col(model.deleted_at).is_(None)]

    def get(self, session: Session, owner_id: uuid.UUID, record_id: uuid.UUID, *, lock: bool = False) -> M | None:
        statement = select(self.model).where(col(self.model.id) == record_id, *self._live(owner_id))
        if lock:
            statement = statement.with_for_update()
        return session.exec(statement).first()

    def find_any(self, session: Session, record_id: uuid.UUID) -> M | None:
        """Whoever owns it and deleted or not: only for recognising a replayed or clashing id."""
        return session.get(self.model, record_id, populate_existing=True)

    def page_statement(
        self, owner_id: uuid.UUID, page: PageRequest, filters: Sequence[ColumnElement[bool]] = ()
    ) -> Select[Any]:
        conditions = [*self._live(owner_id), *filters]
        if page.after is not None:
            after: date | datetime = page.after.at.date() if self.orders_by_date else page.after.at
            conditions.append(tuple_(self.time_column, self.model.id) < tuple_(after, page.after.id))
        return (
            sa_select(*self.table.columns)
            .where(*conditions)
            .order_by(self.time_column.desc(), col(self.model.id).desc())
            .limit(page.limit + 1)
        )

    def page(
        self, session: Session, owner_id: uuid.UUID, page: PageRequest, filters: Sequence[ColumnElement[bool]] = ()
    ) -> list[RowMapping]:
        """Rows of columns, not ORM objects: a page is only rendered, and building and tracking
        an object per row costs more than the query itself."""
        return list(session.execute(self.page_statement(owner_id, page, filters)).mappings())


class RecordService(Generic[M]):
    """The use cases every diary record shares. `derive` fills computed columns (diary_date);
    `render` turns a record into its public JSON for the 412 body."""

    def __init__(
        self,
        repository: RecordRepository[M],
        *,
        time_attribute: str,
        derive: Callable[[M], None],
        render: Callable[[M], dict[str, Any]],
    ) -> None:
        self.repository = repository
        self.time_attribute = time_attribute
        self.derive = derive
        self.render = render

    def get(self, session: Session, owner_id: uuid.UUID, record_id: uuid.UUID) -> M:
        record = self.repository.get(session, owner_id, record_id)
        if record is None:
            raise NotFound("No such record.")
        return record

    def list(
        self, session: Session, owner_id: uuid.UUID, page: PageRequest, filters: Sequence[ColumnElement[bool]] = ()
    ) -> tuple[list[RowMapping], str | None]:
        """A page of rows (column mappings, ready for the public model) and the next cursor."""
        rows = self.repository.page(session, owner_id, page, filters)
        if len(rows) <= page.limit:
            return rows, None
        rows = rows[: page.limit]
        last = rows[-1]
        at = last[self.time_attribute]
        if not isinstance(at, datetime):
            at = datetime.combine(at, time(), UTC)
        return rows, encode_cursor(Position(at=at, id=last["id"]))

    def create(
        self, session: Session, owner_id: uuid.UUID, record_id: uuid.UUID | None, fields: dict[str, Any]
    ) -> tuple[M, bool]:
        """Returns the record and whether it is new (201) rather than a replay (200)."""
        digest = content_digest(fields)
        if record_id is not None:
            existing = self.repository.find_any(session, record_id)
            if existing is not None:
                return self._replayed(existing, owner_id, digest), False
        record = self.new_record(owner_id, record_id, fields)
        if record_id is None:
            # A fresh random id cannot clash: no savepoint needed (two statements fewer).
            session.add(record)
        else:
            try:
                with session.begin_nested():
                    session.add(record)
            except IntegrityError:
                # Another request inserted this id between our look-up and our insert.
                existing = self.repository.find_any(session, record.id)
                if existing is None:
                    raise
                return self._replayed(existing, owner_id, digest), False
        stamp_change(session, owner_id, record)
        session.commit()
        return record, True

    def new_record(self, owner_id: uuid.UUID, record_id: uuid.UUID | None, fields: dict[str, Any]) -> M:
        """A record as `create` would insert it (digest, timestamps, derived columns), not yet added;
        for use cases that write many records in one transaction (CSV import)."""
        now = utcnow()
        record = self.repository.model(
            **fields,
            id=record_id or uuid.uuid4(),
            user_id=owner_id,
            create_digest=content_digest(fields),
            created_at=now,
            updated_at=now,
        )
        self.derive(record)
        return record

    def change(self, record: M, changes: Mapping[str, Any]) -> None:
        """Applies changes as `update` does (derived columns, version, updated_at), without committing."""
        for name, value in changes.items():
            setattr(record, name, value)
        self.derive(record)
        self._touch(record)

    def _replayed(self, existing: M, owner_id: uuid.UUID, digest: str) -> M:
        if existing.user_id != owner_id:
            raise Conflict("This id is already in use.")
        if existing.deleted_at is not None:
            raise Conflict("A record with this id was deleted.")
        if existing.create_digest != digest:
            raise Conflict("A record with this id exists with different content.")
        return existing

    def update(
        self,
        session: Session,
        owner_id: uuid.UUID,
        record_id: uuid.UUID,
        changes: dict[str, Any],
        if_match: str | None,
    ) -> M:
        """Only a real change counts: values equal to the stored ones leave the version alone, so a
        replayed PATCH (an offline queue sent twice) changes nothing."""
        record = self._locked_current(session, owner_id, record_id, if_match)
        changed = {name: value for name, value in changes.items() if getattr(record, name) != value}
        if changed:
            self.change(record, changed)
            stamp_change(session, owner_id, record)
            session.commit()
        return record

    def delete(self, session: Session, owner_id: uuid.UUID, record_id: uuid.UUID, if_match: str | None) -> None:
        record = self._locked_current(session, owner_id, record_id, if_match)
        self._touch(record)
        record.deleted_at = record.updated_at
        stamp_change(session, owner_id, record)
        session.commit()

    def _locked_current(self, session: Session, owner_id: uuid.UUID, record_id: uuid.UUID, if_match: str | None) -> M:
        record = self.repository.get(session, owner_id, record_id, lock=True)
        if record is None:
            raise NotFound("No such record.")
        if not matches(if_match, record.version):
            raise PreconditionFailed(
                f"The record is at version {record.version}.",
                headers={"ETag": etag(record.version)},
                body={"record": self.render(record)},
            )
        return record

    @staticmethod
    def _touch(record: RecordBase) -> None:
        record.version += 1
        record.updated_at = utcnow()
