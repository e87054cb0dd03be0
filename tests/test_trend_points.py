"""GET /api/v1/trends (contract §5): periods, diary days, means and adherence."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.test_episodes import assert_problem


def trends(client: TestClient, account: Account, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/trends", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["granularity"] == params.get("granularity", "week")
    points: list[dict[str, Any]] = response.json()["points"]
    return points


def episode(client: TestClient, account: Account, started_at: str, severity: int = 5, **extra: Any) -> str:
    body = {"started_at": started_at, "leg": "left", "severity": severity, **extra}
    response = client.post("/api/v1/episodes", json=body, headers=account.headers)
    assert response.status_code == 201
    return str(response.json()["id"])


def release(client: TestClient, account: Account, day: str, minutes: int) -> None:
    body = {
        "performed_at": f"{day}T19:00:00Z",
        "duration_minutes": minutes,
        "technique": "hands",
        "areas": ["left_calf"],
    }
    assert client.post("/api/v1/release-sessions", json=body, headers=account.headers).status_code == 201


@pytest.mark.parametrize(
    "params",
    [{"granularity": "year"}, {"from": "2026-13-01"}, {"from": "2010-01-01", "to": "2026-01-01"}],
)
def test_bad_trend_requests_are_422(client: TestClient, bob: Account, params: dict[str, str]) -> None:
    assert_problem(client.get("/api/v1/trends", params=params, headers=bob.headers), 422)


def test_weeks_start_on_monday_and_every_period_is_listed(client: TestClient, bob: Account) -> None:
    points = trends(client, bob, **{"from": "2026-03-04", "to": "2026-03-24"})  # a Wednesday to a Tuesday
    assert [p["period_start"] for p in points] == ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23"]
    assert all(p == {**p, "days_logged": 0, "episodes": 0, "mean_severity": None, "release_minutes": 0} for p in points)


def test_day_and_month_periods(client: TestClient, bob: Account) -> None:
    days = trends(client, bob, granularity="day", **{"from": "2026-02-27", "to": "2026-03-02"})
    assert [p["period_start"] for p in days] == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
    months = trends(client, bob, granularity="month", **{"from": "2026-01-15", "to": "2026-03-02"})
    assert [p["period_start"] for p in months] == ["2026-01-01", "2026-02-01", "2026-03-01"]


def test_counts_means_and_logged_days(client: TestClient, bob: Account, alice: Account) -> None:
    episode(client, bob, "2026-03-03T10:00:00Z", severity=4)
    episode(client, bob, "2026-03-04T10:00:00Z", severity=8)
    gone = episode(client, bob, "2026-03-04T11:00:00Z", severity=1)
    client.delete(f"/api/v1/episodes/{gone}", headers=bob.headers)
    client.put("/api/v1/checkins/2026-03-05", json={}, headers=bob.headers)
    release(client, bob, "2026-03-06", 12)
    episode(client, alice, "2026-03-03T10:00:00Z", severity=10)
    (week,) = trends(client, bob, **{"from": "2026-03-02", "to": "2026-03-08"})
    assert week["episodes"] == 2
    assert week["mean_severity"] == 6.0
    assert week["days_logged"] == 4  # two episode days, a check-in day, a release day
    assert week["release_minutes"] == 12


def test_a_sleep_cramp_on_monday_night_counts_for_the_sunday_week(client: TestClient, bob: Account) -> None:
    episode(client, bob, "2026-03-09T03:00:00Z", during_sleep=True)  # Monday 03:00: Sunday's night
    weeks = trends(client, bob, **{"from": "2026-03-02", "to": "2026-03-15"})
    assert [p["episodes"] for p in weeks] == [1, 0]


def test_adherence_is_the_share_of_days_reaching_the_target_from_the_routine_start(
    client: TestClient, bob: Account
) -> None:
    client.put("/api/v1/routine", json={"started_on": "2026-03-04", "daily_target_minutes": 10}, headers=bob.headers)
    release(client, bob, "2026-03-04", 12)
    release(client, bob, "2026-03-05", 5)
    release(client, bob, "2026-03-06", 6)
    release(client, bob, "2026-03-06", 6)  # two sessions add up to the target
    days = trends(client, bob, granularity="day", **{"from": "2026-03-03", "to": "2026-03-05"})
    assert [p["adherence_rate"] for p in days] == [None, 1.0, 0.0]
    (week,) = trends(client, bob, **{"from": "2026-03-02", "to": "2026-03-08"})
    assert week["adherence_rate"] == pytest.approx(2 / 5, abs=1e-3)  # 4th..8th: 4th and 6th adherent


def test_to_before_from_lists_no_points(client: TestClient, bob: Account) -> None:
    assert trends(client, bob, **{"from": "2026-03-05", "to": "2026-03-01"}) == []
