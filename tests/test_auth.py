"""Accounts and tokens (contract §1 auth, §3): register, token, refresh, logout, bearer tokens, secrets.

Unhappy paths come first in each section. tests/test_users.py imports the helpers defined here.
"""

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from jose import jwt
from pydantic import ValidationError

from app.auth import service as auth_service
from app.core import security
from app.core.config import ConfigurationError, Settings
from app.core.security import create_access_token
from app.main import create_app
from tests.conftest import PASSWORD, Account, login, new_account, register, test_settings

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"
PROBLEM_JSON = "application/problem+json"
USER_FIELDS = {"id", "email", "display_name", "role", "timezone", "created_at"}
PUBLIC_PATHS = {REGISTER, TOKEN, REFRESH}

# --- helpers (imported by test_users.py) ---------------------------------------------------------


def assert_problem(response: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem document with this status; with `field`, that field is among the errors."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        fields = [error["field"] for error in body["errors"]]
        assert field in fields, fields
    return body


def assert_unauthorized(response: Response) -> dict[str, Any]:
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    return body


def assert_user_shape(user: dict[str, Any]) -> None:
    assert user.keys() >= USER_FIELDS
    assert not [key for key in user if "password" in key or "hash" in key or "token" in key], user
    uuid.UUID(user["id"])
    assert user["created_at"].endswith("Z")
    assert datetime.fromisoformat(user["created_at"]).utcoffset() == timedelta(0)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.org"


def registration(**overrides: Any) -> dict[str, Any]:
    body = {"email": email(), "password": PASSWORD}
    body.update(overrides)
    return body


def try_login(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    response: Response = client.post(TOKEN, data={"username": username, "password": password})
    return response


def refresh(client: TestClient, refresh_token: str) -> Response:
    response: Response = client.post(REFRESH, json={"refresh_token": refresh_token})
    return response


def me(client: TestClient, token: str) -> Response:
    response: Response = client.get(ME, headers=bearer(token))
    return response


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def signing_key(client: TestClient) -> str:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings.signing_key()


def forge(
    client: TestClient, account: Account, key: str | None = None, drop: tuple[str, ...] = (), **claims: Any
) -> str:
    """The account's own access token with claims changed or dropped, signed with the app's key
    (or `key`)."""
    original = jwt.get_unverified_claims(account.tokens["access_token"])
    changed = {name: value for name, value in {**original, **claims}.items() if name not in drop}
    return jwt.encode(changed, key or signing_key(client), algorithm="HS256")


class Clock:
    """Stands in for the login service's clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(datetime.now(UTC))
    monkeypatch.setattr(auth_service, "utcnow", fake)
    return fake


# --- register ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"password": "x" * 7}, "password", id="password-7-chars"),
        pytest.param({"password": "x" * 129}, "password", id="password-129-chars"),
        pytest.param({"password": 12345678}, "password", id="password-a-number"),
        pytest.param({"password": "abc\x00defgh"}, "password", id="password-with-nul"),
        pytest.param({"password": None}, "password", id="password-null"),
        pytest.param({"display_name": "x" * 101}, "display_name", id="display-name-101-chars"),
        pytest.param({"display_name": "Al\x00ice"}, "display_name", id="display-name-with-nul"),
        pytest.param({"display_name": 5}, "display_name", id="display-name-a-number"),
        pytest.param({"role": "admin"}, "role", id="role-unknown"),
        pytest.param({"role": 1}, "role", id="role-a-number"),
        pytest.param({"role": None}, "role", id="role-null"),
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "timezone", id="timezone-unknown"),
        pytest.param({"timezone": "Europe/Berlin\x00"}, "timezone", id="timezone-with-nul"),
        pytest.param({"timezone": 1}, "timezone", id="timezone-a-number"),
        pytest.param({"email": "not-an-email"}, "email", id="email-without-at"),
        pytest.param({"email": "two words@example.org"}, "email", id="email-with-space"),
        pytest.param({"email": "a@b@example.org"}, "email", id="email-with-two-ats"),
        pytest.param({"email": ""}, "email", id="email-empty"),
        pytest.param({"email": "nul\x00@example.org"}, "email", id="email-with-nul"),
        pytest.param({"email": 42}, "email", id="email-a-number"),
        pytest.param({"is_admin": True}, "is_admin", id="unknown-field"),
    ],
)
def test_register_rejects_invalid_field_with_422_naming_it(
    client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    response = client.post(REGISTER, json=registration(**overrides))
    assert_problem(response, 422, field)


@pytest.mark.parametrize("missing", ["email", "password"])
def test_register_requires_email_and_password(client: TestClient, missing: str) -> None:
    body = registration()
    del body[missing]
    assert_problem(client.post(REGISTER, json=body), 422, missing)


def test_register_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(REGISTER, content=b'{"email": "a@b.org", ', headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


@pytest.mark.parametrize("body", [[], "text", 7, None], ids=["list", "string", "number", "null"])
def test_register_body_that_is_not_an_object_is_422(client: TestClient, body: Any) -> None:
    assert_problem(client.post(REGISTER, json=body), 422)


def test_register_duplicate_email_is_409(client: TestClient) -> None:
    body = registration()
    assert client.post(REGISTER, json=body).status_code == 201
    assert_problem(client.post(REGISTER, json={**body, "password": "another password"}), 409)


def test_register_duplicate_email_in_other_capitalisation_is_409(client: TestClient) -> None:
    address = f"Mixed.Case-{uuid.uuid4().hex[:8]}@Example.org"
    assert client.post(REGISTER, json=registration(email=address)).status_code == 201
    assert_problem(client.post(REGISTER, json=registration(email=address.upper())), 409)
    assert_problem(client.post(REGISTER, json=registration(email=address.lower())), 409)


@pytest.mark.parametrize("length", [8, 128])
def test_register_accepts_passwords_at_the_length_limits(client: TestClient, length: int) -> None:
    body = registration(password="p" * length)
    assert client.post(REGISTER, json=body).status_code == 201
    assert try_login(client, body["email"], body["password"]).status_code == 200


def test_register_accepts_display_name_of_100_chars(client: TestClient) -> None:
    response = client.post(REGISTER, json=registration(display_name="d" * 100))
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == "d" * 100


def test_register_returns_201_and_the_user(client: TestClient) -> None:
    body = registration(display_name="Alice", role="therapist", timezone="Europe/Berlin")
    response = client.post(REGISTER, json=body)
    assert response.status_code == 201, response.text
    user = response.json()
    assert_user_shape(user)
    assert user["email"] == body["email"]
    assert (user["display_name"], user["role"], user["timezone"]) == ("Alice", "therapist", "Europe/Berlin")
    assert abs(datetime.fromisoformat(user["created_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert PASSWORD not in response.text


def test_register_defaults_role_client_timezone_utc_and_no_display_name(client: TestClient) -> None:
    response = client.post(REGISTER, json=registration())
    assert response.status_code == 201, response.text
    user = response.json()
    assert (user["role"], user["timezone"], user["display_name"]) == ("client", "UTC", None)


def test_register_needs_no_token(client: TestClient) -> None:
    response = client.post(REGISTER, json=registration(), headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 201, response.text


# --- token ---------------------------------------------------------------------------------------


def test_token_wrong_password_and_unknown_email_give_the_same_401(client: TestClient) -> None:
    user = register(client)
    wrong_password = try_login(client, user["email"], "not the password")
    unknown_email = try_login(client, email(), PASSWORD)
    assert_unauthorized(wrong_password)
    assert_unauthorized(unknown_email)
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.headers["www-authenticate"] == unknown_email.headers["www-authenticate"]
    assert wrong_password.headers["content-type"] == unknown_email.headers["content-type"]


@pytest.mark.parametrize("missing", ["username", "password"])
def test_token_requires_username_and_password(client: TestClient, missing: str) -> None:
    form = {"username": email(), "password": PASSWORD}
    del form[missing]
    assert_problem(client.post(TOKEN, data=form), 422, missing)


def test_token_wants_a_form_not_json(client: TestClient) -> None:
    user = register(client)
    response = client.post(TOKEN, json={"username": user["email"], "password": PASSWORD})
    assert_problem(response, 422)


def test_token_returns_an_access_and_a_refresh_token(client: TestClient) -> None:
    user = register(client)
    response = try_login(client, user["email"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens.keys() >= {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert isinstance(tokens["expires_in"], int)
    assert tokens["expires_in"] > 0
    assert tokens["refresh_token"] != tokens["access_token"]
    assert len(tokens["refresh_token"]) >= 32
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"
    claims = jwt.get_unverified_claims(tokens["access_token"])
    assert claims["exp"] - claims["iat"] == tokens["expires_in"]
    assert me(client, tokens["access_token"]).json()["id"] == user["id"]


def test_token_matches_the_email_case_insensitively(client: TestClient) -> None:
    address = f"Case-{uuid.uuid4().hex[:8]}@Example.org"
    user = register(client, email=address)
    for typed in (address, address.lower(), address.upper()):
        response = try_login(client, typed)
        assert response.status_code == 200, response.text
        assert me(client, response.json()["access_token"]).json()["id"] == user["id"]


def test_every_login_issues_different_tokens(client: TestClient) -> None:
    user = register(client)
    first, second = login(client, user["email"]), login(client, user["email"])
    assert first["access_token"] != second["access_token"]
    assert first["refresh_token"] != second["refresh_token"]


# --- login throttling ----------------------------------------------------------------------------


def fail_logins(client: TestClient, username: str, times: int) -> None:
    for _ in range(times):
        assert_unauthorized(try_login(client, username, "not the password"))


def assert_throttled(response: Response) -> int:
    assert_problem(response, 429)
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) > 0
    return int(retry_after)


def test_throttle_settings_are_10_failures_in_15_minutes(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    assert (settings.login_max_failures, settings.login_window_minutes) == (10, 15)
    fields = Settings.model_fields
    assert (fields["login_max_failures"].default, fields["login_window_minutes"].default) == (10, 15)


def test_throttle_eleventh_attempt_after_10_failures_is_429_even_with_the_right_password(client: TestClient) -> None:
    user = register(client)
    fail_logins(client, user["email"], 10)
    retry_after = assert_throttled(try_login(client, user["email"], PASSWORD))
    assert retry_after <= 15 * 60 + 1
    assert_throttled(try_login(client, user["email"], "not the password"))


def test_throttle_counts_failures_in_any_capitalisation_together(client: TestClient) -> None:
    user = register(client)
    fail_logins(client, user["email"].upper(), 5)
    fail_logins(client, user["email"], 5)
    assert_throttled(try_login(client, user["email"].title()))


def test_throttle_applies_to_unknown_emails_too(client: TestClient) -> None:
    unknown = email()
    fail_logins(client, unknown, 10)
    assert_throttled(try_login(client, unknown))


def test_throttle_does_not_affect_another_email(client: TestClient) -> None:
    victim, other = register(client), register(client)
    fail_logins(client, victim["email"], 10)
    assert_throttled(try_login(client, victim["email"]))
    assert_unauthorized(try_login(client, other["email"], "not the password"))
    assert try_login(client, other["email"]).status_code == 200


def test_throttle_nine_failures_still_allow_a_login(client: TestClient) -> None:
    user = register(client)
    fail_logins(client, user["email"], 9)
    assert try_login(client, user["email"]).status_code == 200


def test_throttle_a_success_before_10_failures_resets_the_count(client: TestClient) -> None:
    user = register(client)
    fail_logins(client, user["email"], 9)
    assert try_login(client, user["email"]).status_code == 200
    fail_logins(client, user["email"], 9)
    assert try_login(client, user["email"]).status_code == 200


def test_throttle_does_not_reset_without_a_success(client: TestClient) -> None:
    user = register(client)
    fail_logins(client, user["email"], 9)
    fail_logins(client, user["email"], 1)  # the 10th failure is still an ordinary 401
    assert_throttled(try_login(client, user["email"]))


def test_throttle_forgets_failures_older_than_the_window(client: TestClient, clock: Clock) -> None:
    user = register(client)
    fail_logins(client, user["email"], 10)
    clock.advance(minutes=14, seconds=59)
    assert_throttled(try_login(client, user["email"]))
    clock.advance(seconds=2)
    assert try_login(client, user["email"]).status_code == 200


def test_throttle_retry_after_is_when_the_oldest_failure_leaves_the_window(client: TestClient, clock: Clock) -> None:
    user = register(client)
    fail_logins(client, user["email"], 1)
    clock.advance(minutes=5)
    fail_logins(client, user["email"], 9)
    clock.advance(minutes=1)
    retry_after = assert_throttled(try_login(client, user["email"]))
    assert 9 * 60 <= retry_after <= 9 * 60 + 1
    clock.advance(seconds=retry_after)
    assert try_login(client, user["email"]).status_code == 200


def test_throttle_is_kept_in_the_database_across_app_instances(committed_db: str) -> None:
    address = email()
    with TestClient(create_app(test_settings(committed_db)), raise_server_exceptions=False) as first:
        register(first, email=address)
        fail_logins(first, address, 10)
    with TestClient(create_app(test_settings(committed_db)), raise_server_exceptions=False) as restarted:
        assert_throttled(try_login(restarted, address))


# --- bearer tokens -------------------------------------------------------------------------------


def authenticated_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document under /api/v1 except the public ones, with path
    parameters filled in."""
    paths = client.get("/openapi.json").json()["paths"]
    routes: list[tuple[str, str]] = []
    for path, operations in paths.items():
        if not path.startswith("/api/v1/") or path in PUBLIC_PATHS:
            continue
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        routes.extend((method.upper(), concrete) for method in operations if method != "parameters")
    return routes


def test_every_api_endpoint_except_register_token_refresh_needs_a_bearer_token(
    client: TestClient, alice: Account
) -> None:
    routes = authenticated_routes(client)
    assert ("GET", ME) in routes
    assert ("POST", LOGOUT) in routes
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert_unauthorized(response)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer", id="bearer-without-token"),
        pytest.param("Bearer ", id="bearer-empty-token"),
        pytest.param("Basic dXNlcjpwYXNzd29yZA==", id="basic-scheme"),
        pytest.param("Token abc", id="other-scheme"),
        pytest.param("Bearer not-a-jwt", id="garbage"),
        pytest.param("Bearer a.b.c", id="three-garbage-segments"),
        pytest.param("Bearer eyJhbGciOiJIUzI1NiJ9..", id="header-only"),
        pytest.param("Bearer " + "x" * 5000, id="very-long"),
        pytest.param("Bearer %%%.%%%.%%%", id="not-base64"),
    ],
)
def test_malformed_authorization_is_401(client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    assert_unauthorized(client.get(ME, headers=headers))


def test_forged_token_helper_makes_valid_tokens(client: TestClient, alice: Account) -> None:
    """Control for the forgery tests below: an unchanged re-signed token is accepted."""
    assert me(client, forge(client, alice)).status_code == 200


def test_token_signed_with_another_key_is_401(client: TestClient, alice: Account) -> None:
    assert_unauthorized(me(client, forge(client, alice, key="another-secret-key-that-is-also-long-enough")))


def test_token_with_a_tampered_payload_is_401(client: TestClient, alice: Account, bob: Account) -> None:
    header, _, signature = alice.tokens["access_token"].split(".")
    claims = jwt.get_unverified_claims(alice.tokens["access_token"])
    tampered = f"{header}.{b64url({**claims, 'sub': bob.user['id']})}.{signature}"
    assert_unauthorized(me(client, tampered))
    longer = f"{header}.{b64url({**claims, 'exp': claims['exp'] + 86400})}.{signature}"
    assert_unauthorized(me(client, longer))


def test_token_with_a_tampered_signature_is_401(client: TestClient, alice: Account) -> None:
    header, payload, signature = alice.tokens["access_token"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_unauthorized(me(client, f"{header}.{payload}.{flipped}"))
    assert_unauthorized(me(client, f"{header}.{payload}."))


def test_expired_token_is_401(client: TestClient, alice: Account) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    past = datetime.now(UTC) - timedelta(minutes=settings.access_token_minutes + 5)
    token, _ = create_access_token(settings, uuid.UUID(alice.user["id"]), 0, past)
    assert_unauthorized(me(client, token))
    fresh, _ = create_access_token(settings, uuid.UUID(alice.user["id"]), 0, datetime.now(UTC))
    assert me(client, fresh).status_code == 200  # the same claims minus the expiry are accepted


def test_a_token_accepted_before_is_refused_once_it_expires(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verified tokens are cached; the cache must not outlive the token."""
    assert me(client, alice.tokens["access_token"]).status_code == 200
    expires = jwt.get_unverified_claims(alice.tokens["access_token"])["exp"]
    monkeypatch.setattr(security.time, "time", lambda: expires + 1)
    assert_unauthorized(me(client, alice.tokens["access_token"]))


def test_token_expired_by_claim_is_401(client: TestClient, alice: Account) -> None:
    now = int(datetime.now(UTC).timestamp())
    assert_unauthorized(me(client, forge(client, alice, iat=now - 3600, exp=now - 60)))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_token_with_alg_none_is_401(client: TestClient, alice: Account, alg: str) -> None:
    claims = jwt.get_unverified_claims(alice.tokens["access_token"])
    unsigned = f"{b64url({'alg': alg, 'typ': 'JWT'})}.{b64url(claims)}."
    assert_unauthorized(me(client, unsigned))


def test_token_with_another_hmac_algorithm_is_401(client: TestClient, alice: Account) -> None:
    claims = jwt.get_unverified_claims(alice.tokens["access_token"])
    assert_unauthorized(me(client, jwt.encode(claims, signing_key(client), algorithm="HS512")))


@pytest.mark.parametrize("claim", ["jti", "exp", "sub"])
def test_token_missing_a_required_claim_is_401(client: TestClient, alice: Account, claim: str) -> None:
    assert_unauthorized(me(client, forge(client, alice, drop=(claim,))))


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "not-a-uuid"}, id="sub-not-uuid"),
        pytest.param({"sub": 12345}, id="sub-a-number"),
        pytest.param({"exp": "tomorrow"}, id="exp-a-string"),
        pytest.param({"ver": "0"}, id="ver-a-string"),
        pytest.param({"ver": 99}, id="ver-from-the-future"),
    ],
)
def test_token_with_malformed_claims_is_401(client: TestClient, alice: Account, claims: dict[str, Any]) -> None:
    assert_unauthorized(me(client, forge(client, alice, **claims)))


@pytest.mark.parametrize(
    ("claims", "drop"),
    [
        pytest.param({"typ": "refresh"}, (), id="typ-refresh"),
        pytest.param({"typ": "Access"}, (), id="typ-other-case"),
        pytest.param({}, ("typ",), id="typ-missing"),
    ],
)
def test_token_whose_typ_is_not_access_is_401(
    client: TestClient, alice: Account, claims: dict[str, Any], drop: tuple[str, ...]
) -> None:
    assert_unauthorized(me(client, forge(client, alice, drop=drop, **claims)))


def test_refresh_token_used_as_bearer_token_is_401(client: TestClient, alice: Account) -> None:
    assert_unauthorized(me(client, alice.tokens["refresh_token"]))


def test_token_for_an_unknown_user_is_401(client: TestClient, alice: Account) -> None:
    assert_unauthorized(me(client, forge(client, alice, sub=str(uuid.uuid4()))))


def test_token_for_a_deleted_user_is_401(client: TestClient) -> None:
    account = new_account(client)
    response = client.post(f"{ME}/delete", json={"password": PASSWORD}, headers=account.headers)
    assert response.status_code == 204, response.text
    assert_unauthorized(me(client, account.tokens["access_token"]))


def test_token_issued_before_a_password_change_is_401(client: TestClient) -> None:
    account = new_account(client)
    body = {"current_password": PASSWORD, "new_password": "a brand new password"}
    assert client.post(f"{ME}/password", json=body, headers=account.headers).status_code == 204
    assert_unauthorized(me(client, account.tokens["access_token"]))


def test_lowercase_bearer_scheme_is_accepted(client: TestClient, alice: Account) -> None:
    response = client.get(ME, headers={"Authorization": f"bearer {alice.tokens['access_token']}"})
    assert response.status_code == 200, response.text


# --- refresh -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing-field"),
        pytest.param({"refresh_token": "x", "extra": 1}, id="extra-field"),
        pytest.param({"refresh_token": 12345}, id="a-number"),
        pytest.param({"refresh_token": None}, id="null"),
        pytest.param({"refresh_token": ["x"]}, id="a-list"),
        pytest.param({"refresh_token": ""}, id="empty"),
        pytest.param({"refresh_token": "ab\x00cd"}, id="with-nul"),
    ],
)
def test_refresh_rejects_an_invalid_body_with_422(client: TestClient, body: dict[str, Any]) -> None:
    assert_problem(client.post(REFRESH, json=body), 422)


def test_refresh_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(REFRESH, content=b'{"refresh_token": ', headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_refresh_unknown_token_is_401(client: TestClient) -> None:
    assert_unauthorized(refresh(client, "this-token-was-never-issued-by-the-server-0123456789"))


def test_refresh_old_token_stops_working_after_rotation(client: TestClient, alice: Account) -> None:
    assert refresh(client, alice.tokens["refresh_token"]).status_code == 200
    assert_unauthorized(refresh(client, alice.tokens["refresh_token"]))


def test_refresh_reuse_of_a_used_token_ends_the_whole_login(client: TestClient, alice: Account) -> None:
    second = refresh(client, alice.tokens["refresh_token"]).json()
    third = refresh(client, second["refresh_token"]).json()
    assert_unauthorized(refresh(client, alice.tokens["refresh_token"]))  # reuse of the first one
    assert_unauthorized(refresh(client, third["refresh_token"]))  # the newest of that login ends too


def test_refresh_reuse_ends_the_login_even_when_the_reused_token_is_the_latest_used(
    client: TestClient, alice: Account
) -> None:
    second = refresh(client, alice.tokens["refresh_token"]).json()
    third = refresh(client, second["refresh_token"]).json()
    assert_unauthorized(refresh(client, second["refresh_token"]))
    assert_unauthorized(refresh(client, third["refresh_token"]))


def test_refresh_reuse_leaves_other_logins_of_the_same_user_alone(client: TestClient, alice: Account) -> None:
    other_login = login(client, alice.user["email"])
    refresh(client, alice.tokens["refresh_token"])
    assert_unauthorized(refresh(client, alice.tokens["refresh_token"]))
    response = refresh(client, other_login["refresh_token"])
    assert response.status_code == 200, response.text


def test_refresh_reuse_leaves_other_users_alone(client: TestClient, alice: Account, bob: Account) -> None:
    refresh(client, alice.tokens["refresh_token"])
    assert_unauthorized(refresh(client, alice.tokens["refresh_token"]))
    assert refresh(client, bob.tokens["refresh_token"]).status_code == 200


def test_refresh_of_an_expired_refresh_token_is_401(client: TestClient, clock: Clock) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    account = new_account(client)
    clock.advance(days=settings.refresh_token_days, seconds=1)
    assert_unauthorized(refresh(client, account.tokens["refresh_token"]))


def test_refresh_returns_a_new_working_pair(client: TestClient, alice: Account) -> None:
    response = refresh(client, alice.tokens["refresh_token"])
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair.keys() >= {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "bearer"
    assert isinstance(pair["expires_in"], int)
    assert pair["expires_in"] > 0
    assert pair["refresh_token"] != alice.tokens["refresh_token"]
    assert pair["access_token"] != alice.tokens["access_token"]
    assert me(client, pair["access_token"]).json()["id"] == alice.user["id"]
    assert refresh(client, pair["refresh_token"]).status_code == 200


def test_refresh_needs_no_access_token(client: TestClient, alice: Account) -> None:
    response = client.post(
        REFRESH, json={"refresh_token": alice.tokens["refresh_token"]}, headers={"Authorization": "Bearer garbage"}
    )
    assert response.status_code == 200, response.text


# --- logout --------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer garbage"])
def test_logout_needs_a_bearer_token(client: TestClient, alice: Account, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post(LOGOUT, json={"refresh_token": alice.tokens["refresh_token"]}, headers=headers)
    assert_unauthorized(response)
    assert refresh(client, alice.tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing-field"),
        pytest.param({"refresh_token": "x", "extra": 1}, id="extra-field"),
        pytest.param({"refresh_token": 12345}, id="a-number"),
    ],
)
def test_logout_rejects_an_invalid_body_with_422(client: TestClient, alice: Account, body: dict[str, Any]) -> None:
    assert_problem(client.post(LOGOUT, json=body, headers=alice.headers), 422)


def test_logout_ends_that_refresh_token(client: TestClient, alice: Account) -> None:
    response = client.post(LOGOUT, json={"refresh_token": alice.tokens["refresh_token"]}, headers=alice.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_unauthorized(refresh(client, alice.tokens["refresh_token"]))


def test_logout_leaves_other_logins_of_the_same_user_alone(client: TestClient, alice: Account) -> None:
    other_login = login(client, alice.user["email"])
    client.post(LOGOUT, json={"refresh_token": alice.tokens["refresh_token"]}, headers=alice.headers)
    assert refresh(client, other_login["refresh_token"]).status_code == 200


def test_logout_of_someone_elses_refresh_token_is_204_and_does_nothing(
    client: TestClient, alice: Account, bob: Account
) -> None:
    response = client.post(LOGOUT, json={"refresh_token": bob.tokens["refresh_token"]}, headers=alice.headers)
    assert response.status_code == 204, response.text
    assert refresh(client, bob.tokens["refresh_token"]).status_code == 200


def test_logout_of_an_unknown_token_is_204(client: TestClient, alice: Account) -> None:
    response = client.post(LOGOUT, json={"refresh_token": "never-issued"}, headers=alice.headers)
    assert response.status_code == 204, response.text


# --- secret key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("k" * 31, id="31-bytes"),
        pytest.param("\u00e9" * 15, id="15-chars-30-bytes"),
    ],
)
def test_production_refuses_to_start_without_a_strong_secret_key(tmp_path: Path, secret_key: str | None) -> None:
    with pytest.raises((ConfigurationError, ValidationError)):
        Settings(app_env="production", secret_key=secret_key, data_dir=tmp_path, _env_file=None)
    assert list(tmp_path.iterdir()) == []  # no key was generated in its place


@pytest.mark.parametrize("secret_key", ["k" * 32, "\u00e9" * 16], ids=["32-ascii", "16-chars-32-bytes"])
def test_production_accepts_a_secret_key_of_32_bytes(tmp_path: Path, secret_key: str) -> None:
    settings = Settings(app_env="production", secret_key=secret_key, data_dir=tmp_path, _env_file=None)
    assert settings.signing_key() == secret_key
    assert list(tmp_path.iterdir()) == []


def test_development_without_secret_key_generates_one_key_file_and_reuses_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(app_env="development", secret_key=None, data_dir=data_dir, _env_file=None)
    key = first.signing_key()
    assert len(key.encode()) >= 32
    files = list(data_dir.iterdir())
    assert len(files) == 1
    assert files[0].read_text().strip() == key
    again = Settings(app_env="development", secret_key=None, data_dir=data_dir, _env_file=None)
    assert again.signing_key() == key
    assert first.signing_key() == key
    assert list(data_dir.iterdir()) == files


def test_development_reuses_the_key_file_after_a_restart(tmp_path: Path) -> None:
    first_run, second_run = tmp_path / "first", tmp_path / "second"
    key = Settings(app_env="development", secret_key=None, data_dir=first_run, _env_file=None).signing_key()
    second_run.mkdir()
    for generated in first_run.iterdir():  # the same data folder, seen by a new process
        (second_run / generated.name).write_bytes(generated.read_bytes())
    restarted = Settings(app_env="development", secret_key=None, data_dir=second_run, _env_file=None)
    assert restarted.signing_key() == key
    assert len(list(second_run.iterdir())) == 1


def test_tokens_signed_with_the_development_key_work(tmp_path: Path, committed_db: str) -> None:
    settings = test_settings(committed_db, secret_key=None, data_dir=tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as dev_client:
        account = new_account(dev_client)
        assert me(dev_client, account.tokens["access_token"]).status_code == 200
    assert len(list(tmp_path.iterdir())) == 1
