"""Episodes (contract §1, §4, §8), and the record rules episodes share with release sessions.

The first half checks what only episodes have: their field rules, defaults and PATCH semantics.
The second half ("Rules every diary record shares") runs each test on both `/episodes` and
`/release-sessions` (ids `episodes` / `release-sessions`): idempotent create, visibility, versions
and If-Match, deletion, and the keyset-paged lists. tests/test_release_sessions.py imports the
helpers defined here.
"""

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import Account

# --- helpers (imported by test_release_sessions.py and test_diary_days.py) -----------------------

PROBLEM_JSON = "application/problem+json"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "errors"}
MISSING: Any = object()  # a field left out of the body


@dataclass(frozen=True)
class InFuture:
    """A timestamp this many minutes after the moment the test runs (not when it is collected)."""

    minutes: float

    def resolve(self) -> str:
        return (datetime.now(UTC) + timedelta(minutes=self.minutes)).isoformat()


@dataclass(frozen=True)
class Kind:
    """One diary resource: where it lives, its time field, a valid body and a valid change."""

    name: str
    path: str
    time_field: str
    base: dict[str, Any]
    change: dict[str, Any]
    nullable: dict[str, Any] = field(default_factory=dict)  # nullable fields and a non-null value
    defaults: dict[str, Any] = field(default_factory=dict)  # optional non-null fields and their default

    def body(self, **overrides: Any) -> dict[str, Any]:
        merged = {**self.base, **overrides}
        return {
            key: value.resolve() if isinstance(value, InFuture) else value
            for key, value in merged.items()
            if value is not MISSING
        }

    def at(self, moment: str | datetime, **overrides: Any) -> dict[str, Any]:
        value = moment.isoformat() if isinstance(moment, datetime) else moment
        return self.body(**{self.time_field: value}, **overrides)

    def url(self, record_id: object = None) -> str:
        return self.path if record_id is None else f"{self.path}/{record_id}"


EPISODES = Kind(
    name="episodes",
    path="/api/v1/episodes",
    time_field="started_at",
    base={"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7},
    change={"severity": 3},
    nullable={"notes": "woke up", "activity": "sleeping", "duration_seconds": 90},
    defaults={"muscle": "calf", "during_sleep": False, "relief": []},
)
RELEASE_SESSIONS = Kind(
    name="release-sessions",
    path="/api/v1/release-sessions",
    time_field="performed_at",
    base={
        "performed_at": "2026-03-04T19:30:00+01:00",
        "duration_minutes": 15,
        "technique": "foam_roller",
        "areas": ["left_calf", "right_calf"],
    },
    change={"duration_minutes": 20},
    nullable={"notes": "tender spot", "discomfort": 6},
    defaults={"gait_practice_minutes": 0},
)
BOTH = [pytest.param(EPISODES, id="episodes"), pytest.param(RELEASE_SESSIONS, id="release-sessions")]
T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def stamp(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def assert_problem(response: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem document with this status; with `field`, every reported error is
    about that field (or an item of it: `relief[0]`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    if field is not None:
        reported = [error["field"] for error in body["errors"]]
        assert reported, body
        assert all(name == field or name.startswith(f"{field}[") for name in reported), reported
    return body


def create(client: TestClient, account: Account, kind: Kind, **overrides: Any) -> dict[str, Any]:
    response = client.post(kind.path, json=kind.body(**overrides), headers=account.headers)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def fetch(client: TestClient, account: Account, kind: Kind, record_id: str) -> dict[str, Any]:
    response = client.get(kind.url(record_id), headers=account.headers)
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def list_page(client: TestClient, account: Account, kind: Kind, **params: Any) -> dict[str, Any]:
    response = client.get(kind.path, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def list_all(
    client: TestClient,
    account: Account,
    kind: Kind,
    limit: int = 50,
    *,
    start: str | None = None,
    end: str | None = None,
    cursor: str | None = None,
) -> list[dict[str, Any]]:
    """Follows `next_cursor` to the end; `start` / `end` are the `from` / `to` filter."""
    params = {name: value for name, value in (("from", start), ("to", end)) if value is not None}
    items: list[dict[str, Any]] = []
    for _ in range(500):
        page = list_page(client, account, kind, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


def newest_first(kind: Kind, records: list[dict[str, Any]]) -> list[str]:
    """The contract's order: time descending, ties broken by id (descending too)."""
    ordered = sorted(
        records, key=lambda r: (datetime.fromisoformat(r[kind.time_field]), uuid.UUID(r["id"])), reverse=True
    )
    return ids(ordered)


def is_utc_z(value: str) -> bool:
    return value.endswith("Z") and datetime.fromisoformat(value).utcoffset() == timedelta(0)


def invalid(case_id: str, name: str, value: Any, error_field: str | None = None) -> Any:
    return pytest.param(name, value, error_field or name, id=case_id)


def patchable(cases: list[Any]) -> list[Any]:
    """The rows of a create table that also apply to PATCH (PATCH has no required fields)."""
    return [case for case in cases if case.values[1] is not MISSING]


def run_invalid_create(client: TestClient, account: Account, kind: Kind, name: str, value: Any, error: str) -> None:
    response = client.post(kind.path, json=kind.body(**{name: value}), headers=account.headers)
    assert_problem(response, 422, error)
    assert list_page(client, account, kind)["items"] == []


def run_invalid_patch(client: TestClient, account: Account, kind: Kind, name: str, value: Any, error: str) -> None:
    record = create(client, account, kind)
    resolved = value.resolve() if isinstance(value, InFuture) else value
    response = client.patch(kind.url(record["id"]), json={name: resolved}, headers=account.headers)
    assert_problem(response, 422, error)
    assert fetch(client, account, kind, record["id"]) == record


def uuid_at(n: int) -> str:
    return str(uuid.UUID(int=n))


def forged_cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


# --- episode field rules -----------------------------------------------------------------------

ALL_RELIEF = [
    "stretching", "massage", "walking", "standing", "heat", "cold", "warm_shower", "medication", "punching", "none",
    "other",
]  # fmt: skip

INVALID_EPISODE_FIELDS = [
    invalid("started_at-missing", "started_at", MISSING),
    invalid("leg-missing", "leg", MISSING),
    invalid("severity-missing", "severity", MISSING),
    invalid("started_at-null", "started_at", None),
    invalid("started_at-naive", "started_at", "2026-03-04T03:12:00"),
    invalid("started_at-date-only", "started_at", "2026-03-04"),
    invalid("started_at-not-a-timestamp", "started_at", "yesterday night"),
    invalid("started_at-number", "started_at", 1772590320),
    invalid("started_at-11-minutes-ahead", "started_at", InFuture(11)),
    invalid("started_at-next-year", "started_at", InFuture(60 * 24 * 365)),
    invalid("timezone-unknown", "timezone", "Mars/Olympus_Mons"),
    invalid("timezone-offset-not-a-name", "timezone", "+01:00"),
    invalid("timezone-number", "timezone", 1),
    invalid("duration_seconds-0", "duration_seconds", 0),
    invalid("duration_seconds-86401", "duration_seconds", 86401),
    invalid("duration_seconds-negative", "duration_seconds", -5),
    invalid("duration_seconds-string", "duration_seconds", "60"),
    invalid("duration_seconds-float", "duration_seconds", 60.5),
    invalid("leg-unknown", "leg", "middle"),
    invalid("leg-wrong-case", "leg", "LEFT"),
    invalid("leg-null", "leg", None),
    invalid("muscle-unknown", "muscle", "elbow"),
    invalid("muscle-null", "muscle", None),
    invalid("severity-0", "severity", 0),
    invalid("severity-11", "severity", 11),
    invalid("severity-string", "severity", "7"),
    invalid("severity-bool", "severity", True),
    invalid("severity-float", "severity", 7.5),
    invalid("severity-null", "severity", None),
    invalid("during_sleep-string", "during_sleep", "true"),
    invalid("during_sleep-1", "during_sleep", 1),
    invalid("during_sleep-null", "during_sleep", None),
    invalid("activity-unknown", "activity", "dancing"),
    invalid("relief-unknown-item", "relief", ["heat", "dancing"], "relief[1]"),
    invalid("relief-duplicates", "relief", ["heat", "massage", "heat"]),
    invalid("relief-12-items", "relief", [*ALL_RELIEF, "heat"]),
    invalid("relief-not-a-list", "relief", "heat"),
    invalid("relief-null", "relief", None),
    invalid("notes-2001-chars", "notes", "x" * 2001),
    invalid("notes-nul", "notes", "before\x00after"),
    invalid("notes-number", "notes", 42),
    invalid("unknown-field", "mood", "grumpy"),
    invalid("read-only-diary_date", "diary_date", "2026-03-04"),
    invalid("id-not-a-uuid", "id", "episode-1"),
    invalid("id-number", "id", 12345),
]


@pytest.mark.parametrize(("name", "value", "error_field"), INVALID_EPISODE_FIELDS)
def test_create_rejects_invalid_field_with_422_naming_it(
    client: TestClient, alice: Account, name: str, value: Any, error_field: str
) -> None:
    run_invalid_create(client, alice, EPISODES, name, value, error_field)


@pytest.mark.parametrize(("name", "value", "error_field"), patchable(INVALID_EPISODE_FIELDS))
def test_patch_rejects_invalid_field_with_422_naming_it(
    client: TestClient, alice: Account, name: str, value: Any, error_field: str
) -> None:
    run_invalid_patch(client, alice, EPISODES, name, value, error_field)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("started_at", InFuture(5)),
        ("duration_seconds", 1),
        ("duration_seconds", 86400),
        ("severity", 1),
        ("severity", 10),
        ("relief", ALL_RELIEF),
        ("notes", "x" * 2000),
        ("notes", "Krampf im Schlaf 🦵 — ouch"),
        ("timezone", "America/New_York"),
        ("activity", "exercising"),
        ("muscle", "quadriceps"),
        ("leg", "both"),
    ],
)
def test_create_accepts_values_at_the_limits(client: TestClient, alice: Account, name: str, value: Any) -> None:
    body = EPISODES.body(**{name: value})
    record = create(client, alice, EPISODES, **{name: body[name]})
    if name != "started_at":
        assert record[name] == value


def test_malformed_json_is_400(client: TestClient, alice: Account) -> None:
    response = client.post(
        EPISODES.path, content=b'{"leg": "left",', headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 400)


def test_a_body_that_is_not_an_object_is_422(client: TestClient, alice: Account) -> None:
    assert_problem(client.post(EPISODES.path, json=[EPISODES.body()], headers=alice.headers), 422)


def test_create_fills_the_defaults(client: TestClient, alice: Account) -> None:
    record = create(client, alice, EPISODES)
    assert record["timezone"] == "Europe/Berlin"
    assert record["muscle"] == "calf"
    assert record["during_sleep"] is False
    assert record["relief"] == []
    assert record["activity"] is None
    assert record["duration_seconds"] is None
    assert record["notes"] is None
    assert record["version"] == 1
    uuid.UUID(record["id"])


def test_default_timezone_is_the_callers_own(client: TestClient, bob: Account) -> None:
    assert create(client, bob, EPISODES)["timezone"] == "UTC"


def test_create_stores_every_field_sent(client: TestClient, alice: Account) -> None:
    sent = {
        "started_at": "2026-03-04T03:12:00+01:00",
        "timezone": "America/New_York",
        "duration_seconds": 150,
        "leg": "both",
        "muscle": "toes",
        "severity": 9,
        "during_sleep": True,
        "activity": "sleeping",
        "relief": ["stretching", "walking"],
        "notes": "twice in a row",
    }
    record = create(client, alice, EPISODES, **sent)
    assert {key: record[key] for key in sent if key != "started_at"} == {
        k: v for k, v in sent.items() if k != "started_at"
    }
    assert fetch(client, alice, EPISODES, record["id"]) == record


def test_response_timestamps_are_utc_with_z(client: TestClient, alice: Account) -> None:
    record = create(client, alice, EPISODES, started_at="2026-03-04T03:12:00+01:00")
    assert record["started_at"] == "2026-03-04T02:12:00Z"
    assert is_utc_z(record["created_at"])
    assert is_utc_z(record["updated_at"])
    listed = list_page(client, alice, EPISODES)["items"][0]
    assert listed["started_at"] == "2026-03-04T02:12:00Z"
    assert is_utc_z(listed["created_at"])


def test_a_client_generated_id_is_kept(client: TestClient, alice: Account) -> None:
    record_id = str(uuid.uuid4())
    assert create(client, alice, EPISODES, id=record_id)["id"] == record_id
    assert fetch(client, alice, EPISODES, record_id)["id"] == record_id


def test_patch_changes_only_the_fields_sent(client: TestClient, alice: Account) -> None:
    record = create(client, alice, EPISODES, relief=["heat"], notes="first", activity="resting")
    response = client.patch(EPISODES.url(record["id"]), json={"severity": 2, "relief": []}, headers=alice.headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["severity"] == 2
    assert updated["relief"] == []
    untouched = {
        key: value for key, value in record.items() if key not in {"severity", "relief", "version", "updated_at"}
    }
    assert {key: updated[key] for key in untouched} == untouched
    assert fetch(client, alice, EPISODES, record["id"]) == updated


@pytest.mark.parametrize("name", ["notes", "activity", "duration_seconds"])
def test_patch_null_clears_a_nullable_field(client: TestClient, alice: Account, name: str) -> None:
    record = create(client, alice, EPISODES, **EPISODES.nullable)
    assert record[name] is not None
    response = client.patch(EPISODES.url(record["id"]), json={name: None}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()[name] is None
    assert response.json()["version"] == 2
    assert fetch(client, alice, EPISODES, record["id"])[name] is None


def test_patch_sets_fields_that_were_null(client: TestClient, alice: Account) -> None:
    record = create(client, alice, EPISODES)
    response = client.patch(EPISODES.url(record["id"]), json=EPISODES.nullable, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in EPISODES.nullable} == EPISODES.nullable


def test_patch_keeps_created_at_and_moves_updated_at(client: TestClient, alice: Account) -> None:
    record = create(client, alice, EPISODES)
    updated = client.patch(EPISODES.url(record["id"]), json={"severity": 1}, headers=alice.headers).json()
    assert updated["created_at"] == record["created_at"]
    assert datetime.fromisoformat(updated["updated_at"]) >= datetime.fromisoformat(record["updated_at"])
    assert is_utc_z(updated["updated_at"])


# --- Rules every diary record shares (run on episodes and release sessions) ---------------------


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize(
    "request_for",
    [
        pytest.param(lambda kind, rid: ("POST", kind.path), id="create"),
        pytest.param(lambda kind, rid: ("GET", kind.path), id="list"),
        pytest.param(lambda kind, rid: ("GET", kind.url(rid)), id="read"),
        pytest.param(lambda kind, rid: ("PATCH", kind.url(rid)), id="update"),
        pytest.param(lambda kind, rid: ("DELETE", kind.url(rid)), id="delete"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
def test_every_operation_needs_a_valid_bearer_token(
    client: TestClient,
    alice: Account,
    kind: Kind,
    request_for: Callable[[Kind, str], tuple[str, str]],
    authorization: str | None,
) -> None:
    record = create(client, alice, kind)
    method, url = request_for(kind, record["id"])
    headers = {"Authorization": authorization} if authorization else {}
    body = kind.body() if method in {"POST", "PATCH"} else None
    response = client.request(method, url, json=body, headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert fetch(client, alice, kind, record["id"]) == record


# Idempotent create


@pytest.mark.parametrize("kind", BOTH)
def test_replaying_a_create_returns_200_and_the_stored_record(client: TestClient, alice: Account, kind: Kind) -> None:
    body = kind.body(id=str(uuid.uuid4()), notes="same")
    first = client.post(kind.path, json=body, headers=alice.headers)
    assert first.status_code == 201, first.text
    replay = client.post(kind.path, json=body, headers=alice.headers)
    assert replay.status_code == 200, replay.text
    assert replay.json() == first.json()
    assert ids(list_page(client, alice, kind)["items"]) == [body["id"]]


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("offset_hours", [0, -5, 5.5])
def test_a_replay_with_an_equivalent_offset_is_still_a_replay(
    client: TestClient, alice: Account, kind: Kind, offset_hours: float
) -> None:
    record_id = str(uuid.uuid4())
    first = create(client, alice, kind, id=record_id)
    moment = datetime.fromisoformat(kind.base[kind.time_field]).astimezone(timezone(timedelta(hours=offset_hours)))
    replay = client.post(kind.path, json=kind.at(moment, id=record_id), headers=alice.headers)
    assert replay.status_code == 200, replay.text
    assert replay.json() == first


@pytest.mark.parametrize("kind", BOTH)
def test_a_replay_spelling_out_the_defaults_is_still_a_replay(client: TestClient, alice: Account, kind: Kind) -> None:
    record_id = str(uuid.uuid4())
    first = create(client, alice, kind, id=record_id)
    explicit = {**dict.fromkeys(kind.nullable), **kind.defaults, "timezone": "Europe/Berlin"}
    replay = client.post(kind.path, json=kind.body(id=record_id, **explicit), headers=alice.headers)
    assert replay.status_code == 200, replay.text
    assert replay.json() == first


@pytest.mark.parametrize("kind", BOTH)
def test_the_same_id_with_different_content_is_409(client: TestClient, alice: Account, kind: Kind) -> None:
    record = create(client, alice, kind, id=str(uuid.uuid4()))
    response = client.post(kind.path, json=kind.body(id=record["id"], **kind.change), headers=alice.headers)
    assert_problem(response, 409)
    assert fetch(client, alice, kind, record["id"]) == record


@pytest.mark.parametrize("kind", BOTH)
def test_an_id_of_another_user_is_409_and_reveals_nothing(
    client: TestClient, alice: Account, bob: Account, kind: Kind
) -> None:
    secret = "alice-private-note-4711"
    body = kind.body(id=str(uuid.uuid4()), notes=secret)
    alices = create(client, alice, kind, **body)
    same_content = client.post(kind.path, json=body, headers=bob.headers)
    other_content = client.post(kind.path, json={**body, "notes": "bob", **kind.change}, headers=bob.headers)
    for response in (same_content, other_content):
        problem = assert_problem(response, 409)
        assert problem.keys() <= PROBLEM_MEMBERS
        assert secret not in response.text
        assert alices["created_at"] not in response.text
    assert same_content.json() == other_content.json()  # not even whether the content matched
    assert fetch(client, alice, kind, alices["id"]) == alices
    assert list_page(client, bob, kind)["items"] == []


@pytest.mark.parametrize("kind", BOTH)
def test_a_replay_after_the_record_was_patched_still_answers_200(
    client: TestClient, alice: Account, kind: Kind
) -> None:
    body = kind.body(id=str(uuid.uuid4()))
    assert client.post(kind.path, json=body, headers=alice.headers).status_code == 201
    patched = client.patch(kind.url(body["id"]), json=kind.change, headers=alice.headers)
    assert patched.status_code == 200, patched.text
    replay = client.post(kind.path, json=body, headers=alice.headers)
    assert replay.status_code == 200, replay.text
    assert replay.json() == fetch(client, alice, kind, body["id"])
    assert replay.json()["version"] == 2


@pytest.mark.parametrize("kind", BOTH)
def test_a_replay_of_a_deleted_record_is_409(client: TestClient, alice: Account, kind: Kind) -> None:
    body = kind.body(id=str(uuid.uuid4()))
    assert client.post(kind.path, json=body, headers=alice.headers).status_code == 201
    assert client.delete(kind.url(body["id"]), headers=alice.headers).status_code == 204
    assert_problem(client.post(kind.path, json=body, headers=alice.headers), 409)
    assert client.get(kind.url(body["id"]), headers=alice.headers).status_code == 404
    assert list_page(client, alice, kind)["items"] == []


@pytest.mark.parametrize("kind", BOTH)
def test_an_id_of_another_users_deleted_record_is_409(
    client: TestClient, alice: Account, bob: Account, kind: Kind
) -> None:
    record = create(client, alice, kind, id=str(uuid.uuid4()))
    assert client.delete(kind.url(record["id"]), headers=alice.headers).status_code == 204
    assert_problem(client.post(kind.path, json=kind.body(id=record["id"]), headers=bob.headers), 409)


@pytest.mark.parametrize("kind", BOTH)
def test_creates_without_an_id_are_never_replays(client: TestClient, alice: Account, kind: Kind) -> None:
    first = create(client, alice, kind)
    second = create(client, alice, kind)
    assert first["id"] != second["id"]


# Visibility


@pytest.mark.parametrize("kind", BOTH)
def test_another_users_record_is_404_for_read_patch_and_delete(
    client: TestClient, alice: Account, bob: Account, kind: Kind
) -> None:
    record = create(client, alice, kind)
    unknown = str(uuid.uuid4())
    for if_match in ({}, {"If-Match": '"1"'}):
        headers = {**bob.headers, **if_match}
        responses = {
            "read": (
                client.get(kind.url(record["id"]), headers=headers),
                client.get(kind.url(unknown), headers=headers),
            ),
            "patch": (
                client.patch(kind.url(record["id"]), json=kind.change, headers=headers),
                client.patch(kind.url(unknown), json=kind.change, headers=headers),
            ),
            "delete": (
                client.delete(kind.url(record["id"]), headers=headers),
                client.delete(kind.url(unknown), headers=headers),
            ),
        }
        for theirs, nobodys in responses.values():
            assert_problem(theirs, 404)
            assert_problem(nobodys, 404)
            assert theirs.json() == nobodys.json()  # an id cannot be probed
    assert fetch(client, alice, kind, record["id"]) == record


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_unknown_id_is_404(client: TestClient, alice: Account, kind: Kind, method: str) -> None:
    body = kind.change if method == "PATCH" else None
    assert_problem(client.request(method, kind.url(uuid.uuid4()), json=body, headers=alice.headers), 404)


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0b8f5a52-0000-0000-0000"])
def test_a_non_uuid_id_is_422(client: TestClient, alice: Account, kind: Kind, method: str, bad_id: str) -> None:
    body = kind.change if method == "PATCH" else None
    assert_problem(client.request(method, kind.url(bad_id), json=body, headers=alice.headers), 422)


@pytest.mark.parametrize("kind", BOTH)
def test_other_users_records_never_appear_in_lists(
    client: TestClient, alice: Account, bob: Account, kind: Kind
) -> None:
    alices = [create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()}) for h in range(3)]
    bobs = [create(client, bob, kind, **{kind.time_field: stamp(h).isoformat()}) for h in range(2)]
    assert set(ids(list_all(client, alice, kind, limit=1))) == set(ids(alices))
    assert set(ids(list_all(client, bob, kind))) == set(ids(bobs))
    assert set(ids(list_all(client, bob, kind, start="2026-03-01", end="2026-03-31"))) == set(ids(bobs))


# Versions, ETag and If-Match


@pytest.mark.parametrize("kind", BOTH)
def test_a_new_record_is_version_1_with_etag_1(client: TestClient, alice: Account, kind: Kind) -> None:
    record = create(client, alice, kind)
    assert record["version"] == 1
    response = client.get(kind.url(record["id"]), headers=alice.headers)
    assert response.headers["etag"] == '"1"'
    assert response.json()["version"] == 1


@pytest.mark.parametrize("kind", BOTH)
def test_every_change_increases_the_version_by_one(client: TestClient, alice: Account, kind: Kind) -> None:
    record = create(client, alice, kind)
    for expected in (2, 3, 4):
        response = client.patch(kind.url(record["id"]), json={"notes": f"edit {expected}"}, headers=alice.headers)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == expected
        read = client.get(kind.url(record["id"]), headers=alice.headers)
        assert read.json()["version"] == expected
        assert read.headers["etag"] == f'"{expected}"'


@pytest.mark.parametrize("kind", BOTH)
def test_an_empty_patch_changes_nothing(client: TestClient, alice: Account, kind: Kind) -> None:
    record = create(client, alice, kind)
    response = client.patch(kind.url(record["id"]), json={}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == record
    assert fetch(client, alice, kind, record["id"]) == record


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("if_match", ['"2"', "*", '"7", "2"'])
def test_patch_with_a_matching_if_match_applies(client: TestClient, alice: Account, kind: Kind, if_match: str) -> None:
    record = create(client, alice, kind)
    client.patch(kind.url(record["id"]), json={"notes": "v2"}, headers=alice.headers)
    response = client.patch(kind.url(record["id"]), json=kind.change, headers={**alice.headers, "If-Match": if_match})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 3
    assert response.headers["etag"] == '"3"'


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("if_match", ['"1"', '"3"', '"0"', "nonsense"])
def test_patch_with_a_stale_if_match_is_412_with_the_current_record(
    client: TestClient, alice: Account, kind: Kind, if_match: str
) -> None:
    record = create(client, alice, kind)
    client.patch(kind.url(record["id"]), json={"notes": "v2"}, headers=alice.headers)
    current = fetch(client, alice, kind, record["id"])
    response = client.patch(kind.url(record["id"]), json=kind.change, headers={**alice.headers, "If-Match": if_match})
    problem = assert_problem(response, 412)
    assert problem["record"] == current
    assert response.headers["etag"] == '"2"'
    assert fetch(client, alice, kind, record["id"]) == current


@pytest.mark.parametrize("kind", BOTH)
def test_without_if_match_the_last_write_wins(client: TestClient, alice: Account, kind: Kind) -> None:
    record = create(client, alice, kind)
    client.patch(kind.url(record["id"]), json={"notes": "phone"}, headers=alice.headers)
    response = client.patch(kind.url(record["id"]), json={"notes": "tablet"}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert fetch(client, alice, kind, record["id"])["notes"] == "tablet"


@pytest.mark.parametrize("kind", BOTH)
def test_delete_with_a_stale_if_match_is_412_and_deletes_nothing(
    client: TestClient, alice: Account, kind: Kind
) -> None:
    record = create(client, alice, kind)
    client.patch(kind.url(record["id"]), json={"notes": "v2"}, headers=alice.headers)
    current = fetch(client, alice, kind, record["id"])
    response = client.delete(kind.url(record["id"]), headers={**alice.headers, "If-Match": '"1"'})
    problem = assert_problem(response, 412)
    assert problem["record"] == current
    assert response.headers["etag"] == '"2"'
    assert fetch(client, alice, kind, record["id"]) == current
    assert ids(list_page(client, alice, kind)["items"]) == [record["id"]]


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("if_match", ['"1"', "*"])
def test_delete_with_a_matching_if_match_deletes(client: TestClient, alice: Account, kind: Kind, if_match: str) -> None:
    record = create(client, alice, kind)
    assert client.delete(kind.url(record["id"]), headers={**alice.headers, "If-Match": if_match}).status_code == 204
    assert client.get(kind.url(record["id"]), headers=alice.headers).status_code == 404


# Delete


@pytest.mark.parametrize("kind", BOTH)
def test_a_deleted_record_disappears_from_every_read(client: TestClient, alice: Account, kind: Kind) -> None:
    record = create(client, alice, kind)
    kept = create(client, alice, kind)
    response = client.delete(kind.url(record["id"]), headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(kind.url(record["id"]), headers=alice.headers), 404)
    assert ids(list_all(client, alice, kind)) == [kept["id"]]
    assert ids(list_all(client, alice, kind, start="2026-03-04", end="2026-03-04")) == [kept["id"]]
    assert_problem(client.patch(kind.url(record["id"]), json=kind.change, headers=alice.headers), 404)
    assert_problem(client.delete(kind.url(record["id"]), headers=alice.headers), 404)


# Lists


@pytest.mark.parametrize("kind", BOTH)
def test_an_empty_list(client: TestClient, alice: Account, kind: Kind) -> None:
    assert list_page(client, alice, kind) == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("kind", BOTH)
def test_lists_are_newest_first_by_the_records_own_time(client: TestClient, alice: Account, kind: Kind) -> None:
    hours = [5, -30, 12, 0, 47, 1]  # created out of order, across several days
    created = [create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()}) for h in hours]
    listed = list_page(client, alice, kind)["items"]
    assert ids(listed) == newest_first(kind, created)
    times = [datetime.fromisoformat(item[kind.time_field]) for item in listed]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("kind", BOTH)
def test_the_list_orders_by_instant_not_by_local_clock_time(client: TestClient, alice: Account, kind: Kind) -> None:
    earlier = create(client, alice, kind, **{kind.time_field: "2026-03-04T09:00:00+05:00"})  # 04:00Z
    later = create(client, alice, kind, **{kind.time_field: "2026-03-04T06:00:00+01:00"})  # 05:00Z
    assert ids(list_page(client, alice, kind)["items"]) == [later["id"], earlier["id"]]


@pytest.mark.parametrize("kind", BOTH)
def test_ties_on_time_are_broken_by_id_descending(client: TestClient, alice: Account, kind: Kind) -> None:
    same = stamp(3).isoformat()
    tied = [create(client, alice, kind, id=str(uuid.uuid4()), **{kind.time_field: same}) for _ in range(5)]
    tied += [create(client, alice, kind, id=uuid_at(n), **{kind.time_field: same}) for n in (1, 2**127)]
    others = [create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()}) for h in (2, 4)]
    expected = newest_first(kind, tied + others)
    assert ids(list_page(client, alice, kind)["items"]) == expected
    assert expected[1:-1] == sorted(ids(tied), key=uuid.UUID, reverse=True)


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_paging_through_tied_records_returns_each_exactly_once(
    client: TestClient, alice: Account, kind: Kind, limit: int
) -> None:
    same = stamp(3).isoformat()
    tied = [create(client, alice, kind, **{kind.time_field: same}) for _ in range(5)]
    others = [create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()}) for h in (2, 4)]
    assert ids(list_all(client, alice, kind, limit=limit)) == newest_first(kind, tied + others)


@pytest.mark.parametrize("kind", BOTH)
def test_ties_within_the_same_second_are_ordered_by_microseconds(
    client: TestClient, alice: Account, kind: Kind
) -> None:
    moments = ["2026-03-04T10:00:00.000001+00:00", "2026-03-04T10:00:00+00:00", "2026-03-04T10:00:00.5+00:00"]
    created = [create(client, alice, kind, **{kind.time_field: moment}) for moment in moments]
    assert ids(list_all(client, alice, kind, limit=1)) == [created[2]["id"], created[0]["id"], created[1]["id"]]


@pytest.mark.parametrize("kind", BOTH)
def test_paging_through_seven_records_by_three_returns_all_exactly_once(
    client: TestClient, alice: Account, kind: Kind
) -> None:
    created = [create(client, alice, kind, **{kind.time_field: stamp(h * 7).isoformat()}) for h in range(7)]
    pages = []
    cursor = None
    while True:
        page = list_page(client, alice, kind, limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [item["id"] for page in pages for item in page] == newest_first(kind, created)


@pytest.mark.parametrize("kind", BOTH)
def test_next_cursor_is_null_when_the_last_page_is_exactly_full(client: TestClient, alice: Account, kind: Kind) -> None:
    for h in range(6):
        create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()})
    first = list_page(client, alice, kind, limit=3)
    assert first["next_cursor"] is not None
    second = list_page(client, alice, kind, limit=3, cursor=first["next_cursor"])
    assert len(second["items"]) == 3
    assert second["next_cursor"] is None
    assert list_page(client, alice, kind, limit=6)["next_cursor"] is None


@pytest.mark.parametrize("kind", BOTH)
def test_the_default_page_size_is_50(client: TestClient, alice: Account, kind: Kind) -> None:
    created = [create(client, alice, kind, **{kind.time_field: stamp(-h).isoformat()}) for h in range(51)]
    first = list_page(client, alice, kind)
    assert len(first["items"]) == 50
    assert first["next_cursor"] is not None
    second = list_page(client, alice, kind, cursor=first["next_cursor"])
    assert ids(second["items"]) == [created[-1]["id"]]
    assert second["next_cursor"] is None
    assert len(list_page(client, alice, kind, limit=200)["items"]) == 51


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", ""])
def test_a_limit_outside_1_to_200_is_422(client: TestClient, alice: Account, kind: Kind, limit: str) -> None:
    create(client, alice, kind)
    response = client.get(kind.path, params={"limit": limit}, headers=alice.headers)
    assert_problem(response, 422, "limit")


@pytest.mark.parametrize("kind", BOTH)
def test_inserting_records_between_pages_neither_repeats_nor_skips(
    client: TestClient, alice: Account, kind: Kind
) -> None:
    created = [create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()}) for h in range(7)]
    order = newest_first(kind, created)
    first = list_page(client, alice, kind, limit=3)
    assert ids(first["items"]) == order[:3]
    newest = create(client, alice, kind, **{kind.time_field: stamp(10).isoformat()})
    oldest = create(client, alice, kind, **{kind.time_field: stamp(-1).isoformat()})
    second = list_page(client, alice, kind, limit=3, cursor=first["next_cursor"])
    assert ids(second["items"]) == order[3:6]
    newer_still = create(client, alice, kind, **{kind.time_field: stamp(11).isoformat()})
    rest = list_all(client, alice, kind, limit=3, cursor=second["next_cursor"])
    assert ids(rest) == [order[6], oldest["id"]]  # the older one lies ahead of the cursor: it shows up
    assert {newest["id"], newer_still["id"]}.isdisjoint(ids(second["items"]) + ids(rest))


@pytest.mark.parametrize("kind", BOTH)
def test_deleting_a_record_between_pages_neither_repeats_nor_skips(
    client: TestClient, alice: Account, kind: Kind
) -> None:
    created = [create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()}) for h in range(6)]
    order = newest_first(kind, created)
    first = list_page(client, alice, kind, limit=3)
    assert client.delete(kind.url(order[2]), headers=alice.headers).status_code == 204  # the cursor's own record
    rest = list_all(client, alice, kind, limit=3, cursor=first["next_cursor"])
    assert ids(rest) == order[3:]


GARBAGE_CURSORS = [
    pytest.param("garbage", id="word"),
    pytest.param("!!!", id="punctuation"),
    pytest.param("é", id="non-ascii"),
    pytest.param("x" * 600, id="too-long"),
    pytest.param(base64.urlsafe_b64encode(b"not json").decode(), id="base64-not-json"),
    pytest.param(base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="base64-not-utf8"),
    pytest.param(forged_cursor([1, 2, 3]), id="numbers"),
    pytest.param(forged_cursor({"a": 1}), id="object"),
    pytest.param(forged_cursor(["t", "2026-03-04T10:00:00+00:00"]), id="two-items"),
    pytest.param(forged_cursor(["t", "yesterday", uuid.uuid4().hex]), id="bad-time"),
    pytest.param(forged_cursor(["t", "2026-03-04T10:00:00+00:00", "zz"]), id="bad-id"),
    pytest.param(forged_cursor(["t", "2026-03-04T10:00:00+00:00", 7]), id="numeric-id"),
    pytest.param(forged_cursor(["t", "2026-03-04T10:00:00+00:00", None]), id="null-id"),
    pytest.param(forged_cursor(["t", 1772618400, uuid.uuid4().hex]), id="numeric-time"),
    pytest.param(forged_cursor(["d", "2026-03-04", uuid.uuid4().hex]), id="date-cursor"),
    pytest.param(forged_cursor(["x", "2026-03-04T10:00:00+00:00", uuid.uuid4().hex]), id="unknown-kind"),
]


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("cursor", GARBAGE_CURSORS)
def test_a_garbage_cursor_is_422(client: TestClient, alice: Account, kind: Kind, cursor: str) -> None:
    create(client, alice, kind)
    assert_problem(client.get(kind.path, params={"cursor": cursor}, headers=alice.headers), 422, "cursor")


CURSOR_MUTATIONS = [
    pytest.param(lambda cursor: re.sub("[0-9]", "9", cursor), id="nines"),
    pytest.param(lambda cursor: re.sub("[0-9]", "0", cursor), id="zeros"),
    pytest.param(lambda cursor: re.sub("[a-f]", "f", cursor), id="letters-to-f"),
    pytest.param(lambda cursor: cursor[::-1], id="reversed"),
    pytest.param(lambda cursor: cursor[: len(cursor) // 2], id="first-half"),
    pytest.param(lambda cursor: cursor[1:], id="first-char-dropped"),
    pytest.param(lambda cursor: cursor + cursor, id="doubled"),
    pytest.param(lambda cursor: cursor.upper(), id="upper-case"),
    pytest.param(lambda cursor: "-" + cursor, id="minus-sign"),
    pytest.param(lambda cursor: cursor + "\n", id="trailing-newline"),
]


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("mutate", CURSOR_MUTATIONS)
def test_a_tampered_cursor_is_a_valid_page_or_422_never_500(
    client: TestClient, alice: Account, kind: Kind, mutate: Callable[[str], str]
) -> None:
    for h in range(3):
        create(client, alice, kind, **{kind.time_field: stamp(h).isoformat()})
    cursor = list_page(client, alice, kind, limit=1)["next_cursor"]
    response = client.get(kind.path, params={"cursor": mutate(cursor)}, headers=alice.headers)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert set(response.json()) == {"items", "next_cursor"}
    else:
        assert_problem(response, 422, "cursor")


@pytest.mark.parametrize(("source", "target"), [(EPISODES, RELEASE_SESSIONS), (RELEASE_SESSIONS, EPISODES)])
def test_a_cursor_from_the_other_list_is_a_valid_page_or_422(
    client: TestClient, alice: Account, source: Kind, target: Kind
) -> None:
    for h in range(3):
        create(client, alice, source, **{source.time_field: stamp(h).isoformat()})
        create(client, alice, target, **{target.time_field: stamp(h).isoformat()})
    cursor = list_page(client, alice, source, limit=1)["next_cursor"]
    response = client.get(target.path, params={"cursor": cursor, "limit": 1}, headers=alice.headers)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_problem(response, 422)
    else:
        assert set(response.json()) == {"items", "next_cursor"}


@pytest.mark.parametrize("kind", BOTH)
def test_from_and_to_filter_on_diary_date_inclusively(client: TestClient, alice: Account, kind: Kind) -> None:
    # alice's time zone is Europe/Berlin: 23:30Z on the 4th is the 5th there.
    by_day = {
        "2026-03-03": create(client, alice, kind, **{kind.time_field: "2026-03-03T12:00:00Z"}),
        "2026-03-04": create(client, alice, kind, **{kind.time_field: "2026-03-03T23:30:00Z"}),
        "2026-03-05": create(client, alice, kind, **{kind.time_field: "2026-03-04T23:30:00Z"}),
        "2026-03-06": create(client, alice, kind, **{kind.time_field: "2026-03-06T12:00:00Z"}),
    }
    assert {r["diary_date"]: r["id"] for r in by_day.values()} == {d: r["id"] for d, r in by_day.items()}

    def listed(start: str | None = None, end: str | None = None) -> set[str]:
        return set(ids(list_all(client, alice, kind, limit=1, start=start, end=end)))

    days = {day: record["id"] for day, record in by_day.items()}
    assert listed("2026-03-04", "2026-03-05") == {days["2026-03-04"], days["2026-03-05"]}
    assert listed("2026-03-05", "2026-03-05") == {days["2026-03-05"]}
    assert listed(start="2026-03-05") == {days["2026-03-05"], days["2026-03-06"]}
    assert listed(end="2026-03-04") == {days["2026-03-03"], days["2026-03-04"]}
    assert listed(start="2026-03-07") == set()
    assert listed() == set(days.values())


@pytest.mark.parametrize("kind", BOTH)
def test_to_before_from_is_an_empty_window(client: TestClient, alice: Account, kind: Kind) -> None:
    create(client, alice, kind)
    response = client.get(kind.path, params={"from": "2026-03-05", "to": "2026-03-04"}, headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "04.03.2026", "yesterday", "2026-03-04T10:00:00Z", ""])
def test_a_bad_date_filter_is_422(client: TestClient, alice: Account, kind: Kind, param: str, value: str) -> None:
    assert_problem(client.get(kind.path, params={param: value}, headers=alice.headers), 422, param)


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize(
    ("moment", "zone"),
    [
        ("0001-01-01T00:30:00+01:00", None),  # before the first instant a UTC datetime can hold
        ("0001-01-01T00:00:00Z", "America/New_York"),  # its local date would be in year 0
        ("0001-01-01T00:00:00Z", None),
    ],
)
def test_a_timestamp_at_the_edge_of_the_calendar_is_never_a_500(
    client: TestClient, alice: Account, kind: Kind, moment: str, zone: str | None
) -> None:
    extra = {"timezone": zone} if zone else {}
    response = client.post(kind.path, json=kind.at(moment, **extra), headers=alice.headers)
    assert response.status_code in (201, 422), response.text


@pytest.mark.parametrize("kind", BOTH)
def test_moving_an_early_record_to_a_western_time_zone_is_never_a_500(
    client: TestClient, bob: Account, kind: Kind
) -> None:
    response = client.post(kind.path, json=kind.at("0001-01-01T00:00:00Z"), headers=bob.headers)
    if response.status_code == 422:
        return
    assert response.status_code == 201, response.text
    patched = client.patch(kind.url(response.json()["id"]), json={"timezone": "America/New_York"}, headers=bob.headers)
    assert patched.status_code in (200, 422), patched.text


@pytest.mark.parametrize("kind", BOTH)
def test_a_body_over_1_mib_is_413(client: TestClient, alice: Account, kind: Kind) -> None:
    response = client.post(kind.path, json=kind.body(notes="x" * (1024 * 1024 + 1)), headers=alice.headers)
    assert_problem(response, 413)
    assert list_page(client, alice, kind)["items"] == []
