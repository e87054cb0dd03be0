"""Release sessions (contract §4): field rules, defaults and PATCH semantics.

Idempotent create, visibility, versions and If-Match, deletion and the paged lists are the same
for every diary record; tests/test_episodes.py runs those on release sessions too (the
`release-sessions` parameter of its shared tests).
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.test_episodes import (
    MISSING,
    RELEASE_SESSIONS,
    InFuture,
    assert_problem,
    create,
    fetch,
    invalid,
    is_utc_z,
    list_page,
    patchable,
    run_invalid_create,
    run_invalid_patch,
)

ALL_AREAS = [
    "left_calf", "right_calf", "left_shin", "right_shin", "left_foot", "right_foot", "left_hamstring",
    "right_hamstring", "left_thigh", "right_thigh",
]  # fmt: skip
ALL_TECHNIQUES = ["hands", "foam_roller", "massage_ball", "massage_stick", "therapist", "other"]

INVALID_RELEASE_FIELDS = [
    invalid("performed_at-missing", "performed_at", MISSING),
    invalid("duration_minutes-missing", "duration_minutes", MISSING),
    invalid("technique-missing", "technique", MISSING),
    invalid("areas-missing", "areas", MISSING),
    invalid("performed_at-null", "performed_at", None),
    invalid("performed_at-naive", "performed_at", "2026-03-04T19:30:00"),
    invalid("performed_at-date-only", "performed_at", "2026-03-04"),
    invalid("performed_at-not-a-timestamp", "performed_at", "after dinner"),
    invalid("performed_at-number", "performed_at", 1772649000),
    invalid("performed_at-11-minutes-ahead", "performed_at", InFuture(11)),
    invalid("performed_at-next-week", "performed_at", InFuture(60 * 24 * 7)),
    invalid("timezone-unknown", "timezone", "Europe/Atlantis"),
    invalid("timezone-number", "timezone", 2),
    invalid("duration_minutes-0", "duration_minutes", 0),
    invalid("duration_minutes-241", "duration_minutes", 241),
    invalid("duration_minutes-string", "duration_minutes", "15"),
    invalid("duration_minutes-bool", "duration_minutes", True),
    invalid("duration_minutes-float", "duration_minutes", 15.5),
    invalid("duration_minutes-null", "duration_minutes", None),
    invalid("technique-unknown", "technique", "acupuncture"),
    invalid("technique-wrong-case", "technique", "Hands"),
    invalid("technique-null", "technique", None),
    invalid("areas-empty", "areas", []),
    invalid("areas-11-items", "areas", [*ALL_AREAS, "left_calf"]),
    invalid("areas-duplicates", "areas", ["left_calf", "left_calf"]),
    invalid("areas-unknown-item", "areas", ["left_calf", "left_ear"], "areas[1]"),
    invalid("areas-not-a-list", "areas", "left_calf"),
    invalid("areas-null", "areas", None),
    invalid("discomfort-negative", "discomfort", -1),
    invalid("discomfort-11", "discomfort", 11),
    invalid("discomfort-string", "discomfort", "3"),
    invalid("discomfort-bool", "discomfort", False),
    invalid("discomfort-float", "discomfort", 2.5),
    invalid("gait_practice_minutes-negative", "gait_practice_minutes", -1),
    invalid("gait_practice_minutes-601", "gait_practice_minutes", 601),
    invalid("gait_practice_minutes-string", "gait_practice_minutes", "10"),
    invalid("gait_practice_minutes-null", "gait_practice_minutes", None),
    invalid("notes-2001-chars", "notes", "x" * 2001),
    invalid("notes-nul", "notes", "\x00"),
    invalid("notes-list", "notes", ["a"]),
    invalid("unknown-field", "mood", "calm"),
    invalid("read-only-version", "version", 1),
    invalid("id-not-a-uuid", "id", "release-1"),
]


@pytest.mark.parametrize(("name", "value", "error_field"), INVALID_RELEASE_FIELDS)
def test_create_rejects_invalid_field_with_422_naming_it(
    client: TestClient, alice: Account, name: str, value: Any, error_field: str
) -> None:
    run_invalid_create(client, alice, RELEASE_SESSIONS, name, value, error_field)


@pytest.mark.parametrize(("name", "value", "error_field"), patchable(INVALID_RELEASE_FIELDS))
def test_patch_rejects_invalid_field_with_422_naming_it(
    client: TestClient, alice: Account, name: str, value: Any, error_field: str
) -> None:
    run_invalid_patch(client, alice, RELEASE_SESSIONS, name, value, error_field)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("performed_at", InFuture(5)),
        ("duration_minutes", 1),
        ("duration_minutes", 240),
        ("areas", ["right_thigh"]),
        ("areas", ALL_AREAS),
        ("discomfort", 0),
        ("discomfort", 10),
        ("gait_practice_minutes", 0),
        ("gait_practice_minutes", 600),
        ("notes", "x" * 2000),
        ("timezone", "Australia/Sydney"),
        *[("technique", technique) for technique in ALL_TECHNIQUES],
    ],
)
def test_create_accepts_values_at_the_limits(client: TestClient, alice: Account, name: str, value: Any) -> None:
    body = RELEASE_SESSIONS.body(**{name: value})
    record = create(client, alice, RELEASE_SESSIONS, **{name: body[name]})
    if name != "performed_at":
        assert record[name] == value


def test_create_fills_the_defaults(client: TestClient, alice: Account) -> None:
    record = create(client, alice, RELEASE_SESSIONS)
    assert record["timezone"] == "Europe/Berlin"
    assert record["gait_practice_minutes"] == 0
    assert record["discomfort"] is None
    assert record["notes"] is None
    assert record["version"] == 1


def test_default_timezone_is_the_callers_own(client: TestClient, bob: Account) -> None:
    assert create(client, bob, RELEASE_SESSIONS)["timezone"] == "UTC"


def test_create_stores_every_field_sent(client: TestClient, alice: Account) -> None:
    sent = {
        "timezone": "America/New_York",
        "duration_minutes": 25,
        "technique": "massage_ball",
        "areas": ["right_calf", "left_shin"],
        "discomfort": 4,
        "gait_practice_minutes": 30,
        "notes": "lean from the ankles",
    }
    record = create(client, alice, RELEASE_SESSIONS, **sent)
    assert {key: record[key] for key in sent} == sent
    assert fetch(client, alice, RELEASE_SESSIONS, record["id"]) == record


def test_areas_keep_the_order_sent(client: TestClient, alice: Account) -> None:
    areas = ["right_foot", "left_calf", "right_thigh"]
    assert create(client, alice, RELEASE_SESSIONS, areas=areas)["areas"] == areas


def test_response_timestamps_are_utc_with_z(client: TestClient, alice: Account) -> None:
    record = create(client, alice, RELEASE_SESSIONS, performed_at="2026-03-04T19:30:00+01:00")
    assert record["performed_at"] == "2026-03-04T18:30:00Z"
    assert is_utc_z(record["created_at"])
    assert is_utc_z(record["updated_at"])
    assert list_page(client, alice, RELEASE_SESSIONS)["items"][0]["performed_at"] == "2026-03-04T18:30:00Z"


def test_patch_changes_only_the_fields_sent(client: TestClient, alice: Account) -> None:
    record = create(client, alice, RELEASE_SESSIONS, discomfort=3, notes="first", gait_practice_minutes=10)
    response = client.patch(
        RELEASE_SESSIONS.url(record["id"]), json={"areas": ["left_foot"], "technique": "hands"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["areas"], updated["technique"]) == (["left_foot"], "hands")
    untouched = {
        key: value for key, value in record.items() if key not in {"areas", "technique", "version", "updated_at"}
    }
    assert {key: updated[key] for key in untouched} == untouched
    assert fetch(client, alice, RELEASE_SESSIONS, record["id"]) == updated


@pytest.mark.parametrize("name", ["notes", "discomfort"])
def test_patch_null_clears_a_nullable_field(client: TestClient, alice: Account, name: str) -> None:
    record = create(client, alice, RELEASE_SESSIONS, **RELEASE_SESSIONS.nullable)
    response = client.patch(RELEASE_SESSIONS.url(record["id"]), json={name: None}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()[name] is None
    assert response.json()["version"] == 2
    assert fetch(client, alice, RELEASE_SESSIONS, record["id"])[name] is None


def test_patch_can_set_discomfort_to_zero(client: TestClient, alice: Account) -> None:
    record = create(client, alice, RELEASE_SESSIONS, discomfort=5)
    response = client.patch(RELEASE_SESSIONS.url(record["id"]), json={"discomfort": 0}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert fetch(client, alice, RELEASE_SESSIONS, record["id"])["discomfort"] == 0


def test_an_invalid_patch_leaves_the_record_unchanged(client: TestClient, alice: Account) -> None:
    record = create(client, alice, RELEASE_SESSIONS)
    response = client.patch(
        RELEASE_SESSIONS.url(record["id"]), json={"duration_minutes": 30, "areas": []}, headers=alice.headers
    )
    assert_problem(response, 422, "areas")
    assert fetch(client, alice, RELEASE_SESSIONS, record["id"]) == record
