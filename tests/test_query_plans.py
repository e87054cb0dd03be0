"""The list endpoints' keyset pages are served by the (user_id, time, id) index, without a sort."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, text

from app.core.pagination import PageRequest, Position
from app.core.records import RecordRepository
from app.episodes.repository import episodes
from app.release.repository import release_sessions
from app.sync.repository import SYNCABLE, feed_statement

REPOSITORIES = {
    "ix_episodes_user_id_started_at_id": episodes,
    "ix_release_sessions_user_id_performed_at_id": release_sessions,
}
AFTER = Position(at=datetime(2026, 3, 4, tzinfo=UTC), id=uuid.uuid4())


def explain(connection: Connection, repository: RecordRepository[Any], page: PageRequest) -> str:
    statement = repository.page_statement(uuid.uuid4(), page)
    compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        rows = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return "\n".join(str(row[-1]) for row in rows)
    # On tiny test tables other plans are cheapest; forbid them to see whether the index alone can
    # serve the page in order (a Sort node would remain if it could not).
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        connection.execute(text(f"SET LOCAL {setting} = off"))
    return "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {compiled}")).all())


@pytest.mark.parametrize("index", REPOSITORIES)
@pytest.mark.parametrize("after", [None, AFTER], ids=["first-page", "next-page"])
def test_pages_use_the_index_and_need_no_sort(connection: Connection, index: str, after: Position | None) -> None:
    plan = explain(connection, REPOSITORIES[index], PageRequest(limit=50, after=after))
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan.upper(), plan  # SQLite sorting in a temporary tree
    assert "Sort" not in plan, plan  # PostgreSQL sort node


@pytest.mark.parametrize("kind", ["episode", "release_session", "exposure", "checkin", "factor"])
def test_the_sync_feed_reads_each_table_by_its_change_index(connection: Connection, kind: str) -> None:
    model = SYNCABLE[kind]
    statement = feed_statement(model, uuid.uuid4(), 10, 500, 101)
    compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        plan = "\n".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all())
    else:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            connection.execute(text(f"SET LOCAL {setting} = off"))
        plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {compiled}")).all())
    assert f"ix_{model.__tablename__}_user_id_change_seq" in plan, plan
    assert "TEMP B-TREE" not in plan.upper(), plan
    assert "Sort" not in plan, plan
