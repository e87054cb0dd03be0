"""Test databases: every API test runs on SQLite and, when TEST_POSTGRES_URL is set, on PostgreSQL.

The schema always comes from `alembic upgrade head`. Each test runs inside a transaction that is
rolled back (the app's commits become savepoint releases); tests that need real commits from
several connections (concurrency, durability) ask for `committed_db`, a fresh migrated copy.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import get_session, get_session_factory, make_engine, sqlalchemy_url
from app.main import create_app

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"]


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not POSTGRES_URL:
        pytest.exit("CI is set but TEST_POSTGRES_URL is not: the PostgreSQL tests must run in CI.", returncode=2)


def test_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "app_env": "development",
        "secret_key": "test-secret-key-that-is-long-enough-for-hs256",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "db_pool_size": 5,
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, wherever imported


def migrate(url: str) -> None:
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as connection:
        config = Config(str(ROOT / "alembic.ini"))
        config.attributes["connection"] = connection
        config.attributes["configure_logger"] = False
        command.upgrade(config, "head")
    engine.dispose()


class PostgresAdmin:
    """Creates and drops throwaway databases on the test cluster."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        clause = f" TEMPLATE {template}" if template else ""
        with self.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self.engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Backend:
    """One migrated template database; `fresh_url()` hands out independent copies of it."""

    name: str
    template_url: str
    _tmp: Path
    _pg: PostgresAdmin | None = None
    _template_name: str = ""

    def fresh_url(self) -> str:
        suffix = uuid.uuid4().hex[:12]
        if self._pg is not None:
            return self._pg.create(f"cramp_test_{suffix}", template=self._template_name)
        path = self._tmp / f"{suffix}.db"
        shutil.copyfile(self._tmp / "template.db", path)
        return f"sqlite:///{path}"

    def discard(self, url: str) -> None:
        if self._pg is not None:
            self._pg.drop(make_url(url).database or "")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'template.db'}"
        migrate(url)
        yield Backend("sqlite", url, tmp)
        return
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set (CI always sets it)")
    admin = PostgresAdmin(POSTGRES_URL)
    template = f"cramp_tmpl_{uuid.uuid4().hex[:12]}"
    url = admin.create(template)
    migrate(url)
    yield Backend("postgresql", url, tmp, admin, template)
    admin.drop(template)
    admin.engine.dispose()


@pytest.fixture(scope="session")
def shared_db(backend: Backend) -> Iterator[tuple[str, Engine]]:
    """One migrated database per backend that the rolled-back tests share."""
    url = backend.fresh_url()
    engine = make_engine(test_settings(url))
    yield url, engine
    engine.dispose()
    backend.discard(url)


@pytest.fixture(scope="session")
def app(shared_db: tuple[str, Engine]) -> FastAPI:
    return create_app(test_settings(shared_db[0]))


@pytest.fixture
def connection(shared_db: tuple[str, Engine]) -> Iterator[Connection]:
    with shared_db[1].connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def client(app: FastAPI, connection: Connection) -> Iterator[TestClient]:
    def session_in_test_transaction() -> Iterator[Session]:
        with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
            yield session

    def open_session_in_test_transaction(write: bool) -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    app.dependency_overrides[get_session] = session_in_test_transaction
    app.dependency_overrides[get_session_factory] = lambda: open_session_in_test_transaction
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.dependency_overrides.clear()


@pytest.fixture
def committed_db(backend: Backend) -> Iterator[str]:
    """A fresh migrated database of the current backend whose commits are real."""
    url = backend.fresh_url()
    yield url
    backend.discard(url)


@pytest.fixture
def committed_client(committed_db: str) -> Iterator[TestClient]:
    with TestClient(create_app(test_settings(committed_db)), raise_server_exceptions=False) as test_client:
        yield test_client


# --- helpers shared by the API tests -------------------------------------------------------------

PASSWORD = "correct horse battery"


def register(
    client: TestClient, *, role: str = "client", timezone: str = "UTC", email: str | None = None
) -> dict[str, Any]:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.org"
    response = client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "role": role, "timezone": timezone}
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "password": PASSWORD}


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def auth_headers(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@dataclass
class Account:
    user: dict[str, Any]
    tokens: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return auth_headers(self.tokens)


def new_account(client: TestClient, **kwargs: Any) -> Account:
    user = register(client, **kwargs)
    return Account(user=user, tokens=login(client, user["email"]))


@pytest.fixture
def alice(client: TestClient) -> Account:
    return new_account(client, timezone="Europe/Berlin")


@pytest.fixture
def bob(client: TestClient) -> Account:
    return new_account(client)
