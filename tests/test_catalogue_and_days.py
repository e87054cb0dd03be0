"""Routine, factor catalogue, exposures and daily check-ins (contract §4, §8's versions)."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.test_episodes import assert_problem

BUILTIN = {
    "statin": "medication",
    "diuretic": "medication",
    "birth_control_pill": "medication",
    "high_heels": "footwear",
    "rigid_shoes": "footwear",
    "orthotics": "footwear",
    "mineral_supplement": "remedy",
    "electrolyte_drink": "remedy",
    "warm_shower": "remedy",
    "acetaminophen": "remedy",
    "stretching": "remedy",
}
EXPOSURE = {"factor": "statin", "start_date": "2026-02-01"}


def put_checkin(client: TestClient, account: Account, day: str, **body: Any) -> Any:
    return client.put(f"/api/v1/checkins/{day}", json=body, headers=account.headers)


def new_exposure(client: TestClient, account: Account, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/exposures", json={**EXPOSURE, **overrides}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- routine ---------------------------------------------------------------------------------------


def test_the_routine_defaults_before_it_is_set(client: TestClient, alice: Account) -> None:
    routine = client.get("/api/v1/routine", headers=alice.headers).json()
    assert routine == {
        "started_on": None,
        "daily_target_minutes": 5,
        "effective_start": None,
        "version": 0,
        "updated_at": None,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"started_on": None, "daily_target_minutes": 0},
        {"started_on": None, "daily_target_minutes": 241},
        {"started_on": None, "daily_target_minutes": "5"},
        {"started_on": None, "daily_target_minutes": True},
        {"started_on": None, "daily_target_minutes": 5.5},
        {"started_on": "2026-02-30", "daily_target_minutes": 5},
        {"daily_target_minutes": 5},
        {"started_on": None},
        {"started_on": None, "daily_target_minutes": 5, "extra": 1},
    ],
)
def test_a_bad_routine_is_422(client: TestClient, alice: Account, body: dict[str, Any]) -> None:
    assert_problem(client.put("/api/v1/routine", json=body, headers=alice.headers), 422)


def test_the_routine_starts_on_the_first_release_session_unless_set(client: TestClient, alice: Account) -> None:
    session = {
        "performed_at": "2026-03-04T19:30:00+01:00",
        "duration_minutes": 10,
        "technique": "hands",
        "areas": ["left_calf"],
    }
    client.post("/api/v1/release-sessions", json=session, headers=alice.headers)
    assert client.get("/api/v1/routine", headers=alice.headers).json()["effective_start"] == "2026-03-04"
    response = client.put(
        "/api/v1/routine", json={"started_on": "2026-03-01", "daily_target_minutes": 12}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["effective_start"] == "2026-03-01"
    assert response.json()["daily_target_minutes"] == 12


def test_a_stale_if_match_on_the_routine_is_412(client: TestClient, alice: Account) -> None:
    body = {"started_on": None, "daily_target_minutes": 7}
    client.put("/api/v1/routine", json=body, headers=alice.headers)
    stale = client.put("/api/v1/routine", json=body, headers={**alice.headers, "If-Match": '"9"'})
    assert assert_problem(stale, 412)["record"]["daily_target_minutes"] == 7
    fresh = client.put(
        "/api/v1/routine", json={**body, "daily_target_minutes": 8}, headers={**alice.headers, "If-Match": '"1"'}
    )
    assert fresh.json()["version"] == 2
    same_again = client.put("/api/v1/routine", json={**body, "daily_target_minutes": 8}, headers=alice.headers)
    assert same_again.json()["version"] == 2


def test_routines_are_per_user(client: TestClient, alice: Account, bob: Account) -> None:
    client.put("/api/v1/routine", json={"started_on": None, "daily_target_minutes": 30}, headers=alice.headers)
    assert client.get("/api/v1/routine", headers=bob.headers).json()["daily_target_minutes"] == 5


# --- factors ---------------------------------------------------------------------------------------


def test_the_catalogue_starts_with_the_eleven_builtin_factors(client: TestClient, alice: Account) -> None:
    items = client.get("/api/v1/factors", headers=alice.headers).json()["items"]
    assert {item["key"]: item["category"] for item in items} == BUILTIN
    assert all(item["builtin"] and item["label"] for item in items)


@pytest.mark.parametrize(
    "body",
    [
        {"key": "Magnesium", "label": "x", "category": "remedy"},
        {"key": "1magnesium", "label": "x", "category": "remedy"},
        {"key": "m", "label": "x", "category": "remedy"},
        {"key": "m" * 41, "label": "x", "category": "remedy"},
        {"key": "magnesium-spray", "label": "x", "category": "remedy"},
        {"key": "magnesium", "label": "x" * 81, "category": "remedy"},
        {"key": "magnesium", "label": "x", "category": "food"},
        {"key": "magnesium", "label": "x"},
        {"key": "magnesium", "label": "x", "category": "remedy", "builtin": True},
    ],
)
def test_a_bad_custom_factor_is_422(client: TestClient, alice: Account, body: dict[str, Any]) -> None:
    assert_problem(client.post("/api/v1/factors", json=body, headers=alice.headers), 422)


def test_a_custom_factor_joins_only_its_owners_catalogue(client: TestClient, alice: Account, bob: Account) -> None:
    body = {"key": "compression_socks", "label": "Compression socks", "category": "other"}
    created = client.post("/api/v1/factors", json=body, headers=alice.headers)
    assert created.status_code == 201
    assert created.json() == {**body, "builtin": False}
    assert client.post("/api/v1/factors", json=body, headers=alice.headers).status_code == 409
    assert client.post("/api/v1/factors", json={**body, "key": "statin"}, headers=alice.headers).status_code == 409
    assert "compression_socks" not in {
        f["key"] for f in client.get("/api/v1/factors", headers=bob.headers).json()["items"]
    }
    assert_problem(put_checkin(client, bob, "2026-03-01", factors=["compression_socks"]), 422, "factors")
    assert client.post("/api/v1/factors", json=body, headers=bob.headers).status_code == 201


# --- exposures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"factor": "not_in_catalogue"}, "factor"),
        ({"factor": "Statin"}, "factor"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"start_date": None}, "start_date"),
        ({"end_date": "2026-01-31"}, "end_date"),
        ({"notes": "x" * 2001}, "notes"),
        ({"id": "not-a-uuid"}, "id"),
        ({"until": "2026-03-01"}, "until"),
    ],
)
def test_a_bad_exposure_is_422_naming_the_field(
    client: TestClient, alice: Account, overrides: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/exposures", json={**EXPOSURE, **overrides}, headers=alice.headers)
    assert_problem(response, 422, field)


def test_exposure_creates_are_idempotent_by_id(client: TestClient, alice: Account, bob: Account) -> None:
    body = {**EXPOSURE, "id": str(uuid.uuid4())}
    assert client.post("/api/v1/exposures", json=body, headers=alice.headers).status_code == 201
    replay = client.post("/api/v1/exposures", json=body, headers=alice.headers)
    assert replay.status_code == 200
    assert (
        client.post("/api/v1/exposures", json={**body, "factor": "diuretic"}, headers=alice.headers).status_code == 409
    )
    theirs = client.post("/api/v1/exposures", json=body, headers=bob.headers)
    assert_problem(theirs, 409)
    assert "statin" not in theirs.text


def test_another_users_exposure_is_404_and_untouched(client: TestClient, alice: Account, bob: Account) -> None:
    exposure = new_exposure(client, alice)
    url = f"/api/v1/exposures/{exposure['id']}"
    assert_problem(client.get(url, headers=bob.headers), 404)
    assert_problem(client.patch(url, json={"notes": "x"}, headers=bob.headers), 404)
    assert_problem(client.delete(url, headers=bob.headers), 404)
    assert client.get(url, headers=alice.headers).json() == exposure


def test_patching_an_exposure_checks_the_stored_range_and_versions(client: TestClient, alice: Account) -> None:
    exposure = new_exposure(client, alice)
    url = f"/api/v1/exposures/{exposure['id']}"
    assert_problem(client.patch(url, json={"end_date": "2026-01-01"}, headers=alice.headers), 422, "end_date")
    assert_problem(client.patch(url, json={"factor": None}, headers=alice.headers), 422, "factor")
    assert_problem(client.patch(url, json={"factor": "nope_x"}, headers=alice.headers), 422, "factor")
    ended = client.patch(url, json={"end_date": "2026-02-28"}, headers={**alice.headers, "If-Match": '"1"'})
    assert ended.status_code == 200
    assert (ended.json()["end_date"], ended.json()["version"]) == ("2026-02-28", 2)
    assert (
        assert_problem(client.patch(url, json={"notes": "x"}, headers={**alice.headers, "If-Match": '"1"'}), 412)[
            "record"
        ]["version"]
        == 2
    )
    ongoing = client.patch(url, json={"end_date": None}, headers=alice.headers)
    assert ongoing.json()["end_date"] is None
    assert client.delete(url, headers=alice.headers).status_code == 204
    assert_problem(client.get(url, headers=alice.headers), 404)


def test_exposure_lists_filter_by_factor_and_active_day(client: TestClient, alice: Account, bob: Account) -> None:
    statin = new_exposure(client, alice, start_date="2026-02-01", end_date="2026-02-10")
    heels = new_exposure(client, alice, factor="high_heels", start_date="2026-02-05")
    new_exposure(client, bob, start_date="2026-02-01")

    def ids(**params: str) -> list[str]:
        response = client.get("/api/v1/exposures", params=params, headers=alice.headers)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [heels["id"], statin["id"]]  # newest start_date first, only alice's
    assert ids(factor="statin") == [statin["id"]]
    assert ids(active_on="2026-02-01") == [statin["id"]]
    assert ids(active_on="2026-02-10") == [heels["id"], statin["id"]]
    assert ids(active_on="2026-02-11") == [heels["id"]]
    assert ids(active_on="2026-01-31") == []
    assert_problem(client.get("/api/v1/exposures", params={"active_on": "soon"}, headers=alice.headers), 422)
    assert_problem(client.get("/api/v1/exposures", params={"factor": "Bad Key"}, headers=alice.headers), 422)


def test_exposure_pages_return_every_record_once(client: TestClient, alice: Account) -> None:
    created = {new_exposure(client, alice, start_date=f"2026-02-0{1 + i % 3}")["id"] for i in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/exposures", params=params, headers=alice.headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


# --- check-ins -------------------------------------------------------------------------------------


def test_a_checkin_is_created_then_replaced(client: TestClient, alice: Account) -> None:
    first = put_checkin(client, alice, "2026-03-01", factors=["high_heels", "statin"], notes="long day")
    assert first.status_code == 201
    assert first.headers["etag"] == '"1"'
    second = put_checkin(client, alice, "2026-03-01", factors=["stretching"])
    assert second.status_code == 200
    assert {k: second.json()[k] for k in ("date", "factors", "notes", "version")} == {
        "date": "2026-03-01",
        "factors": ["stretching"],
        "notes": None,
        "version": 2,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"factors": ["statin", "statin"]}, "factors"),
        ({"factors": ["nope_x"]}, "factors"),
        ({"factors": "statin"}, "factors"),
        ({"notes": "x" * 2001}, "notes"),
        ({"mood": "good"}, "mood"),
    ],
)
def test_a_bad_checkin_is_422(client: TestClient, alice: Account, body: dict[str, Any], field: str) -> None:
    assert_problem(put_checkin(client, alice, "2026-03-01", **body), 422, field)


def test_a_checkin_lists_at_most_50_factors(client: TestClient, alice: Account) -> None:
    for index in range(40):
        client.post(
            "/api/v1/factors", json={"key": f"f_{index:02d}", "label": "x", "category": "other"}, headers=alice.headers
        )
    keys = sorted(BUILTIN) + [f"f_{index:02d}" for index in range(40)]
    assert put_checkin(client, alice, "2026-03-01", factors=keys[:50]).status_code == 201
    assert_problem(put_checkin(client, alice, "2026-03-02", factors=keys[:51]), 422, "factors")


@pytest.mark.parametrize("day", ["2026-02-30", "yesterday", "1899-12-31"])
def test_a_bad_checkin_date_is_422(client: TestClient, alice: Account, day: str) -> None:
    assert_problem(put_checkin(client, alice, day), 422)


def test_a_checkin_more_than_a_day_ahead_is_422(client: TestClient, alice: Account) -> None:
    ahead = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    assert_problem(put_checkin(client, alice, ahead), 422, "date")


def test_checkins_are_private_deletable_and_come_back(client: TestClient, alice: Account, bob: Account) -> None:
    put_checkin(client, alice, "2026-03-01", factors=["statin"])
    assert_problem(client.get("/api/v1/checkins/2026-03-01", headers=bob.headers), 404)
    assert_problem(client.delete("/api/v1/checkins/2026-03-01", headers=bob.headers), 404)
    assert client.get("/api/v1/checkins", headers=bob.headers).json()["items"] == []
    assert_problem(client.delete("/api/v1/checkins/2026-03-01", headers={**alice.headers, "If-Match": '"5"'}), 412)
    assert client.delete("/api/v1/checkins/2026-03-01", headers=alice.headers).status_code == 204
    assert_problem(client.get("/api/v1/checkins/2026-03-01", headers=alice.headers), 404)
    assert client.get("/api/v1/checkins", headers=alice.headers).json()["items"] == []
    assert put_checkin(client, alice, "2026-03-01").status_code == 201


def test_if_match_on_a_day_without_a_checkin_is_412(client: TestClient, alice: Account) -> None:
    response = client.put("/api/v1/checkins/2026-03-01", json={}, headers={**alice.headers, "If-Match": '"1"'})
    assert assert_problem(response, 412)["record"] is None


def test_checkin_lists_are_newest_first_within_the_window(client: TestClient, alice: Account) -> None:
    for offset in range(6):
        put_checkin(client, alice, (date(2026, 3, 1) + timedelta(days=offset)).isoformat())
    page = client.get(
        "/api/v1/checkins", params={"from": "2026-03-02", "to": "2026-03-05", "limit": 2}, headers=alice.headers
    ).json()
    assert [item["date"] for item in page["items"]] == ["2026-03-05", "2026-03-04"]
    rest = client.get(
        "/api/v1/checkins",
        params={"from": "2026-03-02", "to": "2026-03-05", "cursor": page["next_cursor"]},
        headers=alice.headers,
    ).json()
    assert [item["date"] for item in rest["items"]] == ["2026-03-03", "2026-03-02"]
    assert rest["next_cursor"] is None
