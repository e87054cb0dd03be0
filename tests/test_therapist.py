"""The therapist's side of contract §6: read-only views equal to the client's own, the one access
rule (404 for anyone not actively linked), ClientSummary figures and alerts, sorting, and a
constant number of SQL statements whatever the number of clients."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event

from tests.conftest import Account, new_account
from tests.sharing_helpers import log_checkin, log_episode, log_release, share

CLIENT_VIEWS = ("episodes", "release-sessions", "exposures", "checkins", "trends", "analysis")


@pytest.fixture
def doctor(client: TestClient) -> Account:
    return new_account(client, role="therapist")


def summaries(client: TestClient, therapist: Account, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/therapist/clients", params=params, headers=therapist.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_every_view_equals_the_clients_own(client: TestClient, alice: Account, doctor: Account) -> None:
    share(client, alice, doctor)
    for days_ago in range(20):
        log_episode(client, alice, days_ago, severity=3 + days_ago % 5, notes="n")
        log_release(client, alice, days_ago, minutes=5)
        log_checkin(client, alice, days_ago)
    client.post("/api/v1/exposures", json={"factor": "statin", "start_date": "2026-01-01"}, headers=alice.headers)
    for view in CLIENT_VIEWS:
        for params in ({}, {"from": "2026-01-01", "to": "2026-12-31"}):
            own = client.get(f"/api/v1/{view}", params=params, headers=alice.headers)
            shared = client.get(
                f"/api/v1/therapist/clients/{alice.user['id']}/{view}", params=params, headers=doctor.headers
            )
            assert shared.status_code == own.status_code == 200, (view, shared.text)
            if view == "analysis":
                mine, theirs = own.json(), shared.json()
                mine.pop("generated_at"), theirs.pop("generated_at")
                assert theirs == mine
            else:
                assert shared.json() == own.json(), view


def test_paging_and_filters_work_on_the_shared_lists(client: TestClient, alice: Account, doctor: Account) -> None:
    share(client, alice, doctor)
    for days_ago in range(5):
        log_episode(client, alice, days_ago)
    base = f"/api/v1/therapist/clients/{alice.user['id']}/episodes"
    first = client.get(base, params={"limit": "3"}, headers=doctor.headers).json()
    rest = client.get(base, params={"limit": "3", "cursor": first["next_cursor"]}, headers=doctor.headers).json()
    assert len(first["items"]) == 3
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None
    assert client.get(base, params={"limit": "201"}, headers=doctor.headers).status_code == 422
    assert client.get(base, params={"from": "yesterday"}, headers=doctor.headers).status_code == 422


@pytest.mark.parametrize("view", CLIENT_VIEWS)
def test_a_client_not_actively_linked_is_404(
    client: TestClient, alice: Account, bob: Account, doctor: Account, view: str
) -> None:
    share(client, alice, doctor)
    for client_id in (bob.user["id"], doctor.user["id"], str(uuid.uuid4())):
        response = client.get(f"/api/v1/therapist/clients/{client_id}/{view}", headers=doctor.headers)
        assert response.status_code == 404, (client_id, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/therapist/clients/nope/{view}", headers=doctor.headers).status_code == 422
    # Another therapist, and the client themself, cannot use the therapist view.
    stranger = new_account(client, role="therapist")
    assert (
        client.get(f"/api/v1/therapist/clients/{alice.user['id']}/{view}", headers=stranger.headers).status_code == 404
    )
    assert client.get(f"/api/v1/therapist/clients/{alice.user['id']}/{view}", headers=alice.headers).status_code == 403
    assert client.get(f"/api/v1/therapist/clients/{alice.user['id']}/{view}").status_code == 401


def test_therapists_cannot_write_a_clients_diary(client: TestClient, alice: Account, doctor: Account) -> None:
    share(client, alice, doctor)
    log_episode(client, alice, 1)
    episode = client.get("/api/v1/episodes", headers=alice.headers).json()["items"][0]
    base = f"/api/v1/therapist/clients/{alice.user['id']}/episodes"
    assert client.post(base, json={}, headers=doctor.headers).status_code == 405
    assert client.patch(f"{base}/{episode['id']}", json={"severity": 1}, headers=doctor.headers).status_code == 404
    # The diary endpoints act on the caller's own diary only.
    own = client.patch(f"/api/v1/episodes/{episode['id']}", json={"severity": 1}, headers=doctor.headers)
    assert own.status_code == 404
    assert client.delete(f"/api/v1/episodes/{episode['id']}", headers=doctor.headers).status_code == 404
    assert client.get(f"/api/v1/episodes/{episode['id']}", headers=alice.headers).json()["severity"] == 5


def test_summary_figures(client: TestClient, doctor: Account) -> None:
    patient = new_account(client, timezone="America/Los_Angeles")
    link = share(client, patient, doctor)
    client.put("/api/v1/routine", json={"started_on": None, "daily_target_minutes": 5}, headers=patient.headers)
    # The 30 days before the last 30: 2 episodes on 8 logged days.
    for days_ago in range(30, 38):
        log_checkin(client, patient, days_ago)
    log_episode(client, patient, 35, severity=4)
    log_episode(client, patient, 40, severity=4)  # logged, but not a checked-in day
    # The last 30 days: 6 episodes, one of them severe this week; releases on 10 days from day 19 ago.
    for days_ago, severity in ((0, 9), (3, 5), (10, 6), (12, 2), (20, 3), (29, 5)):
        log_episode(client, patient, days_ago, severity=severity)
    for days_ago in range(10, 20):
        log_release(client, patient, days_ago, minutes=6)
    log_episode(client, patient, 61, severity=10)  # outside both windows

    (summary,) = summaries(client, doctor)
    assert summary["client_id"] == patient.user["id"]
    assert summary["linked_at"] == link["created_at"]
    assert summary["last_entry_at"] is not None
    assert summary["episodes_7d"] == 2
    assert summary["episodes_30d"] == 6
    assert summary["episodes_prev_30d"] == 2
    assert summary["rate_change_30d"] == 3.0
    assert summary["mean_severity_30d"] == round(30 / 6, 2)
    assert summary["days_logged_30d"] == 6 + 10 - 2  # episode days and release days; two coincide
    # The routine starts at the first release (19 days ago): 20 days, 10 adherent.
    assert summary["adherence_30d"] == 0.5
    assert summary["trend"] == "rising"
    # Last 14 days: releases on days 10..13 ago only: 4 of 14 adherent.
    assert summary["alerts"] == ["cramps_rising", "severe_episode", "low_adherence"]


def test_a_new_client_has_nulls_and_insufficient_data(client: TestClient, alice: Account, doctor: Account) -> None:
    share(client, alice, doctor)
    (summary,) = summaries(client, doctor)
    assert summary == {
        "client_id": alice.user["id"],
        "display_name": None,
        "linked_at": summary["linked_at"],
        "last_entry_at": None,
        "days_logged_30d": 0,
        "episodes_7d": 0,
        "episodes_30d": 0,
        "episodes_prev_30d": 0,
        "rate_change_30d": None,
        "mean_severity_30d": None,
        "adherence_30d": None,
        "trend": "insufficient_data",
        "alerts": ["not_logging"],
    }


def test_trend_falling_and_stable(client: TestClient, doctor: Account) -> None:
    falling, stable = new_account(client), new_account(client)
    for patient in (falling, stable):
        share(client, patient, doctor)
        for days_ago in range(0, 60, 3):
            log_checkin(client, patient, days_ago)
    for days_ago in (31, 33, 36, 40, 45, 50):
        log_episode(client, falling, days_ago)
    log_episode(client, falling, 2)
    for days_ago in (2, 5, 33, 36):
        log_episode(client, stable, days_ago)
    by_id = {s["client_id"]: s for s in summaries(client, doctor)}
    assert by_id[falling.user["id"]]["trend"] == "falling"
    assert by_id[stable.user["id"]]["trend"] == "stable"
    assert by_id[stable.user["id"]]["alerts"] == []


def test_deleted_records_do_not_count(client: TestClient, alice: Account, doctor: Account) -> None:
    share(client, alice, doctor)
    log_episode(client, alice, 1, severity=9)
    episode = client.get("/api/v1/episodes", headers=alice.headers).json()["items"][0]
    client.delete(f"/api/v1/episodes/{episode['id']}", headers=alice.headers)
    (summary,) = summaries(client, doctor)
    assert summary["episodes_7d"] == 0
    assert summary["last_entry_at"] is None
    assert "severe_episode" not in summary["alerts"]


def test_sorting(client: TestClient, doctor: Account) -> None:
    patients = [new_account(client) for _ in range(3)]
    for patient, name, episodes in zip(patients, ("b", "C", "a"), (2, 0, 5), strict=True):
        client.patch("/api/v1/users/me", json={"display_name": name}, headers=patient.headers)
        share(client, patient, doctor)
        for days_ago in range(episodes):
            log_episode(client, patient, days_ago)

    def names(sort: str) -> list[str]:
        return [s["display_name"] for s in summaries(client, doctor, sort=sort)]

    assert names("display_name") == ["a", "b", "C"]
    assert names("-display_name") == ["C", "b", "a"]
    assert names("-episodes_30d") == ["a", "b", "C"]
    assert names("episodes_30d") == ["C", "b", "a"]
    assert names("-last_entry_at")[-1] == "C"  # no entries: last whichever the direction
    assert names("last_entry_at")[-1] == "C"
    assert names("-linked_at") == ["a", "C", "b"]
    for sort in ("rate_change_30d", "-adherence_30d"):
        assert sorted(names(sort)) == ["C", "a", "b"]
    bad = client.get("/api/v1/therapist/clients", params={"sort": "email"}, headers=doctor.headers)
    assert bad.status_code == 422


@contextmanager
def counted_statements(connection: Connection) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", count)


def test_the_client_list_costs_the_same_statements_for_3_and_30_clients(
    client: TestClient, connection: Connection
) -> None:
    counts = {}
    for size in (3, 30):
        doctor = new_account(client, role="therapist")
        for index in range(size):
            patient = new_account(client, timezone=("UTC", "Asia/Tokyo", "America/New_York")[index % 3])
            share(client, patient, doctor)
            log_episode(client, patient, index % 10)
            log_release(client, patient, index % 7)
        with counted_statements(connection) as statements:
            assert len(summaries(client, doctor)) == size
        counts[size] = len(statements)
    assert counts[3] == counts[30], counts
    assert counts[3] <= 7, counts
