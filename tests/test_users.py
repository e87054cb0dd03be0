"""The caller's own account (contract §3): profile, password change and account deletion."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection
from sqlmodel import Session, func, select

from app.auth.models import RefreshToken
from app.episodes.models import Episode
from app.users.models import User
from tests.conftest import PASSWORD, Account, login, new_account, register
from tests.test_auth import (
    ME,
    REGISTER,
    assert_problem,
    assert_unauthorized,
    assert_user_shape,
    me,
    refresh,
    try_login,
)

PASSWORD_URL = f"{ME}/password"
DELETE_URL = f"{ME}/delete"
NEW_PASSWORD = "a brand new password"
EPISODE = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7}


def change_password(client: TestClient, account: Account, current: str = PASSWORD, new: str = NEW_PASSWORD) -> Response:
    body = {"current_password": current, "new_password": new}
    response: Response = client.post(PASSWORD_URL, json=body, headers=account.headers)
    return response


def add_episode(client: TestClient, account: Account) -> dict[str, Any]:
    response = client.post("/api/v1/episodes", json=EPISODE, headers=account.headers)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def count(connection: Connection, model: Any, user_id: str) -> int:
    with Session(bind=connection) as session:
        column = model.id if model is User else model.user_id
        return session.exec(select(func.count()).select_from(model).where(column == uuid.UUID(user_id))).one()


# --- GET /users/me -------------------------------------------------------------------------------


def test_me_needs_a_bearer_token(client: TestClient) -> None:
    assert_unauthorized(client.get(ME))


def test_me_returns_the_callers_user(client: TestClient, alice: Account) -> None:
    response = client.get(ME, headers=alice.headers)
    assert response.status_code == 200, response.text
    user = response.json()
    assert_user_shape(user)
    registered = {key: value for key, value in alice.user.items() if key != "password"}
    assert {key: user[key] for key in registered} == registered
    assert user["timezone"] == "Europe/Berlin"


def test_me_answers_for_the_caller_only(client: TestClient, alice: Account, bob: Account) -> None:
    assert client.get(ME, headers=bob.headers).json()["id"] == bob.user["id"]
    assert client.get(ME, headers=alice.headers).json()["id"] == alice.user["id"]


# --- PATCH /users/me -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "timezone", id="timezone-unknown"),
        pytest.param({"timezone": None}, "timezone", id="timezone-null"),
        pytest.param({"timezone": 1}, "timezone", id="timezone-a-number"),
        pytest.param({"timezone": ""}, "timezone", id="timezone-empty"),
        pytest.param({"display_name": "x" * 101}, "display_name", id="display-name-101-chars"),
        pytest.param({"display_name": 5}, "display_name", id="display-name-a-number"),
        pytest.param({"display_name": "Al\x00ice"}, "display_name", id="display-name-with-nul"),
        pytest.param({"nickname": "Al"}, "nickname", id="unknown-field"),
        pytest.param({"role": "therapist"}, "role", id="role-not-patchable"),
        pytest.param({"email": "new@example.org"}, "email", id="email-not-patchable"),
        pytest.param({"password": "a new password"}, "password", id="password-not-patchable"),
        pytest.param({"id": str(uuid.uuid4())}, "id", id="id-not-patchable"),
    ],
)
def test_patch_me_rejects_invalid_field_with_422_naming_it(
    client: TestClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    before = client.get(ME, headers=alice.headers).json()
    assert_problem(client.patch(ME, json=body, headers=alice.headers), 422, field)
    assert client.get(ME, headers=alice.headers).json() == before


def test_patch_me_malformed_json_is_400(client: TestClient, alice: Account) -> None:
    headers = {**alice.headers, "Content-Type": "application/json"}
    assert_problem(client.patch(ME, content=b'{"display_name": ', headers=headers), 400)


def test_patch_me_needs_a_bearer_token(client: TestClient) -> None:
    assert_unauthorized(client.patch(ME, json={"display_name": "Mallory"}))


def test_patch_me_changes_display_name_and_timezone(client: TestClient, alice: Account) -> None:
    response = client.patch(
        ME, json={"display_name": "Alice A.", "timezone": "America/New_York"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    user = response.json()
    assert_user_shape(user)
    assert (user["display_name"], user["timezone"]) == ("Alice A.", "America/New_York")
    assert client.get(ME, headers=alice.headers).json() == user


def test_patch_me_changes_only_the_fields_sent(client: TestClient, alice: Account) -> None:
    client.patch(ME, json={"display_name": "Alice"}, headers=alice.headers)
    response = client.patch(ME, json={"timezone": "Asia/Tokyo"}, headers=alice.headers)
    assert response.status_code == 200, response.text
    user = response.json()
    assert (user["display_name"], user["timezone"]) == ("Alice", "Asia/Tokyo")
    unchanged = {key: alice.user[key] for key in ("id", "email", "role", "created_at")}
    assert {key: user[key] for key in unchanged} == unchanged


def test_patch_me_display_name_null_clears_it(client: TestClient, alice: Account) -> None:
    client.patch(ME, json={"display_name": "Alice"}, headers=alice.headers)
    response = client.patch(ME, json={"display_name": None}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] is None
    assert client.get(ME, headers=alice.headers).json()["display_name"] is None
    assert client.get(ME, headers=alice.headers).json()["timezone"] == "Europe/Berlin"


def test_patch_me_empty_body_changes_nothing(client: TestClient, alice: Account) -> None:
    before = client.get(ME, headers=alice.headers).json()
    response = client.patch(ME, json={}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == before


def test_patch_me_accepts_display_name_of_100_chars(client: TestClient, alice: Account) -> None:
    response = client.patch(ME, json={"display_name": "d" * 100}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "d" * 100


def test_patch_me_leaves_other_users_alone(client: TestClient, alice: Account, bob: Account) -> None:
    before = client.get(ME, headers=bob.headers).json()
    client.patch(ME, json={"display_name": "Alice", "timezone": "Asia/Tokyo"}, headers=alice.headers)
    assert client.get(ME, headers=bob.headers).json() == before


# --- password change -----------------------------------------------------------------------------


def test_password_change_needs_a_bearer_token(client: TestClient) -> None:
    response = client.post(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert_unauthorized(response)


def test_password_change_with_wrong_current_password_is_401_and_changes_nothing(
    client: TestClient, alice: Account
) -> None:
    response = change_password(client, alice, current="not the password")
    assert_unauthorized(response)
    assert me(client, alice.tokens["access_token"]).status_code == 200
    assert refresh(client, alice.tokens["refresh_token"]).status_code == 200
    assert try_login(client, alice.user["email"], PASSWORD).status_code == 200
    assert_unauthorized(try_login(client, alice.user["email"], NEW_PASSWORD))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"current_password": PASSWORD, "new_password": "x" * 7}, "new_password", id="new-7-chars"),
        pytest.param({"current_password": PASSWORD, "new_password": "x" * 129}, "new_password", id="new-129-chars"),
        pytest.param({"current_password": PASSWORD, "new_password": 12345678}, "new_password", id="new-a-number"),
        pytest.param({"current_password": PASSWORD, "new_password": "abc\x00defgh"}, "new_password", id="new-nul"),
        pytest.param({"current_password": PASSWORD}, "new_password", id="new-missing"),
        pytest.param({"new_password": NEW_PASSWORD}, "current_password", id="current-missing"),
        pytest.param({"current_password": 1, "new_password": NEW_PASSWORD}, "current_password", id="current-number"),
        pytest.param(
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "logout": True}, "logout", id="unknown-field"
        ),
    ],
)
def test_password_change_rejects_invalid_body_with_422(
    client: TestClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    assert_problem(client.post(PASSWORD_URL, json=body, headers=alice.headers), 422, field)
    assert try_login(client, alice.user["email"], PASSWORD).status_code == 200


def test_password_change_is_204(client: TestClient, alice: Account) -> None:
    response = change_password(client, alice)
    assert response.status_code == 204, response.text
    assert response.content == b""


def test_password_change_ends_every_earlier_access_and_refresh_token(client: TestClient, alice: Account) -> None:
    other_login = login(client, alice.user["email"])
    rotated = refresh(client, other_login["refresh_token"]).json()
    assert change_password(client, alice).status_code == 204
    for tokens in (alice.tokens, other_login, rotated):
        assert_unauthorized(me(client, tokens["access_token"]))
    for tokens in (alice.tokens, rotated):
        assert_unauthorized(refresh(client, tokens["refresh_token"]))


def test_password_change_new_password_logs_in_and_old_one_does_not(client: TestClient, alice: Account) -> None:
    assert change_password(client, alice).status_code == 204
    assert_unauthorized(try_login(client, alice.user["email"], PASSWORD))
    response = try_login(client, alice.user["email"], NEW_PASSWORD)
    assert response.status_code == 200, response.text
    fresh = response.json()
    assert me(client, fresh["access_token"]).json()["id"] == alice.user["id"]
    assert refresh(client, fresh["refresh_token"]).status_code == 200


def test_password_change_accepts_128_chars(client: TestClient, alice: Account) -> None:
    assert change_password(client, alice, new="n" * 128).status_code == 204
    assert try_login(client, alice.user["email"], "n" * 128).status_code == 200


def test_password_change_leaves_other_users_tokens_alone(client: TestClient, alice: Account, bob: Account) -> None:
    assert change_password(client, alice).status_code == 204
    assert me(client, bob.tokens["access_token"]).status_code == 200
    assert refresh(client, bob.tokens["refresh_token"]).status_code == 200


# --- account deletion ----------------------------------------------------------------------------


def test_delete_account_needs_a_bearer_token(client: TestClient) -> None:
    assert_unauthorized(client.post(DELETE_URL, json={"password": PASSWORD}))


def test_delete_account_with_wrong_password_is_401_and_deletes_nothing(
    client: TestClient, connection: Connection, alice: Account
) -> None:
    episode = add_episode(client, alice)
    assert_unauthorized(client.post(DELETE_URL, json={"password": "not the password"}, headers=alice.headers))
    assert me(client, alice.tokens["access_token"]).status_code == 200
    assert client.get(f"/api/v1/episodes/{episode['id']}", headers=alice.headers).status_code == 200
    assert try_login(client, alice.user["email"]).status_code == 200
    assert refresh(client, alice.tokens["refresh_token"]).status_code == 200
    assert count(connection, User, alice.user["id"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing"),
        pytest.param({"password": 12345678}, id="a-number"),
        pytest.param({"password": None}, id="null"),
        pytest.param({"password": PASSWORD, "confirm": True}, id="unknown-field"),
    ],
)
def test_delete_account_rejects_invalid_body_with_422(client: TestClient, alice: Account, body: dict[str, Any]) -> None:
    assert_problem(client.post(DELETE_URL, json=body, headers=alice.headers), 422)
    assert me(client, alice.tokens["access_token"]).status_code == 200


def test_delete_account_is_204_and_ends_its_tokens_and_login(client: TestClient, alice: Account) -> None:
    other_login = login(client, alice.user["email"])
    response = client.post(DELETE_URL, json={"password": PASSWORD}, headers=alice.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    for tokens in (alice.tokens, other_login):
        assert_unauthorized(me(client, tokens["access_token"]))
        assert_unauthorized(refresh(client, tokens["refresh_token"]))
    assert_unauthorized(try_login(client, alice.user["email"]))


def test_delete_account_erases_its_data(client: TestClient, connection: Connection, alice: Account) -> None:
    add_episode(client, alice)
    add_episode(client, alice)
    assert count(connection, Episode, alice.user["id"]) == 2
    assert client.post(DELETE_URL, json={"password": PASSWORD}, headers=alice.headers).status_code == 204
    assert count(connection, Episode, alice.user["id"]) == 0
    assert count(connection, RefreshToken, alice.user["id"]) == 0
    assert count(connection, User, alice.user["id"]) == 0


def test_delete_account_leaves_other_users_data_alone(client: TestClient, alice: Account, bob: Account) -> None:
    episode = add_episode(client, bob)
    assert client.post(DELETE_URL, json={"password": PASSWORD}, headers=alice.headers).status_code == 204
    assert client.get(f"/api/v1/episodes/{episode['id']}", headers=bob.headers).status_code == 200
    assert me(client, bob.tokens["access_token"]).status_code == 200


def test_delete_account_frees_the_email_for_a_new_account(client: TestClient, alice: Account) -> None:
    add_episode(client, alice)
    assert client.post(DELETE_URL, json={"password": PASSWORD}, headers=alice.headers).status_code == 204
    response = client.post(REGISTER, json={"email": alice.user["email"], "password": NEW_PASSWORD})
    assert response.status_code == 201, response.text
    assert response.json()["id"] != alice.user["id"]
    fresh = Account(user=response.json(), tokens=login(client, alice.user["email"], NEW_PASSWORD))
    assert client.get("/api/v1/episodes", headers=fresh.headers).json()["items"] == []
    assert_unauthorized(me(client, alice.tokens["access_token"]))


def test_delete_account_of_a_therapist(client: TestClient) -> None:
    therapist = new_account(client, role="therapist")
    response = client.post(DELETE_URL, json={"password": PASSWORD}, headers=therapist.headers)
    assert response.status_code == 204, response.text
    assert_unauthorized(try_login(client, therapist.user["email"]))
    register(client, email=therapist.user["email"])
