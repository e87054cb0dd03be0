"""`python -m app migrate | serve | openapi | demo | purge-tombstones`."""

import json
import sys

import uvicorn
from alembic import command
from alembic.config import Config

from app.core.config import get_settings


def migrate() -> None:
    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(Config("alembic.ini"), "head")


def serve() -> None:
    settings = get_settings()
    uvicorn.run("app.main:app", host=settings.host, port=settings.port, workers=settings.workers)


def openapi() -> None:
    from app.main import app

    print(json.dumps(app.openapi(), indent=2, sort_keys=True))


def demo() -> None:
    from app.demo import CLIENT_EMAIL, THERAPIST_EMAIL, load

    logins = load(get_settings())
    print("Demo accounts (log in at POST /api/v1/auth/token, or with Authorize in /docs):")
    print(f"  client:    {CLIENT_EMAIL}  password: {logins.client_password}")
    print(f"  therapist: {THERAPIST_EMAIL}  password: {logins.therapist_password}")
    print("Then GET /api/v1/analysis as the client.")


def purge_tombstones() -> None:
    """Removes deletions older than the 90 days the sync feed keeps them (run it daily, e.g. from cron)."""
    from app.core.db import Database, make_engine
    from app.sync.service import purge_tombstones as purge

    database = Database(make_engine(get_settings()), max_concurrent=1)
    try:
        with database.session(write=True) as session:
            report = purge(session)
    finally:
        database.dispose()
    cutoff = f"{report.deleted_before:%Y-%m-%d %H:%M}Z"
    print(f"purged {report.tombstones} tombstones of {report.users} users, deleted before {cutoff}")


COMMANDS = {"migrate": migrate, "serve": serve, "openapi": openapi, "demo": demo, "purge-tombstones": purge_tombstones}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m app {{{'|'.join(COMMANDS)}}}")
    COMMANDS[sys.argv[1]]()
