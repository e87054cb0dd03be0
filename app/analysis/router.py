from app.analysis import service
from app.analysis.schemas import AnalysisReport
from app.auth.dependencies import CurrentUser
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.records import DateWindowDep
from app.core.routing import Router

router = Router(prefix="/analysis", tags=["analysis"])


@router.get("", response_model=AnalysisReport, responses=problem_responses(401, 422))
def read(user: CurrentUser, session: SessionDep, window: DateWindowDep) -> AnalysisReport:
    """How the cramp rate relates to each risk factor and to the routine, over logged diary days
    (default: the whole diary up to today, at most its last 3,660 days). Rate ratios with
    intervals, adjusted for the other factors and adherence; associations, never causes.
    Unestimable numbers are null."""
    return service.report(session, user.id, user.timezone, window.start, window.end)
