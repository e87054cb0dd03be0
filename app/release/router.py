import uuid

from fastapi import Response, status

from app.auth.dependencies import CurrentUser
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.records import (
    CREATE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    DateWindowDep,
    IfMatch,
    created_status,
    etag,
    replay_response,
)
from app.core.routing import Router
from app.release import service
from app.release.schemas import ReleaseSessionCreate, ReleaseSessionPublic, ReleaseSessionUpdate

router = Router(prefix="/release-sessions", tags=["release-sessions"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReleaseSessionPublic,
    responses={**problem_responses(*CREATE_ERRORS), **replay_response(ReleaseSessionPublic)},
)
def create(
    payload: ReleaseSessionCreate, user: CurrentUser, session: SessionDep, response: Response
) -> ReleaseSessionPublic:
    """201 for a new release; 200 with the stored one when this `id` was already created with the
    same content (a replayed request); 409 when the `id` is taken otherwise."""
    release, is_new = service.create(session, user, payload)
    response.status_code = created_status(is_new)
    response.headers["ETag"] = etag(release.version)
    return ReleaseSessionPublic.model_validate(release)


@router.get("", response_model=Page[ReleaseSessionPublic], responses=problem_responses(401, 422))
def list_(user: CurrentUser, session: SessionDep, window: DateWindowDep, page: PageDep) -> Page[ReleaseSessionPublic]:
    """Newest first by `performed_at`; `from`/`to` filter on `diary_date`."""
    items, cursor = service.list_page(session, user, window, page)
    return Page(items=[ReleaseSessionPublic.model_validate(r) for r in items], next_cursor=cursor)


@router.get("/{release_id}", response_model=ReleaseSessionPublic, responses=problem_responses(*READ_ERRORS))
def read(release_id: uuid.UUID, user: CurrentUser, session: SessionDep, response: Response) -> ReleaseSessionPublic:
    release = service.get(session, user, release_id)
    response.headers["ETag"] = etag(release.version)
    return ReleaseSessionPublic.model_validate(release)


@router.patch("/{release_id}", response_model=ReleaseSessionPublic, responses=problem_responses(*WRITE_ERRORS))
def update(
    release_id: uuid.UUID,
    payload: ReleaseSessionUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ReleaseSessionPublic:
    release = service.update(session, user, release_id, payload, if_match)
    response.headers["ETag"] = etag(release.version)
    return ReleaseSessionPublic.model_validate(release)


@router.delete("/{release_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(*WRITE_ERRORS))
def delete(release_id: uuid.UUID, user: CurrentUser, session: SessionDep, if_match: IfMatch = None) -> Response:
    service.delete(session, user, release_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
