"""Queries of the sync feed and the tombstone purge. Every one takes the owner."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, update
from sqlmodel import Session, col, select

from app.core.changes import ChangeCounter
from app.episodes.models import Episode
from app.factors.models import CheckIn, CustomFactor, Exposure
from app.release.models import ReleaseSession
from app.routine.models import Routine

# The feed's `type` of each syncable table. Tables with tombstones (soft deletes) come first.
RECORD_TABLES: dict[str, Any] = {
    "episode": Episode,
    "release_session": ReleaseSession,
    "exposure": Exposure,
    "checkin": CheckIn,
}
SYNCABLE: dict[str, Any] = {**RECORD_TABLES, "routine": Routine, "factor": CustomFactor}


@dataclass(frozen=True)
class ChangedRow:
    seq: int
    type: str
    row: Any


def feed_statement(model: Any, owner_id: uuid.UUID, after: int, through: int, limit: int) -> Any:
    """One table's part of the feed: a range of the (user_id, change_seq) index, in order."""
    return (
        select(model)
        .where(model.user_id == owner_id, model.change_seq > after, model.change_seq <= through)
        .order_by(col(model.change_seq))
        .limit(limit)
    )


def changed_rows(session: Session, owner_id: uuid.UUID, after: int, through: int, limit: int) -> list[ChangedRow]:
    """The owner's rows whose latest change is numbered in (after, through], lowest first, at most
    `limit`. One keyset query per table, merged here; once `limit` rows are in hand, later tables
    are asked only for rows below the last of them."""
    found: list[ChangedRow] = []
    for kind, model in SYNCABLE.items():
        rows = session.exec(feed_statement(model, owner_id, after, through, limit)).all()
        found.extend(ChangedRow(seq=row.change_seq, type=kind, row=row) for row in rows)
        found.sort(key=lambda changed: changed.seq)
        del found[limit:]
        if len(found) == limit:
            through = found[-1].seq
    return found


def purge_tombstones(session: Session, deleted_before: datetime) -> dict[uuid.UUID, tuple[int, int]]:
    """Deletes the tombstones deleted before the given time; per owner, how many and the highest
    change number among them. DELETE ... RETURNING reports exactly the rows removed, even when a
    check-in was brought back by a PUT meanwhile."""
    purged: dict[uuid.UUID, tuple[int, int]] = {}
    for model in RECORD_TABLES.values():
        statement = (
            delete(model)
            .where(col(model.deleted_at).is_not(None), col(model.deleted_at) < deleted_before)
            .returning(col(model.user_id), col(model.change_seq))
        )
        for owner_id, seq in session.execute(statement).all():
            count, highest = purged.get(owner_id, (0, 0))
            purged[owner_id] = (count + 1, max(highest, int(seq)))
    return purged


def raise_purged_through(session: Session, owner_id: uuid.UUID, seq: int) -> None:
    statement = (
        update(ChangeCounter)
        .where(col(ChangeCounter.user_id) == owner_id)
        .values(
            purged_through=case((col(ChangeCounter.purged_through) < seq, seq), else_=col(ChangeCounter.purged_through))
        )
    )
    session.execute(statement)
