from typing import Annotated

from fastapi import Query

from app.auth.dependencies import CurrentUser
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.records import DateWindowDep
from app.core.routing import Router
from app.trends import service
from app.trends.schemas import Granularity, Trends

router = Router(prefix="/trends", tags=["trends"])


@router.get("", response_model=Trends, responses=problem_responses(401, 422))
def read(
    user: CurrentUser,
    session: SessionDep,
    window: DateWindowDep,
    granularity: Annotated[Granularity, Query(description="Weeks start on Monday.")] = "week",
) -> Trends:
    """Counts per period over diary days; every period of the window is listed, an empty one with
    zero counts and null means. Default window: the first logged day to today, at most the last
    3,660 days."""
    return service.trends(session, user.id, user.timezone, granularity, window.start, window.end)
