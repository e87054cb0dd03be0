"""Every query of the export and the import. Each takes the owner."""

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Executable, Row, String, or_, select, type_coerce
from sqlmodel import Session, col

from app.core.records import DateWindow, RecordBase
from app.episodes.models import Episode
from app.export.columns import Kind, Table
from app.factors.models import CheckIn, Exposure
from app.release.models import ReleaseSession

MODELS: dict[Kind, type[RecordBase]] = {
    "episodes": Episode,
    "release-sessions": ReleaseSession,
    "exposures": Exposure,
    "checkins": CheckIn,
}


def _window(kind: Kind, window: DateWindow) -> list[ColumnElement[bool]]:
    """Episodes and release sessions by diary date, check-ins by date, exposures that overlap."""
    if kind == "exposures":
        conditions: list[ColumnElement[bool]] = []
        if window.end is not None:
            conditions.append(col(Exposure.start_date) <= window.end)
        if window.start is not None:
            conditions.append(or_(col(Exposure.end_date).is_(None), col(Exposure.end_date) >= window.start))
        return conditions
    day = {"episodes": Episode.diary_date, "release-sessions": ReleaseSession.diary_date, "checkins": CheckIn.date}
    return window.conditions(col(day[kind]))


# Oldest first, as a diary reads; each order is served by the table's (user_id, time, id) index.
_ORDER: dict[Kind, tuple[Any, ...]] = {
    "episodes": (col(Episode.started_at), col(Episode.id)),
    "release-sessions": (col(ReleaseSession.performed_at), col(ReleaseSession.id)),
    "exposures": (col(Exposure.start_date), col(Exposure.id)),
    "checkins": (col(CheckIn.date),),
}


def export_statement(table: Table, owner_id: uuid.UUID, window: DateWindow) -> Executable:
    """Columns, not ORM objects, and their raw driver values (`type_coerce` to a type without
    result processing): the export's renderers read them as they come (see columns.py)."""
    model: Any = MODELS[table.kind]
    return (
        select(*(type_coerce(getattr(model, name), String).label(name) for name in table.fields))
        .where(model.user_id == owner_id, col(model.deleted_at).is_(None), *_window(table.kind, window))
        .order_by(*_ORDER[table.kind])
    )


def batches(session: Session, statement: Executable, size: int) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows in batches of `size`: at most one batch is in memory at a time, however many rows
    there are. A Core execution on the session's connection (no ORM loading step per row)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # pysqlite steps through the result as it is fetched. Without `stream_results` SQLAlchemy
        # reads nothing ahead, so its DBAPI cursor can be read directly: plain tuples, which cost a
        # fifth less than building SQLAlchemy rows (the export reads raw values anyway).
        result = connection.execute(statement)
        try:
            while rows := result.cursor.fetchmany(size):
                yield rows
        finally:
            result.close()
        return
    # PostgreSQL: a server-side cursor, else psycopg would fetch every row at once.
    result = connection.execute(statement, execution_options={"yield_per": size})
    try:
        yield from result.partitions()
    finally:
        result.close()


def records_by_id(session: Session, kind: Kind, ids: Sequence[uuid.UUID], fields: Sequence[str]) -> list[Row[Any]]:
    """Owner, deletion and `fields` of the records with these ids, whoever owns them and deleted
    or not (the import must recognise every id in use). Rows, not ORM objects: most imported
    rows are unchanged, and only the few that change need loading for an update."""
    model: Any = MODELS[kind]
    if not ids:
        return []
    columns = [model.id, model.user_id, model.deleted_at, *(getattr(model, name) for name in fields)]
    return list(session.execute(select(*columns).where(col(model.id).in_(ids))).all())


def checkins_on(session: Session, owner_id: uuid.UUID, days: Sequence[dt.date]) -> list[CheckIn]:
    """The owner's check-ins of these days, deleted or not (a PUT brings a deleted day back)."""
    if not days:
        return []
    statement = select(CheckIn).where(col(CheckIn.user_id) == owner_id, col(CheckIn.date).in_(days))
    return list(session.execute(statement).scalars())
