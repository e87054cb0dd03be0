"""Migrations (reversible, one head, no drift), readiness, and recovery from a lost database."""

import os
import re
import time

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.core.db import sqlalchemy_url
from app.main import create_app
from tests.conftest import ROOT, Backend, new_account, test_settings

UNREACHABLE = "postgresql://nobody@127.0.0.1:9/nothing"  # port 9 on loopback refuses at once


def alembic_on(url: str, action: str, *args: str) -> None:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            config = Config(str(ROOT / "alembic.ini"))
            config.attributes["connection"] = connection
            config.attributes["configure_logger"] = False
            getattr(command, action)(config, *args)
    finally:
        engine.dispose()


def test_migrations_go_down_to_base_and_up_again(committed_db: str) -> None:
    alembic_on(committed_db, "downgrade", "base")
    alembic_on(committed_db, "upgrade", "head")
    alembic_on(committed_db, "downgrade", "base")
    alembic_on(committed_db, "upgrade", "head")
    alembic_on(committed_db, "check")  # raises when the models and the migrations disagree


def test_the_models_and_the_migrations_agree(committed_db: str) -> None:
    alembic_on(committed_db, "check")


def test_there_is_one_head_and_revision_files_are_date_prefixed() -> None:
    script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    assert len(script.get_heads()) == 1
    names = [path.name for path in (ROOT / "migrations" / "versions").glob("*.py")]
    assert names
    assert all(re.match(r"^\d{8}_", name) for name in names), names


def test_healthz_touches_no_database() -> None:
    with TestClient(create_app(test_settings(UNREACHABLE))) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_503_quickly_when_the_database_is_down() -> None:
    with TestClient(create_app(test_settings(UNREACHABLE))) as client:
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert elapsed < 5


def test_readyz_answers_200_with_a_working_database(committed_client: TestClient) -> None:
    assert committed_client.get("/readyz").json() == {"status": "ok"}


def test_the_api_recovers_by_itself_when_postgresql_drops_its_connections(
    backend: Backend, committed_db: str, committed_client: TestClient
) -> None:
    if backend.name != "postgresql":
        pytest.skip("connections to kill exist on PostgreSQL only")
    account = new_account(committed_client)
    assert committed_client.get("/api/v1/episodes", headers=account.headers).status_code == 200
    admin = create_engine(sqlalchemy_url(os.environ["TEST_POSTGRES_URL"]), isolation_level="AUTOCOMMIT")
    database = committed_db.rsplit("/", 1)[-1]
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).scalar_one()
    admin.dispose()
    assert killed >= 1
    assert committed_client.get("/readyz").status_code == 200
    assert committed_client.get("/api/v1/episodes", headers=account.headers).status_code == 200
