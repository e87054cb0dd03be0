import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Response, status

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
from app.core.types import Day
from app.factors import service
from app.factors.schemas import (
    FACTOR_KEY_PATTERN,
    CheckInPublic,
    CheckInPut,
    ExposureCreate,
    ExposurePublic,
    ExposureUpdate,
    FactorCreate,
    FactorList,
    FactorPublic,
)

factors_router = Router(prefix="/factors", tags=["factors"])
exposures_router = Router(prefix="/exposures", tags=["exposures"])
checkins_router = Router(prefix="/checkins", tags=["checkins"])

CheckInDate = Annotated[Day, Path(description="The diary day, YYYY-MM-DD.")]


@factors_router.get("", response_model=FactorList, responses=problem_responses(401))
def list_(user: CurrentUser, session: SessionDep) -> FactorList:
    """The built-in factors, then the caller's own."""
    return FactorList(items=service.catalogue(session, user.id))


@factors_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=FactorPublic, responses=problem_responses(*CREATE_ERRORS)
)
def create(payload: FactorCreate, user: CurrentUser, session: SessionDep) -> FactorPublic:
    """Adds a factor to the caller's catalogue; a key already there is 409."""
    return service.add_factor(session, user.id, payload)


@exposures_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ExposurePublic,
    responses={**problem_responses(*CREATE_ERRORS), **replay_response(ExposurePublic)},
)
def create_exposure(
    payload: ExposureCreate, user: CurrentUser, session: SessionDep, response: Response
) -> ExposurePublic:
    exposure, is_new = service.create_exposure(session, user.id, payload)
    response.status_code = created_status(is_new)
    response.headers["ETag"] = etag(exposure.version)
    return ExposurePublic.model_validate(exposure)


@dataclass(frozen=True)
class ExposureFilter:
    factor: str | None
    active_on: dt.date | None


async def exposure_filter(
    factor: Annotated[str | None, Query(pattern=FACTOR_KEY_PATTERN, description="Only this factor.")] = None,
    active_on: Annotated[Day | None, Query(description="Only exposures covering this day.")] = None,
) -> ExposureFilter:
    # async: it does no I/O, so it need not cost a hop to the thread pool.
    return ExposureFilter(factor, active_on)


ExposureFilterDep = Annotated[ExposureFilter, Depends(exposure_filter)]


@exposures_router.get("", response_model=Page[ExposurePublic], responses=problem_responses(401, 422))
def list_exposures(
    user: CurrentUser, session: SessionDep, page: PageDep, filters: ExposureFilterDep
) -> Page[ExposurePublic]:
    """Newest first by `start_date`."""
    items, cursor = service.list_exposures(session, user.id, page, filters.factor, filters.active_on)
    return Page(items=[ExposurePublic.model_validate(e) for e in items], next_cursor=cursor)


@exposures_router.get("/{exposure_id}", response_model=ExposurePublic, responses=problem_responses(*READ_ERRORS))
def read_exposure(exposure_id: uuid.UUID, user: CurrentUser, session: SessionDep, response: Response) -> ExposurePublic:
    exposure = service.get_exposure(session, user.id, exposure_id)
    response.headers["ETag"] = etag(exposure.version)
    return ExposurePublic.model_validate(exposure)


@exposures_router.patch("/{exposure_id}", response_model=ExposurePublic, responses=problem_responses(*WRITE_ERRORS))
def update_exposure(
    exposure_id: uuid.UUID,
    payload: ExposureUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ExposurePublic:
    exposure = service.update_exposure(session, user.id, exposure_id, payload, if_match)
    response.headers["ETag"] = etag(exposure.version)
    return ExposurePublic.model_validate(exposure)


@exposures_router.delete(
    "/{exposure_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(*WRITE_ERRORS)
)
def delete_exposure(
    exposure_id: uuid.UUID, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> Response:
    service.delete_exposure(session, user.id, exposure_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@checkins_router.put(
    "/{date}",
    response_model=CheckInPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**problem_responses(400, 401, 412, 413, 422), **replay_response(CheckInPublic)},
)
def put(
    date: CheckInDate,
    payload: CheckInPut,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> CheckInPublic:
    """Replaces the day's check-in: 201 the first time, 200 after. A check-in marks the day as
    logged even with no episodes."""
    checkin, is_new = service.put_checkin(session, user.id, date, payload, if_match)
    response.status_code = created_status(is_new)
    response.headers["ETag"] = etag(checkin.version)
    return CheckInPublic.model_validate(checkin)


@checkins_router.get("", response_model=Page[CheckInPublic], responses=problem_responses(401, 422))
def list_checkins(user: CurrentUser, session: SessionDep, window: DateWindowDep, page: PageDep) -> Page[CheckInPublic]:
    """Newest first by `date`."""
    items, cursor = service.list_checkins(session, user.id, window, page)
    return Page(items=[CheckInPublic.model_validate(c) for c in items], next_cursor=cursor)


@checkins_router.get("/{date}", response_model=CheckInPublic, responses=problem_responses(*READ_ERRORS))
def read_checkin(date: CheckInDate, user: CurrentUser, session: SessionDep, response: Response) -> CheckInPublic:
    checkin = service.get_checkin(session, user.id, date)
    response.headers["ETag"] = etag(checkin.version)
    return CheckInPublic.model_validate(checkin)


@checkins_router.delete("/{date}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(*WRITE_ERRORS))
def delete_checkin(date: CheckInDate, user: CurrentUser, session: SessionDep, if_match: IfMatch = None) -> Response:
    service.delete_checkin(session, user.id, date, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
