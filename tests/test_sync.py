"""Offline sync (contract §8): the change feed, signed cursors, retention and purge, batch push.

Runs on SQLite and PostgreSQL like every API test. Properties under random interleavings and
concurrent writers are in tests/test_sync_properties.py.
"""

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, update
from sqlmodel import Session

from app.core.db import utcnow
from app.episodes.models import Episode
from app.main import create_app
from app.sync import cursor as cursors
from app.sync.service import purge_tombstones
from tests.conftest import ROOT, Account, new_account, test_settings
from tests.test_auth import assert_problem
from tests.test_migrations import run_alembic

SYNC = "/api/v1/sync"
BATCH = "/api/v1/sync/batch"
EPISODE = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7}
RELEASE = {
    "performed_at": "2026-03-04T20:00:00+01:00",
    "duration_minutes": 10,
    "technique": "hands",
    "areas": ["left_calf"],
}


def pull(client: TestClient, account: Account, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if cursor is not None:
        params["cursor"] = cursor
    if limit is not None:
        params["limit"] = limit
    response = client.get(SYNC, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def pull_all(
    client: TestClient, account: Account, cursor: str | None = None, limit: int = 500
) -> tuple[list[Any], str]:
    changes: list[Any] = []
    while True:
        page = pull(client, account, cursor, limit)
        changes.extend(page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, page["next_cursor"]


def batch(client: TestClient, account: Account, *operations: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(BATCH, json={"operations": list(operations)}, headers=account.headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert len(results) == len(operations)
    return results


def create_episode(client: TestClient, account: Account, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/episodes", json={**EPISODE, **changes}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- the feed ------------------------------------------------------------------------------------


def test_an_empty_diary_has_an_empty_feed_and_a_cursor(client: TestClient, alice: Account) -> None:
    page = pull(client, alice)
    assert page["changes"] == []
    assert page["has_more"] is False
    assert pull(client, alice, page["next_cursor"])["changes"] == []


def test_every_kind_of_change_appears_in_commit_order(client: TestClient, alice: Account) -> None:
    episode = create_episode(client, alice)
    release = client.post("/api/v1/release-sessions", json=RELEASE, headers=alice.headers).json()
    client.post(
        "/api/v1/factors",
        json={"key": "wool_socks", "label": "Wool socks", "category": "footwear"},
        headers=alice.headers,
    )
    exposure = client.post(
        "/api/v1/exposures", json={"factor": "wool_socks", "start_date": "2026-01-01"}, headers=alice.headers
    ).json()
    client.put("/api/v1/checkins/2026-03-04", json={"factors": ["statin"]}, headers=alice.headers)
    client.put("/api/v1/routine", json={"started_on": None, "daily_target_minutes": 9}, headers=alice.headers)
    changes, _ = pull_all(client, alice)
    assert [(c["type"], c["id"], c["op"], c["version"]) for c in changes] == [
        ("episode", episode["id"], "upsert", 1),
        ("release_session", release["id"], "upsert", 1),
        ("factor", "wool_socks", "upsert", 1),
        ("exposure", exposure["id"], "upsert", 1),
        ("checkin", "2026-03-04", "upsert", 1),
        ("routine", "routine", "upsert", 1),
    ]
    assert changes[0]["record"] == episode
    assert changes[1]["record"] == release
    assert changes[2]["record"] == {
        "key": "wool_socks",
        "label": "Wool socks",
        "category": "footwear",
        "builtin": False,
    }
    assert changes[3]["record"] == exposure
    assert changes[4]["record"]["factors"] == ["statin"]
    assert changes[5]["record"]["daily_target_minutes"] == 9
    assert changes[0]["changed_at"] == episode["updated_at"]


def test_a_record_changed_twice_appears_once_at_its_newest_version(client: TestClient, alice: Account) -> None:
    first = create_episode(client, alice)
    second = create_episode(client, alice)
    client.patch(f"/api/v1/episodes/{first['id']}", json={"severity": 2}, headers=alice.headers)
    client.patch(f"/api/v1/episodes/{first['id']}", json={"severity": 3}, headers=alice.headers)
    changes, _ = pull_all(client, alice)
    assert [(c["id"], c["version"]) for c in changes] == [(second["id"], 1), (first["id"], 3)]
    assert changes[1]["record"]["severity"] == 3


def test_deletions_are_tombstones_and_later_changes_come_after_the_cursor(client: TestClient, alice: Account) -> None:
    episode = create_episode(client, alice)
    client.put("/api/v1/checkins/2026-03-04", json={"factors": []}, headers=alice.headers)
    _, cursor = pull_all(client, alice)
    assert client.delete(f"/api/v1/episodes/{episode['id']}", headers=alice.headers).status_code == 204
    assert client.delete("/api/v1/checkins/2026-03-04", headers=alice.headers).status_code == 204
    changes, cursor = pull_all(client, alice, cursor)
    assert [(c["type"], c["op"], c["record"], c["version"]) for c in changes] == [
        ("episode", "delete", None, 2),
        ("checkin", "delete", None, 2),
    ]
    assert pull_all(client, alice, cursor)[0] == []


def test_pages_follow_next_cursor_without_repeats_or_gaps(client: TestClient, alice: Account) -> None:
    created = [create_episode(client, alice, severity=1 + index % 10)["id"] for index in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = pull(client, alice, cursor, limit=3)
        pages += 1
        seen.extend(change["id"] for change in page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == created
    assert pages == 3


def test_the_feed_is_per_user(client: TestClient, alice: Account, bob: Account) -> None:
    create_episode(client, alice)
    assert pull_all(client, bob)[0] == []


def test_a_therapist_may_not_use_the_feed(client: TestClient) -> None:
    therapist = new_account(client, role="therapist")
    assert_problem(client.get(SYNC, headers=therapist.headers), 403)
    assert_problem(client.post(BATCH, json={"operations": []}, headers=therapist.headers), 403)


# --- cursors -------------------------------------------------------------------------------------


def test_another_users_cursor_is_refused(client: TestClient, alice: Account, bob: Account) -> None:
    create_episode(client, alice)
    bobs_cursor = pull(client, bob)["next_cursor"]
    assert_problem(client.get(SYNC, params={"cursor": bobs_cursor}, headers=alice.headers), 422, "cursor")


@pytest.mark.parametrize("change", ["position", "tag", "time"])
def test_a_tampered_cursor_is_refused(client: TestClient, alice: Account, change: str) -> None:
    create_episode(client, alice)
    seq, issued, tag = pull(client, alice, limit=1)["next_cursor"].split(".")
    if change == "position":
        seq = "0"
    elif change == "time":
        issued = str(int(issued) + 1)
    else:
        tag = ("A" if tag[0] != "A" else "B") + tag[1:]
    response = client.get(SYNC, params={"cursor": f"{seq}.{issued}.{tag}"}, headers=alice.headers)
    assert_problem(response, 422, "cursor")


@pytest.mark.parametrize("cursor", ["", "abc", "1.2.3", "1.2." + "x" * 21 + "!", "9" * 20 + ".1." + "A" * 22])
def test_a_malformed_cursor_is_422(client: TestClient, alice: Account, cursor: str) -> None:
    assert_problem(client.get(SYNC, params={"cursor": cursor}, headers=alice.headers), 422)


@pytest.mark.parametrize("limit", [0, 1001, "x"])
def test_limit_outside_1_to_1000_is_422(client: TestClient, alice: Account, limit: Any) -> None:
    assert_problem(client.get(SYNC, params={"limit": limit}, headers=alice.headers), 422, "limit")


def test_a_cursor_issued_more_than_90_days_ago_is_410(client: TestClient, app: FastAPI, alice: Account) -> None:
    owner_id = uuid.UUID(alice.user["id"])
    settings = app.state.settings
    old = cursors.encode(settings, owner_id, 0, utcnow() - dt.timedelta(days=91))
    assert_problem(client.get(SYNC, params={"cursor": old}, headers=alice.headers), 410)
    recent = cursors.encode(settings, owner_id, 0, utcnow() - dt.timedelta(days=89))
    assert client.get(SYNC, params={"cursor": recent}, headers=alice.headers).status_code == 200


# --- retention and purge -------------------------------------------------------------------------


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
        yield session


def test_purge_removes_old_tombstones_and_refuses_cursors_that_missed_them(
    client: TestClient, session: Session, alice: Account, bob: Account
) -> None:
    kept = create_episode(client, alice)
    gone = create_episode(client, alice)
    recent = create_episode(client, alice)
    start = pull(client, alice)["next_cursor"]
    client.delete(f"/api/v1/episodes/{gone['id']}", headers=alice.headers)
    client.delete(f"/api/v1/episodes/{recent['id']}", headers=alice.headers)
    bobs = create_episode(client, bob)
    client.delete(f"/api/v1/episodes/{bobs['id']}", headers=bob.headers)
    long_ago = utcnow() - dt.timedelta(days=91)
    session.execute(update(Episode).where(Episode.id == uuid.UUID(gone["id"])).values(deleted_at=long_ago))  # type: ignore[arg-type]
    session.commit()
    _, caught_up = pull_all(client, alice)

    report = purge_tombstones(session)

    assert (report.tombstones, report.users) == (1, 1)
    assert session.get(Episode, uuid.UUID(gone["id"])) is None
    # Started before the purged deletion: it could miss it, so it starts over.
    assert_problem(client.get(SYNC, params={"cursor": start}, headers=alice.headers), 410)
    assert pull(client, alice, caught_up)["changes"] == []
    fresh, _ = pull_all(client, alice)
    assert [(c["id"], c["op"]) for c in fresh] == [(kept["id"], "upsert"), (recent["id"], "delete")]
    assert [c["op"] for c in pull_all(client, bob)[0]] == ["delete"]


def test_purge_with_nothing_old_changes_nothing(client: TestClient, session: Session, alice: Account) -> None:
    episode = create_episode(client, alice)
    client.delete(f"/api/v1/episodes/{episode['id']}", headers=alice.headers)
    start = pull(client, alice)["next_cursor"]
    assert purge_tombstones(session).tombstones == 0
    assert pull(client, alice, start)["changes"] == []


# --- batch ---------------------------------------------------------------------------------------


def test_a_batch_answers_each_operation_like_its_single_request(
    client: TestClient, alice: Account, bob: Account
) -> None:
    existing = create_episode(client, alice)
    bobs = create_episode(client, bob)
    new_id = str(uuid.uuid4())
    results = batch(
        client,
        alice,
        {"type": "episode", "op": "upsert", "id": new_id, "record": EPISODE},
        {"type": "episode", "op": "upsert", "id": existing["id"], "record": {"severity": 1}, "if_version": 1},
        {"type": "episode", "op": "upsert", "id": existing["id"], "record": {"severity": 2}, "if_version": 1},
        {"type": "episode", "op": "delete", "id": str(uuid.uuid4())},
        {"type": "episode", "op": "upsert", "id": bobs["id"], "record": EPISODE},
        {"type": "episode", "op": "upsert", "record": {**EPISODE, "severity": 11}},
        {"type": "release_session", "op": "upsert", "record": RELEASE},
        {"type": "checkin", "op": "upsert", "id": "2026-03-04", "record": {"factors": ["statin"]}},
        {"type": "checkin", "op": "upsert", "id": "not-a-date", "record": {}},
        {"type": "routine", "op": "upsert", "record": {"started_on": None, "daily_target_minutes": 15}},
        {
            "type": "factor",
            "op": "upsert",
            "id": "wool_socks",
            "record": {"label": "Wool socks", "category": "footwear"},
        },
        {"type": "factor", "op": "upsert", "id": "statin", "record": {"label": "Mine", "category": "medication"}},
        {"type": "exposure", "op": "upsert", "record": {"factor": "not_mine", "start_date": "2026-01-01"}},
        {"type": "episode", "op": "delete", "id": new_id},
    )
    assert [r["status"] for r in results] == [201, 200, 412, 404, 409, 422, 201, 201, 422, 200, 201, 409, 422, 204]
    assert results[0]["id"] == new_id
    assert results[0]["record"]["severity"] == 7
    assert results[1]["record"]["version"] == 2
    # The stale one carries the current record, like a 412 single request.
    assert results[2]["record"]["version"] == 2
    assert results[2]["error"]["status"] == 412
    assert results[5]["error"]["errors"][0]["field"] == "record.severity"
    assert results[6]["id"] == results[6]["record"]["id"]
    assert results[8]["error"]["errors"][0]["field"] == "id"
    assert results[12]["error"]["errors"][0]["field"] == "factor"
    assert results[13]["record"] is None
    assert all(r["error"] is None for r in results if r["status"] < 400)
    assert client.get(f"/api/v1/episodes/{bobs['id']}", headers=bob.headers).json() == bobs


def test_a_replayed_batch_changes_nothing(client: TestClient, alice: Account) -> None:
    existing = create_episode(client, alice)
    doomed = create_episode(client, alice)
    operations = [
        {"type": "episode", "op": "upsert", "id": str(uuid.uuid4()), "record": EPISODE},
        {"type": "episode", "op": "upsert", "id": existing["id"], "record": {"notes": "edited offline"}},
        {"type": "episode", "op": "delete", "id": doomed["id"], "if_version": 1},
        {"type": "checkin", "op": "upsert", "id": "2026-03-04", "record": {"factors": ["statin"], "notes": "x"}},
        {"type": "routine", "op": "upsert", "record": {"started_on": "2026-01-01", "daily_target_minutes": 15}},
        {
            "type": "factor",
            "op": "upsert",
            "id": "wool_socks",
            "record": {"label": "Wool socks", "category": "footwear"},
        },
        {"type": "release_session", "op": "upsert", "id": str(uuid.uuid4()), "record": RELEASE},
    ]
    first = batch(client, alice, *operations)
    assert [r["status"] for r in first] == [201, 200, 204, 201, 200, 201, 201]
    _, cursor = pull_all(client, alice)
    replay = batch(client, alice, *operations)
    assert [r["status"] for r in replay] == [200, 200, 404, 200, 200, 200, 200]
    assert pull(client, alice, cursor)["changes"] == []
    for before, after in zip(first, replay, strict=True):
        if after["status"] == 200:
            assert after["record"] == before["record"]


def test_an_upsert_of_a_stored_record_without_if_version_is_last_write_wins(client: TestClient, alice: Account) -> None:
    episode = create_episode(client, alice)
    client.patch(f"/api/v1/episodes/{episode['id']}", json={"severity": 2}, headers=alice.headers)
    [result] = batch(client, alice, {"type": "episode", "op": "upsert", "id": episode["id"], "record": {"severity": 9}})
    assert (result["status"], result["record"]["severity"], result["record"]["version"]) == (200, 9, 3)
    # The original create sent again is recognised and changes nothing.
    [replay] = batch(client, alice, {"type": "episode", "op": "upsert", "id": episode["id"], "record": EPISODE})
    assert (replay["status"], replay["record"]["severity"], replay["record"]["version"]) == (200, 9, 3)


def test_a_stale_if_version_fails_only_that_operation(client: TestClient, alice: Account) -> None:
    episode = create_episode(client, alice)
    client.put("/api/v1/checkins/2026-03-04", json={"factors": []}, headers=alice.headers)
    results = batch(
        client,
        alice,
        {"type": "episode", "op": "upsert", "id": episode["id"], "record": {"severity": 1}, "if_version": 5},
        {"type": "checkin", "op": "upsert", "id": "2026-03-04", "record": {"factors": ["statin"]}, "if_version": 1},
        {"type": "checkin", "op": "delete", "id": "2026-03-04", "if_version": 1},
        {"type": "routine", "op": "upsert", "record": {"started_on": None, "daily_target_minutes": 6}, "if_version": 3},
    )
    assert [r["status"] for r in results] == [412, 200, 412, 412]
    assert results[0]["record"] == episode
    assert results[2]["record"]["version"] == 2


def test_operations_the_single_endpoints_do_not_have_are_422(client: TestClient, alice: Account) -> None:
    results = batch(
        client,
        alice,
        {"type": "routine", "op": "delete"},
        {"type": "factor", "op": "delete", "id": "statin"},
        {"type": "episode", "op": "delete"},
        {"type": "episode", "op": "upsert", "id": "not-a-uuid", "record": EPISODE},
        {"type": "episode", "op": "upsert", "id": str(uuid.uuid4())},
        {"type": "episode", "op": "upsert", "id": str(uuid.uuid4()), "record": {**EPISODE, "id": str(uuid.uuid4())}},
        {
            "type": "factor",
            "op": "upsert",
            "id": "a_key",
            "record": {"key": "b_key", "label": "B", "category": "other"},
        },
        {"type": "checkin", "op": "upsert", "id": "2026-03-04", "record": {"factors": ["statin"], "mood": 3}},
    )
    assert [r["status"] for r in results] == [422] * 8
    assert [r["error"]["errors"][0]["field"] for r in results] == [
        "op",
        "op",
        "id",
        "id",
        "record",
        "record.id",
        "record.key",
        "record.mood",
    ]


def test_more_than_500_operations_is_422(client: TestClient, alice: Account) -> None:
    operation = {"type": "routine", "op": "upsert", "record": {"started_on": None, "daily_target_minutes": 5}}
    response = client.post(BATCH, json={"operations": [operation] * 501}, headers=alice.headers)
    assert_problem(response, 422, "operations")
    assert len(batch(client, alice, *[operation] * 500)) == 500


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"operations": [{"type": "diary", "op": "upsert"}]},
        {"operations": [{"type": "episode", "op": "merge"}]},
        {"operations": [{"type": "episode", "op": "delete", "if_version": "1"}]},
        {"operations": [{"type": "episode", "op": "delete", "extra": 1}]},
        {"operations": "all"},
    ],
)
def test_a_malformed_batch_is_422(client: TestClient, alice: Account, body: dict[str, Any]) -> None:
    assert_problem(client.post(BATCH, json=body, headers=alice.headers), 422)


def test_an_upsert_of_a_deleted_record_is_answered_as_its_patch_or_post_would_be(
    client: TestClient, alice: Account
) -> None:
    episode = create_episode(client, alice)
    client.delete(f"/api/v1/episodes/{episode['id']}", headers=alice.headers)
    results = batch(
        client,
        alice,
        {"type": "episode", "op": "upsert", "id": episode["id"], "record": {"severity": 2}},
        {"type": "episode", "op": "upsert", "id": episode["id"], "record": {"severity": 2}, "if_version": 2},
        {"type": "episode", "op": "upsert", "id": episode["id"], "record": EPISODE},
    )
    assert [r["status"] for r in results] == [404, 404, 409]


def test_the_migration_numbers_a_diary_written_before_sync_existed(committed_db: str) -> None:
    """Data written before revision 0004: after the upgrade, the feed from an empty cursor serves
    every record in the order it was last changed, and new changes come after them."""
    with TestClient(create_app(test_settings(committed_db))) as client:
        account = new_account(client)
        first = create_episode(client, account)
        client.put("/api/v1/routine", json={"started_on": None, "daily_target_minutes": 8}, headers=account.headers)
        second = create_episode(client, account)
        client.patch(f"/api/v1/episodes/{first['id']}", json={"severity": 1}, headers=account.headers)
        client.delete(f"/api/v1/episodes/{second['id']}", headers=account.headers)
        other = new_account(client)
        create_episode(client, other)
    run_alembic(committed_db, command.downgrade, "0003")
    run_alembic(committed_db, command.upgrade, "head")
    with TestClient(create_app(test_settings(committed_db))) as client:
        changes, cursor = pull_all(client, account)
        assert [(c["type"], c["id"], c["op"]) for c in changes] == [
            ("routine", "routine", "upsert"),
            ("episode", first["id"], "upsert"),
            ("episode", second["id"], "delete"),
        ]
        assert len(pull_all(client, other)[0]) == 1
        later = create_episode(client, account)
        assert [c["id"] for c in pull_all(client, account, cursor)[0]] == [later["id"]]


def test_a_write_equal_to_the_stored_record_changes_nothing(client: TestClient, alice: Account) -> None:
    episode = create_episode(client, alice)
    client.put("/api/v1/checkins/2026-03-04", json={"factors": ["statin"]}, headers=alice.headers)
    _, cursor = pull_all(client, alice)
    same = client.patch(f"/api/v1/episodes/{episode['id']}", json={"severity": 7, "leg": "left"}, headers=alice.headers)
    assert same.json() == episode
    again = client.put("/api/v1/checkins/2026-03-04", json={"factors": ["statin"]}, headers=alice.headers)
    assert (again.status_code, again.json()["version"]) == (200, 1)
    assert pull(client, alice, cursor)["changes"] == []


def test_the_purge_command_runs_against_the_configured_database(committed_db: str) -> None:
    environment = {**os.environ, "DATABASE_URL": committed_db, "SECRET_KEY": "x" * 40}
    finished = subprocess.run(
        [sys.executable, "-m", "app", "purge-tombstones"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("purged 0 tombstones of 0 users"), finished.stdout


def test_imported_records_reach_the_feed(client: TestClient, alice: Account) -> None:
    """A CSV import writes many records in one use case; each gets its own change number."""
    create_episode(client, alice, notes="before")
    _, cursor = pull_all(client, alice)
    header, row = (
        client.get("/api/v1/export/episodes.csv", headers=alice.headers).text.replace("before", "after").split()
    )
    copy_without_id = "," + row.split(",", 1)[1]
    content = "\r\n".join((header, row, copy_without_id)) + "\r\n"
    response = client.post(
        "/api/v1/import/episodes.csv", content=content, headers={**alice.headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"]) == (1, 1)
    changes, _ = pull_all(client, alice, cursor)
    assert [change["type"] for change in changes] == ["episode", "episode"]
    assert {change["record"]["notes"] for change in changes} == {"after"}
