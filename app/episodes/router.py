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
from app.episodes import service
from app.episodes.schemas import EpisodeCreate, EpisodePublic, EpisodeUpdate

router = Router(prefix="/episodes", tags=["episodes"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EpisodePublic,
    responses={**problem_responses(*CREATE_ERRORS), **replay_response(EpisodePublic)},
)
def create(payload: EpisodeCreate, user: CurrentUser, session: SessionDep, response: Response) -> EpisodePublic:
    """201 for a new episode; 200 with the stored one when this `id` was already created with the
    same content (a replayed request); 409 when the `id` is taken otherwise."""
    episode, is_new = service.create(session, user, payload)
    response.status_code = created_status(is_new)
    response.headers["ETag"] = etag(episode.version)
    return EpisodePublic.model_validate(episode)


@router.get("", response_model=Page[EpisodePublic], responses=problem_responses(401, 422))
def list_(user: CurrentUser, session: SessionDep, window: DateWindowDep, page: PageDep) -> Page[EpisodePublic]:
    """Newest first by `started_at`; `from`/`to` filter on `diary_date`."""
    items, cursor = service.list_page(session, user, window, page)
    return Page(items=[EpisodePublic.model_validate(e) for e in items], next_cursor=cursor)


@router.get("/{episode_id}", response_model=EpisodePublic, responses=problem_responses(*READ_ERRORS))
def read(episode_id: uuid.UUID, user: CurrentUser, session: SessionDep, response: Response) -> EpisodePublic:
    episode = service.get(session, user, episode_id)
    response.headers["ETag"] = etag(episode.version)
    return EpisodePublic.model_validate(episode)


@router.patch("/{episode_id}", response_model=EpisodePublic, responses=problem_responses(*WRITE_ERRORS))
def update(
    episode_id: uuid.UUID,
    payload: EpisodeUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> EpisodePublic:
    episode = service.update(session, user, episode_id, payload, if_match)
    response.headers["ETag"] = etag(episode.version)
    return EpisodePublic.model_validate(episode)


@router.delete("/{episode_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(*WRITE_ERRORS))
def delete(episode_id: uuid.UUID, user: CurrentUser, session: SessionDep, if_match: IfMatch = None) -> Response:
    service.delete(session, user, episode_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
