"""Contract §1: every error is an RFC 9457 problem document, the body size limit holds with and without
a Content-Length, NUL characters are refused, and a request without a valid token is 401 whatever
else is wrong with it."""

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import app as default_app
from tests.conftest import Account

PROBLEM_JSON = "application/problem+json"
MIB = 1024 * 1024
JSON = {"content-type": "application/json"}
EPISODE = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7}

# Contract §1: everything but these needs a bearer token.
PUBLIC_OPERATIONS = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}
PATH_VALUES = {"date": "2026-03-04", "kind": "episodes"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str), body
        assert body[member], body
    return body


def field_errors(body: dict[str, Any]) -> dict[str, str]:
    errors = body.get("errors")
    assert isinstance(errors, list), body
    assert errors, body
    for error in errors:
        assert set(error) == {"field", "message"}, error
        assert isinstance(error["field"], str), error
        assert isinstance(error["message"], str), error
    return {error["field"]: error["message"] for error in errors}


def authenticated_operations() -> list[tuple[str, str]]:
    """Every (method, path) the app serves, minus the public ones and the documentation."""
    operations = []
    for path, methods in default_app.openapi()["paths"].items():
        for method in methods:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"} and (method.upper(), path) not in (
                PUBLIC_OPERATIONS
            ):
                operations.append((method.upper(), path))
    return sorted(operations)


AUTHENTICATED = authenticated_operations()


def concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.endswith("_id") or name == "id":
            return str(uuid.uuid4())
        assert name in PATH_VALUES, f"add a valid value for the path parameter {name!r}"
        return PATH_VALUES[name]

    return re.sub(r"\{([^}]+)\}", value, path)


# --- routing errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/nothing-here", "/api/v2/episodes", "/api/v1/episodes/a/b/c"]
)
def test_an_unknown_route_is_a_404_problem(client: TestClient, path: str) -> None:
    assert_problem(client.get(path), 404)


def test_an_unknown_route_is_404_with_a_token_too(client: TestClient, alice: Account) -> None:
    assert_problem(client.post("/api/v1/nothing-here", json={}, headers=alice.headers), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/episodes", {"GET", "POST"}),
        ("DELETE", "/api/v1/episodes", {"GET", "POST"}),
        ("POST", "/api/v1/episodes/00000000-0000-4000-8000-000000000000", {"GET", "PATCH", "DELETE"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_a_wrong_method_is_a_405_problem_with_allow(
    client: TestClient, alice: Account, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path, headers=alice.headers)
    assert_problem(response, 405)
    assert {m.strip() for m in response.headers["allow"].split(",")} >= allowed


# --- body errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"leg": ', b"{not json}", b'{"severity": 7,}', b"\xff\xfe", b'{"a": "\x00"}'])
def test_malformed_json_is_a_400_problem(client: TestClient, alice: Account, body: bytes) -> None:
    assert_problem(client.post("/api/v1/episodes", content=body, headers={**alice.headers, **JSON}), 400)


@pytest.mark.parametrize("body", [[], [EPISODE], "a string", 7, None])
def test_json_that_is_not_an_object_is_422(client: TestClient, alice: Account, body: Any) -> None:
    response = client.post("/api/v1/episodes", json=body, headers=alice.headers)
    assert_problem(response, 422)


def test_an_unknown_field_is_422_and_named(client: TestClient, alice: Account) -> None:
    response = client.post("/api/v1/episodes", json={**EPISODE, "mood": "grumpy"}, headers=alice.headers)
    assert "mood" in field_errors(assert_problem(response, 422))


def test_an_unknown_field_in_a_patch_is_422_and_named(client: TestClient, alice: Account) -> None:
    created = client.post("/api/v1/episodes", json=EPISODE, headers=alice.headers)
    assert created.status_code == 201, created.text
    response = client.patch(f"/api/v1/episodes/{created.json()['id']}", json={"sevrity": 3}, headers=alice.headers)
    assert "sevrity" in field_errors(assert_problem(response, 422))


def test_an_invalid_list_item_is_named_by_its_index(client: TestClient, alice: Account) -> None:
    body = {**EPISODE, "relief": ["stretching", "massage", "levitation"]}
    errors = field_errors(assert_problem(client.post("/api/v1/episodes", json=body, headers=alice.headers), 422))
    assert "relief[2]" in errors, errors


def test_every_invalid_field_is_reported(client: TestClient, alice: Account) -> None:
    body = {"started_at": "2026-03-04T03:12:00", "leg": "middle", "severity": "7", "relief": ["heat", 5]}
    errors = field_errors(assert_problem(client.post("/api/v1/episodes", json=body, headers=alice.headers), 422))
    assert {"started_at", "leg", "severity", "relief[1]"} <= errors.keys(), errors


def test_a_missing_required_field_is_named(client: TestClient, alice: Account) -> None:
    body = {"started_at": EPISODE["started_at"], "leg": "left"}
    errors = field_errors(assert_problem(client.post("/api/v1/episodes", json=body, headers=alice.headers), 422))
    assert "severity" in errors, errors


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/episodes", {"limit": "0"}, "limit"),
        ("/api/v1/episodes", {"limit": "201"}, "limit"),
        ("/api/v1/episodes", {"from": "yesterday"}, "from"),
        ("/api/v1/episodes/not-a-uuid", {}, "episode_id"),
        ("/api/v1/checkins/2026-02-30", {}, "date"),
    ],
)
def test_invalid_query_and_path_parameters_are_422_and_named(
    client: TestClient, alice: Account, path: str, params: dict[str, str], field: str
) -> None:
    response = client.get(path, params=params, headers=alice.headers)
    assert field in field_errors(assert_problem(response, 422))


# --- body size -----------------------------------------------------------------------------------


def json_body_of(size: int) -> bytes:
    """A JSON object of exactly `size` bytes whose `notes` is far too long for the schema."""
    prefix, suffix = b'{"notes": "', b'"}'
    body = prefix + b"x" * (size - len(prefix) - len(suffix)) + suffix
    assert len(body) == size
    return body


def in_chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("size", [MIB + 1, 2 * MIB])
def test_a_body_over_1_mib_with_content_length_is_413(client: TestClient, alice: Account, size: int) -> None:
    response = client.post("/api/v1/episodes", content=json_body_of(size), headers={**alice.headers, **JSON})
    assert response.request.headers["content-length"] == str(size)
    assert_problem(response, 413)


@pytest.mark.parametrize("size", [MIB + 1, 3 * MIB])
def test_a_chunked_body_over_1_mib_without_content_length_is_413(client: TestClient, alice: Account, size: int) -> None:
    response = client.post("/api/v1/episodes", content=in_chunks(json_body_of(size)), headers={**alice.headers, **JSON})
    assert "content-length" not in response.request.headers
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_problem(response, 413)


def test_a_body_over_1_mib_is_413_on_a_public_route_too(client: TestClient) -> None:
    response = client.post("/api/v1/auth/register", content=in_chunks(json_body_of(MIB + 1)), headers=JSON)
    assert_problem(response, 413)


def test_a_lying_content_length_does_not_let_a_large_body_through(client: TestClient, alice: Account) -> None:
    # The declared length is small, the chunked body is not: the body itself is counted.
    response = client.post(
        "/api/v1/episodes",
        content=in_chunks(json_body_of(MIB + 1)),
        headers={**alice.headers, **JSON, "content-length": "10"},
    )
    assert response.status_code in {400, 413}, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


def test_a_body_of_exactly_1_mib_with_content_length_is_judged_on_its_content(
    client: TestClient, alice: Account
) -> None:
    response = client.post("/api/v1/episodes", content=json_body_of(MIB), headers={**alice.headers, **JSON})
    assert response.request.headers["content-length"] == str(MIB)
    errors = field_errors(assert_problem(response, 422))
    assert "notes" in errors, errors


def test_a_chunked_body_of_exactly_1_mib_is_judged_on_its_content(client: TestClient, alice: Account) -> None:
    response = client.post("/api/v1/episodes", content=in_chunks(json_body_of(MIB)), headers={**alice.headers, **JSON})
    assert "content-length" not in response.request.headers
    errors = field_errors(assert_problem(response, 422))
    assert "notes" in errors, errors


def test_a_chunked_valid_body_is_accepted(client: TestClient, alice: Account) -> None:
    body = httpx.Request("POST", "/", json={**EPISODE, "notes": "n" * 1500}).content
    response = client.post("/api/v1/episodes", content=in_chunks(body, 100), headers={**alice.headers, **JSON})
    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert response.json()["notes"] == "n" * 1500


def test_a_chunked_body_of_exactly_1_mib_of_malformed_json_is_400(client: TestClient, alice: Account) -> None:
    body = b"{" + b" " * (MIB - 1)
    response = client.post("/api/v1/episodes", content=in_chunks(body), headers={**alice.headers, **JSON})
    assert_problem(response, 400)


# --- NUL characters ------------------------------------------------------------------------------


def test_a_nul_in_an_episode_note_is_422(client: TestClient, alice: Account) -> None:
    body = {**EPISODE, "notes": "woke up\u0000twice"}
    errors = field_errors(assert_problem(client.post("/api/v1/episodes", json=body, headers=alice.headers), 422))
    assert "notes" in errors, errors


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/api/v1/users/me", {"display_name": "Al\u0000ice"}, "display_name"),
        ("POST", "/api/v1/factors", {"key": "coffee", "label": "Cof\u0000fee", "category": "other"}, "label"),
        ("PUT", "/api/v1/checkins/2026-03-04", {"factors": [], "notes": "\u0000"}, "notes"),
        (
            "POST",
            "/api/v1/release-sessions",
            {
                "performed_at": "2026-03-04T20:00:00+01:00",
                "duration_minutes": 5,
                "technique": "hands",
                "areas": ["left_calf"],
                "notes": "a\u0000",
            },
            "notes",
        ),
        ("POST", "/api/v1/exposures", {"factor": "statin", "start_date": "2026-03-01", "notes": "\u0000x"}, "notes"),
        (
            "POST",
            "/api/v1/users/me/password",
            {"current_password": "correct horse battery", "new_password": "new\u0000password"},
            "new_password",
        ),
    ],
)
def test_a_nul_in_any_string_field_is_422(
    client: TestClient, alice: Account, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = client.request(method, path, json=body, headers=alice.headers)
    errors = field_errors(assert_problem(response, 422))
    assert field in errors, errors


def test_a_nul_in_a_patched_note_is_422_and_changes_nothing(client: TestClient, alice: Account) -> None:
    created = client.post("/api/v1/episodes", json={**EPISODE, "notes": "before"}, headers=alice.headers)
    assert created.status_code == 201, created.text
    url = f"/api/v1/episodes/{created.json()['id']}"
    assert_problem(client.patch(url, json={"notes": "after\u0000"}, headers=alice.headers), 422)
    assert client.get(url, headers=alice.headers).json()["notes"] == "before"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/register", {"email": "nul@example.org", "password": "long enough\u0000"}),
        ("/api/v1/auth/register", {"email": "nul2@example.org", "password": "long enough", "display_name": "\u0000"}),
        ("/api/v1/auth/refresh", {"refresh_token": "abc\u0000def"}),
    ],
)
def test_a_nul_in_a_public_body_is_422(client: TestClient, path: str, body: dict[str, Any]) -> None:
    assert_problem(client.post(path, json=body), 422)


def test_a_nul_in_a_query_or_path_parameter_is_422(client: TestClient, alice: Account) -> None:
    assert_problem(client.get("/api/v1/episodes", params={"cursor": "\u0000"}, headers=alice.headers), 422)
    assert_problem(client.get("/api/v1/checkins/2026-03-04%00", headers=alice.headers), 422)


# --- authentication comes first ------------------------------------------------------------------


def test_the_route_list_covers_the_api() -> None:
    assert ("POST", "/api/v1/episodes") in AUTHENTICATED
    assert ("GET", "/api/v1/users/me") in AUTHENTICATED
    assert len(AUTHENTICATED) >= 30


INVALID_BODIES: list[Any] = [{"bogus": "\u0000", "severity": "seven", "started_at": "yesterday"}, [], "text", {}]
BAD_AUTHORIZATIONS = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
]


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED, ids=[f"{m} {p}" for m, p in AUTHENTICATED])
def test_without_a_valid_token_every_authenticated_route_is_401_even_with_an_invalid_request(
    client: TestClient, method: str, path: str
) -> None:
    url = concrete(path)
    for authorization in BAD_AUTHORIZATIONS:
        for body in INVALID_BODIES:
            # Invalid query parameters too: none of them may be judged before the token.
            response = client.request(
                method, url, json=body, params={"limit": "0", "from": "x", "cursor": "\u0000"}, headers=authorization
            )
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer"), (authorization, body)


WITH_PATH_PARAMETERS = [(method, path) for method, path in AUTHENTICATED if "{" in path]


@pytest.mark.parametrize(("method", "path"), WITH_PATH_PARAMETERS, ids=[f"{m} {p}" for m, p in WITH_PATH_PARAMETERS])
def test_without_a_token_an_invalid_path_parameter_is_401_or_422_never_500(
    client: TestClient, method: str, path: str
) -> None:
    url = re.sub(r"\{[^}]+\}", "not-valid", path)
    response = client.request(method, url, json={})
    assert response.status_code in {401, 422}, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


def test_without_a_token_malformed_json_is_400_or_401_never_422(client: TestClient) -> None:
    # Contract §1 makes malformed JSON a 400 and a missing token a 401; either may come first.
    for path in ["/api/v1/episodes", "/api/v1/users/me/password", "/api/v1/auth/logout"]:
        response = client.post(path, content=b"{nope", headers=JSON)
        assert response.status_code in {400, 401}, response.text
        assert response.headers["content-type"] == PROBLEM_JSON


def test_a_token_of_a_deleted_account_is_401_even_with_an_invalid_body(client: TestClient, alice: Account) -> None:
    deleted = client.post("/api/v1/users/me/delete", json={"password": alice.user["password"]}, headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    response = client.post("/api/v1/episodes", json={"bogus": True}, headers=alice.headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_tampered_token_is_401(client: TestClient, alice: Account) -> None:
    token = alice.tokens["access_token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tampered}"})
    assert_problem(response, 401)
