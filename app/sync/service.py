"""Offline sync: the change feed, batch push, and the tombstone purge.

Ordering guarantee. Each user's writes are numbered by a per-user counter (app/core/changes.py)
bumped as the last step of the writing transaction; the counter row stays locked until that
transaction commits, so change n+1 cannot be numbered, let alone committed, before change n is
committed and visible. The feed reads the counter's `last_seq` first, as its high-water mark H,
and then serves only rows numbered in (cursor, H]. Every change numbered H or less was visible
before H was, so none of them can appear later below a cursor the feed already handed out: a
change committing late always carries a number above H and is served by a later call. The feed
queries each table separately; a row that changes again between those queries has moved above H
and simply waits for the next call. Each row carries only its latest change, so the feed serves
each record's latest change, in commit order: a record changed several times between two pulls
appears once, at its newest version. Deletions are soft (tombstones keep `deleted_at` and a
change number) and appear as `op: delete`.

Retention. Tombstones are kept at least 90 days (`python -m app purge-tombstones` removes older
ones and remembers, per user, the highest change number it removed as `purged_through`). A cursor
issued more than 90 days ago, or positioned below `purged_through`, might have missed a deletion:
410, and the app starts again without a cursor.

Cursors are signed for their owner (app/sync/cursor.py); a tampered cursor or another user's is
422 on `cursor`, the same answer as a malformed one, so it reveals nothing.

Batch. Each operation runs through the same service functions as its single endpoint, in its own
transaction, and answers the status that request would have had. Replays are harmless: creates
are idempotent by id, an upsert equal to the stored record changes nothing (not even the
version), and `if_version` guards updates (a replayed guarded update is 412 with the record).
"""

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlmodel import Session

from app.core.changes import positions
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import (
    AppError,
    Conflict,
    Gone,
    NotFound,
    Problem,
    Unprocessable,
    app_error_document,
    validation_document,
)
from app.core.records import RecordRepository, etag
from app.core.types import Day
from app.episodes import service as episodes
from app.episodes.repository import episodes as episode_rows
from app.episodes.schemas import EpisodeCreate, EpisodePublic, EpisodeUpdate
from app.factors import repository as factor_rows
from app.factors import service as factors
from app.factors.schemas import (
    CheckInPublic,
    CheckInPut,
    ExposureCreate,
    ExposurePublic,
    ExposureUpdate,
    FactorCreate,
)
from app.release import service as releases
from app.release.repository import release_sessions as release_rows
from app.release.schemas import ReleaseSessionCreate, ReleaseSessionPublic, ReleaseSessionUpdate
from app.routine import service as routine
from app.routine.schemas import RoutineUpdate
from app.sync import cursor as cursors
from app.sync import repository
from app.sync.schemas import BatchRequest, BatchResult, Change, ChangeFeed, Operation, OperationResult
from app.users.models import User

RETENTION = dt.timedelta(days=90)
ROUTINE_ID = "routine"

# --- the feed ------------------------------------------------------------------------------------


def feed(session: Session, settings: Settings, owner_id: uuid.UUID, cursor: str | None, limit: int) -> ChangeFeed:
    now = utcnow()
    after = 0
    if cursor is not None:
        position = cursors.decode(settings, owner_id, cursor)
        if now - position.issued_at > RETENTION:
            raise Gone("This cursor is older than 90 days; sync again without a cursor.")
        after = position.seq
    high_water, purged_through = positions(session, owner_id)
    if cursor is not None and after < purged_through:
        raise Gone("Deletions this cursor has not seen were purged; sync again without a cursor.")
    rows = repository.changed_rows(session, owner_id, after, high_water, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    # A complete page has served everything up to the high-water mark, including rows whose
    # change there was superseded by a later one (those sit above it now).
    reached = rows[-1].seq if has_more else max(after, high_water)
    return ChangeFeed(
        changes=[_change(changed) for changed in rows],
        next_cursor=cursors.encode(settings, owner_id, reached, now),
        has_more=has_more,
    )


PUBLIC_MODELS: dict[str, type[BaseModel]] = {
    "episode": EpisodePublic,
    "release_session": ReleaseSessionPublic,
    "exposure": ExposurePublic,
    "checkin": CheckInPublic,
}


def _change(changed: repository.ChangedRow) -> Change:
    row = changed.row
    if changed.type == "routine":
        # `effective_start` is left out: it follows the release sessions, which the feed carries.
        record = {
            "started_on": row.started_on.isoformat() if row.started_on else None,
            "daily_target_minutes": row.daily_target_minutes,
            "version": row.version,
            "updated_at": row.updated_at.isoformat().replace("+00:00", "Z"),
        }
        return Change(
            type="routine", id=ROUTINE_ID, op="upsert", version=row.version, changed_at=row.updated_at, record=record
        )
    if changed.type == "factor":
        record = factors.public_factor(row).model_dump(mode="json")
        return Change(
            type="factor", id=row.key, op="upsert", version=row.version, changed_at=row.updated_at, record=record
        )
    record_id = row.date.isoformat() if changed.type == "checkin" else str(row.id)
    deleted = row.deleted_at is not None
    return Change(
        type=changed.type,
        id=record_id,
        op="delete" if deleted else "upsert",
        version=row.version,
        changed_at=row.deleted_at if deleted else row.updated_at,
        record=None if deleted else PUBLIC_MODELS[changed.type].model_validate(row).model_dump(mode="json"),
    )


# --- the batch -----------------------------------------------------------------------------------

Outcome = tuple[int, dict[str, Any] | None, str | None]  # status, record, id


def apply_batch(session: Session, user: User, batch: BatchRequest) -> BatchResult:
    return BatchResult(results=[_apply(session, user, operation) for operation in batch.operations])


def _apply(session: Session, user: User, operation: Operation) -> OperationResult:
    """One operation in its own transaction: its service commits, or any error rolls it back."""
    try:
        status, record, record_id = HANDLERS[operation.type](session, user, operation)
    except AppError as exc:
        session.rollback()
        return OperationResult(
            id=operation.id,
            status=exc.status,
            record=exc.body.get("record"),
            error=Problem.model_validate(app_error_document(exc)),
        )
    except ValidationError as exc:
        session.rollback()
        document = validation_document(list(exc.errors()), prefix="record.")
        return OperationResult(id=operation.id, status=422, record=None, error=Problem.model_validate(document))
    return OperationResult(id=record_id, status=status, record=record, error=None)


def _if_match(operation: Operation) -> str | None:
    return None if operation.if_version is None else etag(operation.if_version)


def _body(operation: Operation) -> dict[str, Any]:
    if operation.record is None:
        raise Unprocessable("record", "an upsert needs the record")
    return dict(operation.record)


@dataclass(frozen=True)
class RecordKind:
    """How the batch reaches one diary record type's single-request use cases."""

    rows: RecordRepository[Any]
    create_model: type[BaseModel]
    update_model: type[BaseModel]
    public_model: type[BaseModel]
    create: Callable[[Session, User, Any], tuple[Any, bool]]
    update: Callable[[Session, User, uuid.UUID, Any, str | None], Any]
    delete: Callable[[Session, User, uuid.UUID, str | None], None]

    def render(self, row: Any) -> dict[str, Any]:
        return self.public_model.model_validate(row).model_dump(mode="json")


EPISODES = RecordKind(
    episode_rows, EpisodeCreate, EpisodeUpdate, EpisodePublic, episodes.create, episodes.update, episodes.delete
)
RELEASES = RecordKind(
    release_rows,
    ReleaseSessionCreate,
    ReleaseSessionUpdate,
    ReleaseSessionPublic,
    releases.create,
    releases.update,
    releases.delete,
)
EXPOSURES = RecordKind(
    factor_rows.exposures,
    ExposureCreate,
    ExposureUpdate,
    ExposurePublic,
    lambda session, user, payload: factors.create_exposure(session, user.id, payload),
    lambda session, user, record_id, payload, if_match: factors.update_exposure(
        session, user.id, record_id, payload, if_match
    ),
    lambda session, user, record_id, if_match: factors.delete_exposure(session, user.id, record_id, if_match),
)


def _record_id(operation: Operation, body: dict[str, Any] | None) -> uuid.UUID | None:
    """The operation's id, or the record's own `id`; both given must agree."""
    in_body = body.pop("id", None) if body is not None else None
    if operation.id is not None and in_body is not None and in_body != operation.id:
        raise Unprocessable("record.id", "differs from the operation's id")
    text = operation.id if operation.id is not None else in_body
    if text is None:
        return None
    if not isinstance(text, str):
        raise Unprocessable("id", "must be a uuid")
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Unprocessable("id", "must be a uuid") from None


def _record_handler(kind: RecordKind) -> Callable[[Session, User, Operation], Outcome]:
    def handle(session: Session, user: User, operation: Operation) -> Outcome:
        if operation.op == "delete":
            record_id = _record_id(operation, None)
            if record_id is None:
                raise Unprocessable("id", "a delete needs the record's id")
            kind.delete(session, user, record_id, _if_match(operation))
            return 204, None, str(record_id)
        return _upsert_record(kind, session, user, operation)

    return handle


def _upsert_record(kind: RecordKind, session: Session, user: User, operation: Operation) -> Outcome:
    """A new id is a create (POST); a stored one is an update (PATCH), unless the record is the
    create that made it, sent again (200, nothing changes). `if_version` always means an update."""
    body = _body(operation)
    record_id = _record_id(operation, body)
    if_match = _if_match(operation)
    stored = kind.rows.get(session, user.id, record_id) if record_id is not None else None
    if stored is None and if_match is None:
        try:
            payload = kind.create_model.model_validate({**body, "id": str(record_id) if record_id else None})
        except ValidationError:
            if record_id is not None and kind.rows.find_any(session, record_id) is not None:
                # Not a create but an update of a deleted (or someone else's) record: as its PATCH.
                raise NotFound("No such record.") from None
            raise
        row, is_new = kind.create(session, user, payload)
        return (201 if is_new else 200), kind.render(row), str(row.id)
    if record_id is None:
        raise Unprocessable("id", "an update needs the record's id")
    if stored is not None and if_match is None:
        replayed = _replayed_create(kind, session, user, record_id, body)
        if replayed is not None:
            return 200, kind.render(replayed), str(record_id)
    row = kind.update(session, user, record_id, kind.update_model.model_validate(body), if_match)
    return 200, kind.render(row), str(record_id)


def _replayed_create(
    kind: RecordKind, session: Session, user: User, record_id: uuid.UUID, body: dict[str, Any]
) -> Any | None:
    try:
        payload = kind.create_model.model_validate({**body, "id": str(record_id)})
        row, _ = kind.create(session, user, payload)
    except (ValidationError, Conflict):
        return None  # not the original create: an update
    return row


_DAY: TypeAdapter[dt.date] = TypeAdapter(Day)


def _checkin_day(operation: Operation) -> dt.date:
    try:
        return _DAY.validate_python(operation.id)
    except ValidationError:
        raise Unprocessable("id", "a check-in's id is its date, YYYY-MM-DD") from None


def _checkin(session: Session, user: User, operation: Operation) -> Outcome:
    day = _checkin_day(operation)
    if operation.op == "delete":
        factors.delete_checkin(session, user.id, day, _if_match(operation))
        return 204, None, day.isoformat()
    payload = CheckInPut.model_validate(_body(operation))
    checkin, is_new = factors.put_checkin(session, user.id, day, payload, _if_match(operation))
    return (201 if is_new else 200), CheckInPublic.model_validate(checkin).model_dump(mode="json"), day.isoformat()


def _routine(session: Session, user: User, operation: Operation) -> Outcome:
    if operation.op == "delete":
        raise Unprocessable("op", "the routine cannot be deleted; upsert it instead")
    payload = RoutineUpdate.model_validate(_body(operation))
    public = routine.replace(session, user.id, payload, _if_match(operation))
    return 200, public.model_dump(mode="json"), ROUTINE_ID


def _factor(session: Session, user: User, operation: Operation) -> Outcome:
    if operation.op == "delete":
        raise Unprocessable("op", "factors cannot be deleted")
    body = _body(operation)
    if operation.id is not None and body.setdefault("key", operation.id) != operation.id:
        raise Unprocessable("record.key", "differs from the operation's id")
    public, is_new = factors.add_or_replay_factor(session, user.id, FactorCreate.model_validate(body))
    return (201 if is_new else 200), public.model_dump(mode="json"), public.key


HANDLERS: dict[str, Callable[[Session, User, Operation], Outcome]] = {
    "episode": _record_handler(EPISODES),
    "release_session": _record_handler(RELEASES),
    "exposure": _record_handler(EXPOSURES),
    "checkin": _checkin,
    "routine": _routine,
    "factor": _factor,
}

# --- the purge -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    tombstones: int
    users: int
    deleted_before: dt.datetime


def purge_tombstones(session: Session, now: dt.datetime | None = None) -> PurgeReport:
    """Removes tombstones deleted more than 90 days ago, in one transaction; cursors that could
    still need them are refused from then on (`purged_through`)."""
    cutoff = (now or utcnow()) - RETENTION
    purged = repository.purge_tombstones(session, cutoff)
    for owner_id, (_, highest) in purged.items():
        repository.raise_purged_through(session, owner_id, highest)
    session.commit()
    return PurgeReport(tombstones=sum(count for count, _ in purged.values()), users=len(purged), deleted_before=cutoff)
