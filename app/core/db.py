"""Engine, sessions and column types shared by every domain."""

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from app.core.config import Settings

# Deterministic constraint names on SQLite and PostgreSQL alike (Alembic compares them).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def writes_on_read(endpoint: Endpoint) -> Endpoint:
    """Marks a GET endpoint that also writes (a therapist read appends to the access log), so its
    SQLite transaction takes the write lock up front like any other write: a read transaction
    upgraded to a write fails at once with "database is locked" when another writer got in between."""
    setattr(endpoint, "writes_on_read", True)  # noqa: B010 - mypy refuses attributes on functions
    return endpoint


def _writes(request: Request) -> bool:
    return request.method not in READ_ONLY_METHODS or getattr(request.scope.get("endpoint"), "writes_on_read", False)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; SQLite stores naive UTC text that sorts correctly."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database layer")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def sqlalchemy_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here, not SQLAlchemy's default psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(settings: Settings) -> Engine:
    url = sqlalchemy_url(settings.database_url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings.db_pool_size)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=10,
        connect_args={"connect_timeout": settings.db_connect_timeout_seconds},
    )


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    # As many pooled connections as requests admitted at once: beyond SQLAlchemy's default of 5,
    # every extra connection was opened and configured for one request, then thrown away.
    in_memory = make_url(url).database in (None, "", ":memory:")
    pooling = {} if in_memory else {"pool_size": pool_size, "max_overflow": 0}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pooling)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A write transaction takes the write lock up front, so a read-then-write request can
        # never fail half-way with "database is locked" when another writer got there first.
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


Shared = TypeVar("Shared")


class PerLoop(Generic[Shared]):
    """One instance per event loop: a worker has one loop, the test suite starts several, and
    anyio's primitives belong to the loop they were first used in."""

    def __init__(self, make: Callable[[], Shared]) -> None:
        self._make = make
        self._instances: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Shared] = weakref.WeakKeyDictionary()

    def get(self) -> Shared:
        loop = asyncio.get_running_loop()
        if loop not in self._instances:
            self._instances[loop] = self._make()
        return self._instances[loop]


class Database:
    """The engine, a view of it whose transactions start as writers (SQLite only cares), and the
    admission limit of requests that use it at once."""

    def __init__(self, engine: Engine, max_concurrent: int) -> None:
        self.engine = engine
        self._writer = engine.execution_options(sqlite_immediate=True)
        # SQLite lets one writer in at a time; the others poll its busy handler, which sleeps up to
        # 100 ms between tries. Queueing a process's writers here, in arrival order, spares that.
        self._queues_writers = engine.dialect.name == "sqlite"
        self._admissions: PerLoop[anyio.Semaphore] = PerLoop(lambda: anyio.Semaphore(max_concurrent))
        self._writer_turns: PerLoop[anyio.Lock] = PerLoop(anyio.Lock)

    def session(self, *, write: bool) -> Session:
        return Session(self._writer if write else self.engine, expire_on_commit=False)

    def admission(self) -> anyio.Semaphore:
        return self._admissions.get()

    def writer_turn(self, write: bool) -> AbstractAsyncContextManager[object]:
        """Held by a writing request until its endpoint returns, so it never waits on SQLite's lock."""
        return self._writer_turns.get() if write and self._queues_writers else nullcontext()

    def dispose(self) -> None:
        self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A request holds its connection (on SQLite, maybe the write lock) across several thread hops:
    dependencies, then the endpoint. Admitting at most `max_concurrent` such requests, waiting in
    the event loop rather than in a thread, and keeping more threads than that, means a request
    holding a connection can always get a thread to finish: no pile-up of threads all waiting for
    connections held by requests that wait for threads."""
    database: Database = request.app.state.database
    write = _writes(request)
    # The writer's turn first: a writer waiting for its turn does not hold an admission meanwhile.
    async with database.writer_turn(write), database.admission():
        session = database.session(write=write)
        try:
            yield session
        finally:
            # Usually the endpoint's thread closed it already (app.core.routing); then this is free.
            if session.in_transaction():
                await anyio.to_thread.run_sync(session.close)
            else:
                session.close()


# Function scope: the session, its admission and a writer's turn end when the endpoint returns,
# not after the response has been sent, so a slow download of a streamed export holds none of them.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


SessionFactory = Callable[[bool], Session]
"""Opens a session of its own (the argument: whether it writes); the caller closes it."""


async def get_session_factory(request: Request) -> SessionFactory:
    """For work that outlives the endpoint, such as a streamed response body: the request's session
    is released before the body is sent, so the stream opens its own."""
    database: Database = request.app.state.database
    return lambda write: database.session(write=write)


SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]
