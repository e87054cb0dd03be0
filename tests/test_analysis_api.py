"""GET /api/v1/analysis end to end: what counts as a diary day, whose data, and the demo's verdicts."""

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.demo import CLIENT_EMAIL, THERAPIST_EMAIL, load
from app.main import create_app
from tests.conftest import Account, login, new_account, test_settings


def analysis(client: TestClient, account: Account, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/analysis", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def factor(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(entry for entry in report["factors"] if entry["factor"] == key)


def episode(client: TestClient, account: Account, started_at: str, **extra: Any) -> str:
    body = {"started_at": started_at, "leg": "left", "severity": 5, **extra}
    response = client.post("/api/v1/episodes", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_analysis_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/analysis").status_code == 401


@pytest.mark.parametrize("params", [{"from": "2026-13-01"}, {"to": "yesterday"}, {"from": "1899-12-31"}])
def test_bad_window_dates_are_422(client: TestClient, alice: Account, params: dict[str, str]) -> None:
    assert client.get("/api/v1/analysis", params=params, headers=alice.headers).status_code == 422


def test_an_empty_diary_is_insufficient_data_with_nulls_not_zeros(client: TestClient, alice: Account) -> None:
    report = analysis(client, alice)
    assert report["status"] == "insufficient_data"
    assert report["outcome"]["rate_per_day"] is None
    assert report["outcome"]["mean_severity"] is None


def test_unlogged_days_are_missing_data_not_cramp_free_days(client: TestClient, bob: Account) -> None:
    for day in ("2026-03-02", "2026-03-04", "2026-03-06"):
        assert client.put(f"/api/v1/checkins/{day}", json={}, headers=bob.headers).status_code == 201
    episode(client, bob, "2026-03-04T10:00:00Z")
    window = analysis(client, bob, **{"from": "2026-03-01", "to": "2026-03-10"})
    assert window["window"] == {
        "from": "2026-03-01",
        "to": "2026-03-10",
        "days_in_range": 10,
        "days_logged": 3,
        "days_missing": 7,
    }
    assert math.isclose(window["outcome"]["rate_per_day"], 1 / 3)


def test_a_sleep_cramp_at_three_in_the_morning_counts_for_the_evening_before(client: TestClient, bob: Account) -> None:
    # High heels on the evening of the 2nd; the cramp wakes the client at 03:00 on the 3rd.
    client.put("/api/v1/checkins/2026-03-02", json={"factors": ["high_heels"]}, headers=bob.headers)
    client.put("/api/v1/checkins/2026-03-03", json={}, headers=bob.headers)
    episode(client, bob, "2026-03-03T03:00:00Z", during_sleep=True)
    heels = factor(analysis(client, bob, **{"from": "2026-03-01", "to": "2026-03-05"}), "high_heels")
    assert (heels["events_exposed"], heels["events_unexposed"]) == (1, 0)


def test_an_exposure_covers_every_day_of_its_range(client: TestClient, bob: Account) -> None:
    exposure = {"factor": "statin", "start_date": "2026-03-02", "end_date": "2026-03-03"}
    assert client.post("/api/v1/exposures", json=exposure, headers=bob.headers).status_code == 201
    for day in ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"):
        client.put(f"/api/v1/checkins/{day}", json={}, headers=bob.headers)
    statin = factor(analysis(client, bob, **{"from": "2026-03-01", "to": "2026-03-04"}), "statin")
    assert (statin["exposed_days"], statin["unexposed_days"]) == (2, 2)


def test_deleted_records_and_other_users_data_are_never_counted(
    client: TestClient, alice: Account, bob: Account
) -> None:
    client.put("/api/v1/checkins/2026-03-02", json={}, headers=bob.headers)
    gone = episode(client, bob, "2026-03-02T10:00:00Z")
    assert client.delete(f"/api/v1/episodes/{gone}", headers=bob.headers).status_code == 204
    episode(client, alice, "2026-03-02T10:00:00Z")
    report = analysis(client, bob, **{"from": "2026-03-01", "to": "2026-03-03"})
    assert report["outcome"]["events"] == 0
    assert report["window"]["days_logged"] == 1


def test_the_report_is_the_same_for_the_same_data(client: TestClient, bob: Account) -> None:
    client.put("/api/v1/checkins/2026-03-02", json={"factors": ["statin"]}, headers=bob.headers)
    episode(client, bob, "2026-03-02T10:00:00Z")
    first, second = analysis(client, bob), analysis(client, bob)
    first.pop("generated_at"), second.pop("generated_at")
    assert first == second


def test_the_demo_shows_the_statin_raising_and_the_routine_lowering_the_rate(committed_db: str) -> None:
    logins = load(test_settings(committed_db))
    with TestClient(create_app(test_settings(committed_db))) as client:
        tokens = login(client, CLIENT_EMAIL, logins.client_password)
        demo = Account(user={}, tokens=tokens)
        report = analysis(client, demo)
        other = new_account(client)
        assert analysis(client, other)["outcome"]["events"] == 0
        # The demo therapist is linked and sees the same report.
        therapist = Account(user={}, tokens=login(client, THERAPIST_EMAIL, logins.therapist_password))
        (summary,) = client.get("/api/v1/therapist/clients", headers=therapist.headers).json()["items"]
        shared = client.get(f"/api/v1/therapist/clients/{summary['client_id']}/analysis", headers=therapist.headers)
        assert shared.json()["factors"] == report["factors"]
    assert report["status"] == "ok"
    assert factor(report, "statin")["verdict"] == "likely_increases"
    assert report["adherence"]["verdict"] == "likely_decreases"
    for key in ("high_heels", "orthotics", "electrolyte_drink"):
        assert not factor(report, key)["verdict"].startswith("likely_"), factor(report, key)


@pytest.mark.parametrize("params", [{"from": "2026-03-05", "to": "2026-03-01"}, {"from": "2199-01-01"}])
def test_an_empty_window_is_a_report_of_no_days(client: TestClient, bob: Account, params: dict[str, str]) -> None:
    client.put("/api/v1/checkins/2026-03-02", json={"factors": ["statin"]}, headers=bob.headers)
    report = analysis(client, bob, **params)
    assert report["status"] == "insufficient_data"
    assert report["window"]["days_in_range"] == 0
    assert report["outcome"]["events"] == 0


def test_a_diary_longer_than_the_window_limit_defaults_to_its_last_3660_days(client: TestClient, bob: Account) -> None:
    """An old check-in (say, imported) must not turn the default window into a 422."""
    assert client.put("/api/v1/checkins/2001-01-01", json={}, headers=bob.headers).status_code == 201
    today = client.get("/api/v1/trends", params={"granularity": "month"}, headers=bob.headers)
    assert today.status_code == 200, today.text
    assert len(today.json()["points"]) in (120, 121, 122)  # 3,660 days are about 120 months
    report = analysis(client, bob)
    assert report["window"]["days_in_range"] == 3660
    explicit = client.get("/api/v1/analysis", params={"from": "2001-01-01"}, headers=bob.headers)
    assert explicit.status_code == 422
