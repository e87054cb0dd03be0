"""The per-user change sequence behind the sync feed (GET /api/v1/sync).

Every write to a syncable row (episodes, release sessions, exposures, check-ins, the routine, custom
factors) stamps the row with the next number of its owner's counter, as the last step before the
use case commits. Taking the number is an `UPDATE sync_counters ... RETURNING`, so the counter row
stays locked until that transaction commits: one user's writers take their numbers one at a time,
and number n+1 cannot even be handed out before the transaction holding n has committed (on
PostgreSQL the row lock is released only after the commit became visible; SQLite has a single
writer anyway). That is what keeps the feed from skipping a number that commits late, the trap of a
plain sequence, whose numbers are handed out at once and commit in any order.

`last_seq` is also the feed's high-water mark: a reader that sees `last_seq = H` can rely on every
change numbered H or less being committed and visible (see app/sync/service.py).
`purged_through` is the highest number of a tombstone the purge removed: a cursor below it might
have missed that deletion, so it is refused with 410.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select


class ChangeCounter(SQLModel, table=True):
    __tablename__ = "sync_counters"

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    last_seq: int = Field(default=0, sa_type=BigInteger)
    purged_through: int = Field(default=0, sa_type=BigInteger)


def next_change_seq(session: Session, owner_id: uuid.UUID, count: int = 1) -> int:
    """Bumps the owner's counter by `count` and returns the new last number (the numbers taken are
    the `count` up to it); the row stays locked until commit."""
    seq = _bump(session, owner_id, count)
    if seq is not None:
        return seq
    try:
        with session.begin_nested():
            session.add(ChangeCounter(user_id=owner_id))
    except IntegrityError:
        pass  # a concurrent first write created the counter; it has committed, so bump that one
    seq = _bump(session, owner_id, count)
    if seq is None:  # pragma: no cover - the row was just inserted or found
        raise RuntimeError("change counter missing")
    return seq


def _bump(session: Session, owner_id: uuid.UUID, count: int) -> int | None:
    statement = (
        update(ChangeCounter)
        .where(col(ChangeCounter.user_id) == owner_id)
        .values(last_seq=col(ChangeCounter.last_seq) + count)
        .returning(col(ChangeCounter.last_seq))
    )
    # A Core statement on the session's connection: the ORM's bulk-update bookkeeping would cost
    # more than the update itself, and no loaded object holds the counter.
    value = session.connection().execute(statement).scalar_one_or_none()
    return None if value is None else int(value)


def stamp(session: Session, owner_id: uuid.UUID, row: Any) -> None:
    """Gives `row` its owner's next change number. Call it last, right before the commit, so the
    counter lock is held as briefly as possible and never taken before another lock."""
    row.change_seq = next_change_seq(session, owner_id)
    session.add(row)


def stamp_all(session: Session, owner_id: uuid.UUID, rows: Sequence[Any]) -> None:
    """`stamp` for many rows written by one use case (an import), with one counter update."""
    if not rows:
        return
    first = next_change_seq(session, owner_id, len(rows)) - len(rows) + 1
    for seq, row in enumerate(rows, start=first):
        row.change_seq = seq
        session.add(row)


def positions(session: Session, owner_id: uuid.UUID) -> tuple[int, int]:
    """(last_seq, purged_through) of the owner; (0, 0) before their first write."""
    statement = select(col(ChangeCounter.last_seq), col(ChangeCounter.purged_through)).where(
        col(ChangeCounter.user_id) == owner_id
    )
    row = session.exec(statement).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)
