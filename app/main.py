"""The ASGI application: `app = create_app()`."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app import health
from app.api import build_api_router
from app.core.config import Settings, get_settings
from app.core.db import Database, make_engine
from app.core.errors import install_error_handlers
from app.core.limits import BodySizeLimit
from app.export.router import IMPORT_PATH_PREFIX, MAX_IMPORT_BODY_BYTES

DESCRIPTION = """
Backend of a leg-cramp tracker: a client logs cramp episodes, daily self-release sessions,
risk-factor exposures and check-ins; a therapist they share with reads their trends.

Conventions: JSON in and out; errors are RFC 9457 problem documents; timestamps in requests need
an offset and come back in UTC; lists are newest first with opaque cursors; creates take an
optional client `id` and are idempotent (a replay of the same create answers 200 with the stored
record, a different create with a used `id` answers 409).
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name.strip('_').replace('_', '-')}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.signing_key()  # fail at start-up, not on the first login, when no key can be had
    database = Database(make_engine(settings), max_concurrent=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints and dependencies run in this thread pool. At most db_pool_size requests use
        # the database at once (see get_session); the spare threads serve the rest meanwhile.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2 * settings.db_pool_size
        # Everything loaded at start-up (numpy, scipy, statsmodels, the ORM's mappings) lives for
        # the whole process. Frozen, the collector stops rescanning it: each full collection used
        # to stall every request in flight for about 150 ms (the p99 of /healthz under load).
        gc.freeze()
        yield
        database.dispose()

    app = FastAPI(
        title="Cramp tracker API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.database = database
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(build_api_router())
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, larger={IMPORT_PATH_PREFIX: MAX_IMPORT_BODY_BYTES}
    )
    _allow_origins(app, settings.cors_origin_list)
    return app


def _allow_origins(app: FastAPI, origins: list[str]) -> None:
    """Cross-origin access for browser dashboards. Tokens travel in the Authorization header, but
    credentialed requests are still allowed only for listed origins, never with the wildcard."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials=origins != ["*"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match"],
        expose_headers=["ETag", "Retry-After", "Content-Disposition", "WWW-Authenticate"],
        max_age=600,
    )


app = create_app()
