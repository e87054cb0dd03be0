from fastapi import Response

from app.auth.dependencies import CurrentUser
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.records import IfMatch, etag
from app.core.routing import Router
from app.routine import service
from app.routine.schemas import RoutinePublic, RoutineUpdate

router = Router(prefix="/routine", tags=["routine"])


@router.get("", response_model=RoutinePublic, responses=problem_responses(401))
def read(user: CurrentUser, session: SessionDep, response: Response) -> RoutinePublic:
    routine = service.read(session, user.id)
    response.headers["ETag"] = etag(routine.version)
    return routine


@router.put("", response_model=RoutinePublic, responses=problem_responses(400, 401, 412, 413, 422))
def replace(
    payload: RoutineUpdate, user: CurrentUser, session: SessionDep, response: Response, if_match: IfMatch = None
) -> RoutinePublic:
    """A diary day is adherent when its release sessions add up to `daily_target_minutes`."""
    routine = service.replace(session, user.id, payload, if_match)
    response.headers["ETag"] = etag(routine.version)
    return routine
