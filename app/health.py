from fastapi import Request
from sqlalchemy import text

from app.core.db import Database
from app.core.errors import ServiceUnavailable, problem_responses
from app.core.routing import Router

router = Router(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive. Touches no database."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
def readyz(request: Request) -> dict[str, str]:
    """The database answers; 503 when it does not."""
    database: Database = request.app.state.database
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database is the same answer
        raise ServiceUnavailable("The database is not answering.") from None
    return {"status": "ok"}
