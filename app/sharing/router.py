"""The client's side of sharing: share codes, links and the access log. Clients only."""

import uuid

from fastapi import Depends, Response, status

from app.auth.dependencies import CurrentClient, current_client
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import Router
from app.sharing import service
from app.sharing.schemas import AccessLogEntryPublic, LinkList, ShareCodePublic

router = Router(prefix="/sharing", tags=["sharing"], dependencies=[Depends(current_client)])


@router.post(
    "/codes",
    status_code=status.HTTP_201_CREATED,
    response_model=ShareCodePublic,
    responses=problem_responses(401, 403, 429),
)
def make_code(client: CurrentClient, session: SessionDep) -> ShareCodePublic:
    """A single-use code to give a therapist, valid 7 days: 12 characters shown as
    `XXXX-XXXX-XXXX` from 43 symbols without look-alikes (no 0/O/1/I/L; case matters), about 65
    bits. Only its SHA-256 is stored. At most 10 codes an hour (429 with `Retry-After`)."""
    return service.make_code(session, client)


@router.get("/links", response_model=LinkList, responses=problem_responses(401, 403))
def list_links(client: CurrentClient, session: SessionDep) -> LinkList:
    """Every therapist the client ever linked, newest first, revoked links included."""
    return LinkList(items=service.links(session, client))


@router.delete(
    "/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422)
)
def revoke_link(link_id: uuid.UUID, client: CurrentClient, session: SessionDep) -> Response:
    """The therapist loses access on their very next request. Revoking a revoked link is a no-op."""
    service.revoke(session, client, link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/access-log", response_model=Page[AccessLogEntryPublic], responses=problem_responses(401, 403, 422))
def access_log(client: CurrentClient, session: SessionDep, page: PageDep) -> Page[AccessLogEntryPublic]:
    """Every successful read or export of the client's data by a therapist, and every link made or
    revoked, newest first. `action` is `read`, `export`, `link_created` or `link_revoked`;
    `resource` names what was read (`summary`, `trends`, `analysis`, `episodes`, ...). Entries
    are never changed or removed and hold no note text."""
    entries, cursor = service.access_log(session, client, page)
    return Page(
        items=[AccessLogEntryPublic.model_validate(e, from_attributes=True) for e in entries], next_cursor=cursor
    )
