"""Liveness never touches the database; readiness reports it, fails fast when it is gone, and the
app recovers by itself when PostgreSQL drops every connection."""

import gc
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.db import sqlalchemy_url
from app.main import create_app
from tests.conftest import Backend, new_account, test_settings

# Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
UNREACHABLE_POSTGRES = "postgresql://nobody@127.0.0.1:9/x"
EPISODE = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7}


@pytest.fixture
def unreachable_client() -> Iterator[TestClient]:
    with TestClient(create_app(test_settings(UNREACHABLE_POSTGRES)), raise_server_exceptions=False) as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status


def test_healthz_is_ok(committed_client: TestClient) -> None:
    response = committed_client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}


def test_healthz_needs_no_token(committed_client: TestClient) -> None:
    assert committed_client.get("/healthz", headers={"Authorization": "Bearer garbage"}).status_code == 200


def test_healthz_touches_no_database(unreachable_client: TestClient) -> None:
    started = time.monotonic()
    for _ in range(3):
        response = unreachable_client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    assert time.monotonic() - started < 2


def test_healthz_touches_no_database_on_sqlite_either(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path}/no-such-folder/cramp.db"
    with TestClient(create_app(test_settings(missing)), raise_server_exceptions=False) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_ok_with_a_working_database(committed_client: TestClient) -> None:
    response = committed_client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_inside_the_test_transaction_too(client: TestClient) -> None:
    assert client.get("/readyz").status_code == 200


def test_readyz_answers_503_quickly_when_postgresql_is_unreachable(unreachable_client: TestClient) -> None:
    for _ in range(2):  # the second try must not hang on a pool in a bad state either
        started = time.monotonic()
        response = unreachable_client.get("/readyz")
        elapsed = time.monotonic() - started
        assert_problem(response, 503)
        assert elapsed < 5, f"/readyz took {elapsed:.1f}s"


def test_readyz_answers_503_when_the_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path}/no-such-folder/cramp.db"
    with TestClient(create_app(test_settings(missing)), raise_server_exceptions=False) as client:
        started = time.monotonic()
        response = client.get("/readyz")
        assert time.monotonic() - started < 5
    assert_problem(response, 503)


def test_an_api_request_without_a_database_is_a_prompt_503(unreachable_client: TestClient) -> None:
    # Not a readiness check, but a client must still get a prompt problem document.
    started = time.monotonic()
    response = unreachable_client.post(
        "/api/v1/auth/register", json={"email": "down@example.org", "password": "long enough pw"}
    )
    assert time.monotonic() - started < 5
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"


def terminate_other_connections(database_url: str) -> int:
    admin_url = os.environ["TEST_POSTGRES_URL"]
    database = make_url(database_url).database
    admin = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :database AND pid <> pg_backend_pid()"
                ),
                {"database": database},
            ).scalar_one()
            # Wait until the terminated backends are really gone.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                left = connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :database AND pid <> pg_backend_pid()"),
                    {"database": database},
                ).scalar_one()
                if left == 0:
                    break
                time.sleep(0.05)
    finally:
        admin.dispose()
    return int(killed)


def test_the_app_recovers_when_postgresql_drops_every_connection(
    backend: Backend, committed_db: str, committed_client: TestClient
) -> None:
    if backend.name != "postgresql":
        pytest.skip("dropping server-side connections is a PostgreSQL scenario")
    account = new_account(committed_client)
    created = committed_client.post("/api/v1/episodes", json=EPISODE, headers=account.headers)
    assert created.status_code == 201, created.text
    assert committed_client.get("/readyz").status_code == 200

    assert terminate_other_connections(committed_db) >= 1

    # Every pooled connection is dead now; pre-ping must replace each one, so no request fails.
    assert committed_client.get("/readyz").status_code == 200
    for _ in range(6):
        response = committed_client.get("/api/v1/episodes", headers=account.headers)
        assert response.status_code == 200, response.text
        assert [e["id"] for e in response.json()["items"]] == [created.json()["id"]]
    assert committed_client.get("/api/v1/users/me", headers=account.headers).status_code == 200
    again = committed_client.post("/api/v1/episodes", json=EPISODE, headers=account.headers)
    assert again.status_code == 201, again.text


def test_the_app_recovers_twice_in_a_row(backend: Backend, committed_db: str, committed_client: TestClient) -> None:
    if backend.name != "postgresql":
        pytest.skip("dropping server-side connections is a PostgreSQL scenario")
    account = new_account(committed_client)
    for _ in range(2):
        assert committed_client.get("/api/v1/users/me", headers=account.headers).status_code == 200
        terminate_other_connections(committed_db)
        response = committed_client.get("/api/v1/users/me", headers=account.headers)
        assert response.status_code == 200, response.text
        assert committed_client.get("/readyz").status_code == 200


def test_start_up_objects_are_frozen_out_of_the_collectors_scans() -> None:
    with TestClient(create_app(test_settings("sqlite:///:memory:"))):
        assert gc.get_freeze_count() > 0
