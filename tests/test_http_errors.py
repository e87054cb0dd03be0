"""Every error is an RFC 9457 problem document; body limits hold with or without Content-Length."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

LIMIT = 1024 * 1024
PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_a_wrong_method_is_a_405_problem_naming_every_allowed_method(client: TestClient, alice: Account) -> None:
    response = client.put("/api/v1/episodes", headers=alice.headers)
    assert_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_malformed_json_is_400(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/v1/episodes", content=b'{"leg": ', headers={**alice.headers, "content-type": "application/json"}
    )
    assert_problem(response, 400)


def test_an_array_body_is_422(client: TestClient, alice: Account) -> None:
    assert_problem(client.post("/api/v1/episodes", json=[1, 2], headers=alice.headers), 422)


def test_a_body_over_1_mib_with_content_length_is_413(client: TestClient, alice: Account) -> None:
    body = b'{"notes": "' + b"x" * LIMIT + b'"}'
    response = client.post(
        "/api/v1/episodes", content=body, headers={**alice.headers, "content-type": "application/json"}
    )
    assert_problem(response, 413)


def test_a_chunked_body_over_1_mib_without_content_length_is_413(client: TestClient, alice: Account) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"notes": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    response = client.post(
        "/api/v1/episodes", content=chunks(), headers={**alice.headers, "content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


def test_a_body_of_exactly_1_mib_is_read_and_judged_on_its_content(client: TestClient, alice: Account) -> None:
    prefix, suffix = b'{"notes": "', b'"}'
    body = prefix + b"x" * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body) == LIMIT
    response = client.post(
        "/api/v1/episodes", content=body, headers={**alice.headers, "content-type": "application/json"}
    )
    assert_problem(response, 422)


@pytest.mark.parametrize("body", [b"{not json", b'{"leg": "nowhere"}', b"[]"])
def test_without_a_token_an_invalid_body_still_answers_401(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/release-sessions", content=body, headers={"content-type": "application/json"})
    if body == b"{not json":
        # Malformed JSON is refused before anything else reads the request.
        assert_problem(response, 400)
        return
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_nul_character_anywhere_in_a_string_is_422(client: TestClient, alice: Account) -> None:
    body = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7, "notes": "before\u0000after"}
    problem = assert_problem(client.post("/api/v1/episodes", json=body, headers=alice.headers), 422)
    assert problem["errors"] == [{"field": "notes", "message": "must not contain NUL characters"}]
