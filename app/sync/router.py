from typing import Annotated

from fastapi import Query

from app.auth.dependencies import CurrentClient, SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.routing import Router
from app.sync import service
from app.sync.cursor import CURSOR_PATTERN
from app.sync.schemas import DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, BatchRequest, BatchResult, ChangeFeed

router = Router(prefix="/sync", tags=["sync"])


@router.get("", response_model=ChangeFeed, responses=problem_responses(401, 403, 410, 422))
def changes(
    user: CurrentClient,
    session: SessionDep,
    settings: SettingsDep,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=CURSOR_PATTERN,
            json_schema_extra={"format": "sync-cursor"},
            description="The previous answer's `next_cursor`; none to start from the beginning. A cursor "
            "that is not yours or was altered: 422. Older than 90 days, or past purged deletions: 410.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_LIMIT, description="Changes per answer.")] = DEFAULT_FEED_LIMIT,
) -> ChangeFeed:
    """Each record's latest change after the cursor, in the order the changes were committed;
    deletions as `op: delete`. Follow `next_cursor` until `has_more` is false; changes committed
    meanwhile come on a later call, never lost, never twice."""
    return service.feed(session, settings, user.id, cursor, limit)


@router.post("/batch", response_model=BatchResult, responses=problem_responses(400, 401, 403, 413, 422))
def batch(payload: BatchRequest, user: CurrentClient, session: SessionDep) -> BatchResult:
    """Applies up to 500 queued operations, each on its own and through the same rules as its single
    request, and answers their results in the same order, each with the status that request would
    have had (201, 200, 204, 404, 409, 412, 422). One failing operation never stops the others.
    Safe to replay: a replayed create or an upsert equal to the stored record changes nothing."""
    return service.apply_batch(session, user, payload)
