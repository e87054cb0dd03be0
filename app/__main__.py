"""`python -m app migrate | serve | openapi | demo | purge-tombstones`."""

import json
import socket
import sys

import uvicorn
from alembic import command
from alembic.config import Config
from uvicorn.supervisors import Multiprocess

from app.core.config import get_settings


def migrate() -> None:
    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(Config("alembic.ini"), "head")


def serve() -> None:
    settings = get_settings()
    if settings.workers == 1:
        uvicorn.run("app.main:app", host=settings.host, port=settings.port)
        return
    config = uvicorn.Config("app.main:app", host=settings.host, port=settings.port, workers=settings.workers)
    Multiprocess(config, sockets=[tcp_listener(config)]).run()


def tcp_listener(config: uvicorn.Config) -> socket.socket:
    """The listening socket for several workers, marked as TCP. uvicorn binds it with protocol 0;
    accepted connections inherit that, asyncio then never sets TCP_NODELAY on them, and every
    keep-alive response waits about 40 ms for the client's delayed ACK (uvicorn issue #3149).
    A single worker is not affected: uvicorn lets asyncio bind that socket itself."""
    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    listener.set_inheritable(True)
    return listener


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
