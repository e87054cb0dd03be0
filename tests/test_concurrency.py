"""Requests racing each other with real commits, over HTTP against a uvicorn server in this process:
idempotent creates, read-then-write requests (SQLite's single writer), first writes of one-per-user
records, and refresh-token rotation. No race may end in a 500."""

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from app.main import create_app
from tests.conftest import PASSWORD, test_settings

EPISODE = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7, "relief": ["stretching"]}
RELEASE = {
    "performed_at": "2026-03-04T20:00:00+01:00",
    "duration_minutes": 10,
    "technique": "foam_roller",
    "areas": ["left_calf", "right_calf"],
}
EXPOSURE = {"factor": "statin", "start_date": "2026-01-01"}
# (collection path, a create body, the same create with different content)
KINDS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "episodes": ("/api/v1/episodes", EPISODE, {**EPISODE, "severity": 3}),
    "release-sessions": ("/api/v1/release-sessions", RELEASE, {**RELEASE, "duration_minutes": 11}),
    "exposures": ("/api/v1/exposures", EXPOSURE, {**EXPOSURE, "start_date": "2026-01-02"}),
}
TIMEOUT = httpx.Timeout(60.0)


@pytest.fixture
def base_url(committed_db: str) -> Iterator[str]:
    """A real uvicorn server on a loopback port, serving one app on the committed database."""
    config = uvicorn.Config(
        create_app(test_settings(committed_db)), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = threading.Event()
        for _ in range(200):
            if server.started or not thread.is_alive():
                break
            deadline.wait(0.05)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "uvicorn did not stop"


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Runs work(0..count-1) in threads released together by a barrier; returns the results in order
    and re-raises the first exception any thread met."""
    barrier = threading.Barrier(count, timeout=30)
    results: list[Any] = [None] * count
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    if failures:
        raise failures[0]
    return results


def assert_sane(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    assert "locked" not in response.text.lower(), response.text


def sign_up(base_url: str, email: str | None = None) -> dict[str, str]:
    """Registers and logs in a fresh account; returns its Authorization header."""
    email = email or f"race-{uuid.uuid4().hex[:10]}@example.org"
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        registered = http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        tokens = http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def login(base_url: str, email: str) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        tokens = http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    body: dict[str, Any] = tokens.json()
    return body


def post_all(base_url: str, path: str, bodies: list[dict[str, Any]], headers: list[dict[str, str]]) -> list[Any]:
    def create(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            return http.post(path, json=bodies[index], headers=headers[index])

    responses = at_once(len(bodies), create)
    for response in responses:
        assert_sane(response)
    return responses


# --- idempotent creates --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_create_sent_twice_at_once_answers_201_and_200(base_url: str, kind: str) -> None:
    path, body, _ = KINDS[kind]
    headers = sign_up(base_url)
    ids = []
    for _ in range(4):
        record = {**body, "id": str(uuid.uuid4())}
        ids.append(record["id"])
        responses = post_all(base_url, path, [record, record], [headers, headers])
        assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
        first, second = (r.json() for r in responses)
        assert first == second  # the replay returns the stored record, byte for byte the same
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        listed = http.get(path, headers=headers, params={"limit": 200}).json()["items"]
    assert sorted(item["id"] for item in listed) == sorted(ids)


def test_eight_identical_creates_at_once_make_one_record(base_url: str) -> None:
    headers = sign_up(base_url)
    record = {**EPISODE, "id": str(uuid.uuid4())}
    responses = post_all(base_url, "/api/v1/episodes", [record] * 8, [headers] * 8)
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["created_at"] for r in responses}) == 1
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        assert len(http.get("/api/v1/episodes", headers=headers).json()["items"]) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_id_with_different_content_at_once_answers_201_and_409(base_url: str, kind: str) -> None:
    path, body, different = KINDS[kind]
    headers = sign_up(base_url)
    for _ in range(4):
        record_id = str(uuid.uuid4())
        bodies = [{**body, "id": record_id}, {**different, "id": record_id}]
        responses = post_all(base_url, path, bodies, [headers, headers])
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 201).json()
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.headers["content-type"] == "application/problem+json"
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            stored = http.get(f"{path}/{record_id}", headers=headers)
        assert stored.status_code == 200
        assert stored.json() == winner  # the stored record is the winner's, not a mix of the two


def test_the_same_id_from_two_accounts_at_once_answers_201_and_409(base_url: str) -> None:
    alice, bob = sign_up(base_url), sign_up(base_url)
    for _ in range(4):
        record = {**EPISODE, "id": str(uuid.uuid4()), "notes": "private note"}
        responses = post_all(base_url, "/api/v1/episodes", [record, record], [alice, bob])
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert "private note" not in loser.text


# --- read-then-write requests --------------------------------------------------------------------


def test_eight_writers_creating_and_patching_at_once_never_fail(base_url: str) -> None:
    accounts = [sign_up(base_url) for _ in range(4)]
    rounds = 5

    def write(index: int) -> list[tuple[str, int]]:
        headers = accounts[index % len(accounts)]
        done = []
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            for step in range(rounds):
                created = http.post(
                    "/api/v1/episodes", json={**EPISODE, "notes": f"writer {index} step {step}"}, headers=headers
                )
                assert_sane(created)
                assert created.status_code == 201, created.text
                episode_id = created.json()["id"]
                patched = http.patch(
                    f"/api/v1/episodes/{episode_id}", json={"severity": 1 + (index + step) % 10}, headers=headers
                )
                assert_sane(patched)
                assert patched.status_code == 200, patched.text
                read = http.get(f"/api/v1/episodes/{episode_id}", headers=headers)
                assert_sane(read)
                assert read.json()["severity"] == 1 + (index + step) % 10
                # A PATCH to the value already stored changes nothing, not even the version.
                unchanged = 1 + (index + step) % 10 == EPISODE["severity"]
                assert read.json()["version"] == (1 if unchanged else 2)
                done.append((episode_id, 1 + (index + step) % 10))
        return done

    results = at_once(8, write)
    assert sum(len(done) for done in results) == 8 * rounds
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        total = sum(
            len(http.get("/api/v1/episodes", headers=h, params={"limit": 200}).json()["items"]) for h in accounts
        )
    assert total == 8 * rounds


def test_four_times_more_requests_than_database_connections_at_once_never_fail(base_url: str) -> None:
    """The pool holds `db_pool_size` connections; extra requests must wait for one, not fail."""
    headers = sign_up(base_url)
    count = 4 * test_settings("sqlite://").db_pool_size

    def request(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            if index % 2:
                return http.get("/api/v1/episodes", headers=headers)
            return http.post("/api/v1/episodes", json={**EPISODE, "notes": f"burst {index}"}, headers=headers)

    responses = at_once(count, request)
    for response in responses:
        assert_sane(response)
    assert sorted(r.status_code for r in responses) == [200] * (count // 2) + [201] * (count // 2)


def test_eight_writers_patching_one_record_lose_no_version(base_url: str) -> None:
    headers = sign_up(base_url)
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        created = http.post("/api/v1/episodes", json=EPISODE, headers=headers)
    assert created.status_code == 201, created.text
    url = f"/api/v1/episodes/{created.json()['id']}"
    patches = 5

    def patch(index: int) -> list[int]:
        versions = []
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            for step in range(patches):
                response = http.patch(url, json={"notes": f"{index}-{step}"}, headers=headers)
                assert_sane(response)
                assert response.status_code == 200, response.text
                versions.append(response.json()["version"])
        return versions

    versions = [version for result in at_once(8, patch) for version in result]
    # Every change was applied on top of the one before: each version number is handed out once.
    assert sorted(versions) == list(range(2, 2 + 8 * patches))
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        assert http.get(url, headers=headers).json()["version"] == 1 + 8 * patches


def test_if_match_lets_exactly_one_of_several_racing_patches_win(base_url: str) -> None:
    headers = sign_up(base_url)
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        # Severity 10, so every patch (1..8) is a real change: a PATCH equal to the stored record
        # changes nothing, keeps version 1, and would let a second patch match too.
        created = http.post("/api/v1/episodes", json={**EPISODE, "severity": 10}, headers=headers)
    url = f"/api/v1/episodes/{created.json()['id']}"

    def patch(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            return http.patch(url, json={"severity": index + 1}, headers={**headers, "If-Match": '"1"'})

    responses = at_once(8, patch)
    for response in responses:
        assert_sane(response)
    assert sorted(r.status_code for r in responses) == [200] + [412] * 7


def test_the_first_check_in_of_a_day_sent_at_once_is_201_once(base_url: str) -> None:
    headers = sign_up(base_url)

    def put(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            return http.put("/api/v1/checkins/2026-03-04", json={"factors": ["statin"]}, headers=headers)

    responses = at_once(8, put)
    for response in responses:
        assert_sane(response)
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]


def test_the_first_routine_put_sent_at_once_never_fails(base_url: str) -> None:
    headers = sign_up(base_url)

    def put(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            return http.put(
                "/api/v1/routine", json={"started_on": "2026-01-01", "daily_target_minutes": index + 1}, headers=headers
            )

    responses = at_once(8, put)
    for response in responses:
        assert_sane(response)
        assert response.status_code == 200, response.text
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        stored = http.get("/api/v1/routine", headers=headers).json()
    assert stored["daily_target_minutes"] in {r.json()["daily_target_minutes"] for r in responses}


def test_the_same_factor_added_at_once_is_201_once_and_409_otherwise(base_url: str) -> None:
    headers = sign_up(base_url)
    body = {"key": "magnesium_spray", "label": "Magnesium spray", "category": "remedy"}
    responses = post_all(base_url, "/api/v1/factors", [body] * 6, [headers] * 6)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5


def test_the_same_email_registered_at_once_is_201_once_and_409_otherwise(base_url: str) -> None:
    body = {"email": f"twin-{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD}
    responses = post_all(base_url, "/api/v1/auth/register", [body] * 6, [{}] * 6)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5


# --- refresh-token rotation ----------------------------------------------------------------------


def test_one_refresh_token_presented_at_once_is_honoured_at_most_once(base_url: str) -> None:
    email = f"refresh-{uuid.uuid4().hex[:10]}@example.org"
    sign_up(base_url, email)
    for _ in range(3):
        refresh_token = login(base_url, email)["refresh_token"]
        responses = post_all(base_url, "/api/v1/auth/refresh", [{"refresh_token": refresh_token}] * 8, [{}] * 8)
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) <= 1, statuses
        assert set(statuses) <= {200, 401}, statuses
        new_tokens = {r.json()["refresh_token"] for r in responses if r.status_code == 200}
        assert len(new_tokens) <= 1
        # However the race went, the token that was presented is used up now.
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            assert http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token}).status_code == 401


def test_a_refresh_racing_a_logout_never_fails(base_url: str) -> None:
    email = f"logout-{uuid.uuid4().hex[:10]}@example.org"
    sign_up(base_url, email)
    tokens = login(base_url, email)
    access = {"Authorization": f"Bearer {tokens['access_token']}"}

    def act(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            if index == 0:
                return http.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=access)
            return http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    responses = at_once(4, act)
    for response in responses:
        assert_sane(response)
    assert responses[0].status_code == 204, responses[0].text
    assert [r.status_code for r in responses[1:]].count(200) <= 1
