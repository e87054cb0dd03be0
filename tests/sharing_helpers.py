"""Helpers for the sharing and therapist tests: make a code, redeem it, log diary entries."""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.conftest import Account


def make_code(client: TestClient, patient: Account) -> str:
    response = client.post("/api/v1/sharing/codes", headers=patient.headers)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


def share(client: TestClient, patient: Account, therapist: Account) -> dict[str, Any]:
    """Links `patient` to `therapist` through a fresh code; returns the therapist's view of the link."""
    response = client.post(
        "/api/v1/therapist/links", json={"code": make_code(client, patient)}, headers=therapist.headers
    )
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def local_today(account: Account) -> dt.date:
    return dt.datetime.now(ZoneInfo(account.user["timezone"])).date()


def noon(account: Account, days_ago: int) -> str:
    """Local noon (or now, if earlier) `days_ago` diary days before today, in the account's time zone."""
    zone = ZoneInfo(account.user["timezone"])
    now = dt.datetime.now(zone)
    day = now.date() - dt.timedelta(days=days_ago)
    # Today's noon may not have come yet; the present moment is today too.
    return min(dt.datetime(day.year, day.month, day.day, 12, tzinfo=zone), now).isoformat()


def log_episode(client: TestClient, account: Account, days_ago: int, severity: int = 5, **extra: Any) -> None:
    body = {"started_at": noon(account, days_ago), "leg": "left", "severity": severity, **extra}
    response = client.post("/api/v1/episodes", json=body, headers=account.headers)
    assert response.status_code == 201, response.text


def log_release(client: TestClient, account: Account, days_ago: int, minutes: int = 10) -> None:
    body = {
        "performed_at": noon(account, days_ago),
        "duration_minutes": minutes,
        "technique": "foam_roller",
        "areas": ["left_calf"],
    }
    response = client.post("/api/v1/release-sessions", json=body, headers=account.headers)
    assert response.status_code == 201, response.text


def log_checkin(client: TestClient, account: Account, days_ago: int) -> None:
    day = local_today(account) - dt.timedelta(days=days_ago)
    response = client.put(f"/api/v1/checkins/{day.isoformat()}", json={"factors": []}, headers=account.headers)
    assert response.status_code in (200, 201), response.text
