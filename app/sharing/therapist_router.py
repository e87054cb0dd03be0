"""The therapist's side: redeeming codes, the dashboard, and read-only views of linked clients.
Every per-client route resolves its client through the one access rule (`LinkedClient`), and
every successful read appends to that client's access log."""

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from app.analysis import service as analysis
from app.analysis.schemas import AnalysisReport
from app.auth.dependencies import CurrentTherapist, current_therapist
from app.core.db import SessionDep, SessionFactory, SessionFactoryDep, writes_on_read
from app.core.errors import NotFound, problem_responses
from app.core.pagination import Page, PageDep
from app.core.records import DateWindowDep
from app.core.routing import Router
from app.episodes import service as episodes
from app.episodes.schemas import EpisodePublic
from app.export import service as export
from app.export.columns import Kind
from app.export.router import KindPath, csv_file_responses, csv_response
from app.factors import service as factors
from app.factors.router import ExposureFilterDep
from app.factors.schemas import CheckInPublic, ExposurePublic
from app.release import service as releases
from app.release.schemas import ReleaseSessionPublic
from app.sharing import repository, service
from app.sharing.schemas import ClientList, ClientSort, Redemption, TherapistLinkPublic
from app.sharing.summary import client_summaries
from app.trends import service as trends
from app.trends.schemas import Granularity, Trends
from app.users.models import User

router = Router(prefix="/therapist", tags=["therapist"], dependencies=[Depends(current_therapist)])

CLIENT_READ_ERRORS = (401, 403, 404, 422)


def linked_client(
    client_id: Annotated[uuid.UUID, Path(description="A client actively linked to the caller.")],
    therapist: CurrentTherapist,
    session: SessionDep,
) -> User:
    client = repository.readable_client(session, therapist.id, client_id)
    if client is None:
        raise NotFound("No such client.")
    return client


LinkedClient = Annotated[User, Depends(linked_client)]


@router.post(
    "/links",
    status_code=status.HTTP_201_CREATED,
    response_model=TherapistLinkPublic,
    responses={
        **problem_responses(400, 401, 403, 404, 413, 422, 429),
        200: {"model": TherapistLinkPublic, "description": "Already linked to this client: the existing link."},
    },
)
def redeem_code(
    payload: Redemption, therapist: CurrentTherapist, session: SessionDep, response: Response
) -> TherapistLinkPublic:
    """Redeems a client's share code (with or without its dashes). Unknown, used or expired: 404.
    After 10 failed codes in 15 minutes: 429 with `Retry-After`."""
    link, is_new = service.redeem(session, therapist, payload.code)
    response.status_code = status.HTTP_201_CREATED if is_new else status.HTTP_200_OK
    return link


@router.get("/clients", response_model=ClientList, responses=problem_responses(401, 403, 422))
@writes_on_read
def list_clients(
    therapist: CurrentTherapist,
    session: SessionDep,
    sort: Annotated[
        ClientSort, Query(description="A ClientSummary field; `-` first for descending. Nulls last.")
    ] = "display_name",
) -> ClientList:
    """Every actively linked client with their summary; each one's access log records the read."""
    summaries = client_summaries(session, therapist.id, sort)
    service.log_read(session, therapist, [summary.client_id for summary in summaries], "summary")
    return ClientList(items=summaries)


@router.get("/clients/{client_id}/trends", response_model=Trends, responses=problem_responses(*CLIENT_READ_ERRORS))
@writes_on_read
def client_trends(
    client: LinkedClient,
    therapist: CurrentTherapist,
    session: SessionDep,
    window: DateWindowDep,
    granularity: Annotated[Granularity, Query(description="Weeks start on Monday.")] = "week",
) -> Trends:
    """The client's `/trends`."""
    result = trends.trends(session, client.id, client.timezone, granularity, window.start, window.end)
    service.log_read(session, therapist, [client.id], "trends")
    return result


@router.get(
    "/clients/{client_id}/analysis", response_model=AnalysisReport, responses=problem_responses(*CLIENT_READ_ERRORS)
)
@writes_on_read
def client_analysis(
    client: LinkedClient, therapist: CurrentTherapist, session: SessionDep, window: DateWindowDep
) -> AnalysisReport:
    """The client's `/analysis`."""
    report = analysis.report(session, client.id, client.timezone, window.start, window.end)
    service.log_read(session, therapist, [client.id], "analysis")
    return report


@router.get(
    "/clients/{client_id}/episodes",
    response_model=Page[EpisodePublic],
    responses=problem_responses(*CLIENT_READ_ERRORS),
)
@writes_on_read
def client_episodes(
    client: LinkedClient, therapist: CurrentTherapist, session: SessionDep, window: DateWindowDep, page: PageDep
) -> Page[EpisodePublic]:
    """The client's `/episodes`, read-only."""
    items, cursor = episodes.list_page(session, client, window, page)
    result = Page[EpisodePublic](items=[EpisodePublic.model_validate(e) for e in items], next_cursor=cursor)
    service.log_read(session, therapist, [client.id], "episodes")
    return result


@router.get(
    "/clients/{client_id}/release-sessions",
    response_model=Page[ReleaseSessionPublic],
    responses=problem_responses(*CLIENT_READ_ERRORS),
)
@writes_on_read
def client_release_sessions(
    client: LinkedClient, therapist: CurrentTherapist, session: SessionDep, window: DateWindowDep, page: PageDep
) -> Page[ReleaseSessionPublic]:
    """The client's `/release-sessions`, read-only."""
    items, cursor = releases.list_page(session, client, window, page)
    result = Page[ReleaseSessionPublic](
        items=[ReleaseSessionPublic.model_validate(r) for r in items], next_cursor=cursor
    )
    service.log_read(session, therapist, [client.id], "release-sessions")
    return result


@router.get(
    "/clients/{client_id}/exposures",
    response_model=Page[ExposurePublic],
    responses=problem_responses(*CLIENT_READ_ERRORS),
)
@writes_on_read
def client_exposures(
    client: LinkedClient, therapist: CurrentTherapist, session: SessionDep, page: PageDep, filters: ExposureFilterDep
) -> Page[ExposurePublic]:
    """The client's `/exposures`, read-only."""
    items, cursor = factors.list_exposures(session, client.id, page, filters.factor, filters.active_on)
    result = Page[ExposurePublic](items=[ExposurePublic.model_validate(e) for e in items], next_cursor=cursor)
    service.log_read(session, therapist, [client.id], "exposures")
    return result


@router.get(
    "/clients/{client_id}/checkins",
    response_model=Page[CheckInPublic],
    responses=problem_responses(*CLIENT_READ_ERRORS),
)
@writes_on_read
def client_checkins(
    client: LinkedClient, therapist: CurrentTherapist, session: SessionDep, window: DateWindowDep, page: PageDep
) -> Page[CheckInPublic]:
    """The client's `/checkins`, read-only."""
    items, cursor = factors.list_checkins(session, client.id, window, page)
    result = Page[CheckInPublic](items=[CheckInPublic.model_validate(c) for c in items], next_cursor=cursor)
    service.log_read(session, therapist, [client.id], "checkins")
    return result


@router.get(
    "/clients/{client_id}/export/{kind}.csv",
    response_class=StreamingResponse,
    responses={**csv_file_responses("The client's records as CSV."), **problem_responses(*CLIENT_READ_ERRORS)},
)
@writes_on_read
def client_export(
    kind: KindPath,
    client: LinkedClient,
    therapist: CurrentTherapist,
    session: SessionDep,
    open_session: SessionFactoryDep,
    window: DateWindowDep,
) -> StreamingResponse:
    """The client's `/export/{kind}.csv`. The access log records it once every row was read."""
    # The stream reads with its own session; this one (which on SQLite holds the write lock, as a
    # read that logs) is released before the body is sent.
    session.close()
    chunks = export.stream_csv(
        open_session,
        kind,
        client.id,
        window,
        on_success=lambda: _log_export(open_session, therapist, client.id, kind),
    )
    return csv_response(chunks, export.file_name(f"{kind}-{client.id}", client.timezone, "csv"))


def _log_export(open_session: SessionFactory, therapist: User, client_id: uuid.UUID, kind: Kind) -> None:
    with open_session(True) as session:
        service.log_export(session, therapist, client_id, f"{kind}.csv")
