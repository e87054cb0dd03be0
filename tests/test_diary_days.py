"""Diary days (contract §2): the local date in the record's own time zone; a sleep episode that
starts before 12:00 local time belongs to the previous date. Checked on the rule itself
(app.core.time) and through the API."""

from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from app.core.time import episode_diary_date, local_date
from tests.conftest import Account
from tests.test_episodes import BOTH, EPISODES, RELEASE_SESSIONS, Kind, create, fetch, ids, list_all

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"

# (started_at, timezone, during_sleep, diary_date)
EPISODE_DAYS = [
    pytest.param("2026-03-04T23:30:00Z", BERLIN, False, "2026-03-05", id="berlin-after-local-midnight"),
    pytest.param("2026-03-04T22:59:59Z", BERLIN, False, "2026-03-04", id="berlin-before-local-midnight"),
    pytest.param("2026-03-04T02:00:00Z", NEW_YORK, False, "2026-03-03", id="new-york-evening-before"),
    pytest.param("2026-03-04T02:00:00Z", "UTC", False, "2026-03-04", id="utc"),
    pytest.param("2026-03-04T11:00:00Z", "Pacific/Kiritimati", False, "2026-03-05", id="utc-plus-14"),
    pytest.param("2026-03-04T11:00:00Z", "Pacific/Pago_Pago", False, "2026-03-04", id="utc-minus-11"),
    pytest.param("2026-03-04T20:00:00Z", "Asia/Kolkata", False, "2026-03-05", id="half-hour-offset"),
    # the night rule
    pytest.param("2026-03-05T02:00:00Z", BERLIN, True, "2026-03-04", id="sleep-03h00-is-previous-date"),
    pytest.param("2026-03-05T02:00:00Z", BERLIN, False, "2026-03-05", id="awake-03h00-is-same-date"),
    pytest.param("2026-03-04T23:00:00Z", BERLIN, True, "2026-03-04", id="sleep-00h00-is-previous-date"),
    pytest.param("2026-03-05T10:59:00Z", BERLIN, True, "2026-03-04", id="sleep-11h59-is-previous-date"),
    pytest.param("2026-03-05T10:59:59Z", BERLIN, True, "2026-03-04", id="sleep-11h59m59-is-previous-date"),
    pytest.param("2026-03-05T11:00:00Z", BERLIN, True, "2026-03-05", id="sleep-12h00-is-same-date"),
    pytest.param("2026-03-05T22:30:00Z", BERLIN, True, "2026-03-05", id="sleep-23h30-is-same-date"),
    pytest.param("2026-03-04T07:00:00Z", NEW_YORK, True, "2026-03-03", id="sleep-new-york-02h00"),
    pytest.param("2026-03-01T02:00:00Z", BERLIN, True, "2026-02-28", id="sleep-across-month-end"),
    pytest.param("2026-01-01T02:00:00Z", BERLIN, True, "2025-12-31", id="sleep-across-year-end"),
    pytest.param("2024-03-01T02:00:00Z", BERLIN, True, "2024-02-29", id="sleep-across-leap-day"),
    # Europe/Berlin DST start 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z
    pytest.param("2026-03-28T23:30:00Z", BERLIN, False, "2026-03-29", id="dst-start-00h30-cet"),
    pytest.param("2026-03-29T00:59:00Z", BERLIN, True, "2026-03-28", id="dst-start-sleep-01h59-cet"),
    pytest.param("2026-03-29T01:00:00Z", BERLIN, True, "2026-03-28", id="dst-start-sleep-03h00-cest"),
    pytest.param("2026-03-29T09:30:00Z", BERLIN, True, "2026-03-28", id="dst-start-sleep-11h30-cest"),
    pytest.param("2026-03-29T10:00:00Z", BERLIN, True, "2026-03-29", id="dst-start-sleep-12h00-cest"),
    pytest.param("2026-03-29T10:30:00Z", BERLIN, True, "2026-03-29", id="dst-start-sleep-12h30-cest"),
    pytest.param("2026-03-29T22:30:00Z", BERLIN, False, "2026-03-30", id="dst-start-evening-00h30-next"),
    # Europe/Berlin DST end 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z; 02:30 happens twice
    pytest.param("2026-10-24T22:30:00Z", BERLIN, False, "2026-10-25", id="dst-end-00h30-cest"),
    pytest.param("2026-10-25T00:30:00Z", BERLIN, False, "2026-10-25", id="dst-end-first-02h30"),
    pytest.param("2026-10-25T01:30:00Z", BERLIN, False, "2026-10-25", id="dst-end-second-02h30"),
    pytest.param("2026-10-25T00:30:00Z", BERLIN, True, "2026-10-24", id="dst-end-sleep-first-02h30"),
    pytest.param("2026-10-25T01:30:00Z", BERLIN, True, "2026-10-24", id="dst-end-sleep-second-02h30"),
    pytest.param("2026-10-25T10:30:00Z", BERLIN, True, "2026-10-24", id="dst-end-sleep-11h30-cet"),
    pytest.param("2026-10-25T11:00:00Z", BERLIN, True, "2026-10-25", id="dst-end-sleep-12h00-cet"),
    pytest.param("2026-10-25T22:59:00Z", BERLIN, False, "2026-10-25", id="dst-end-23h59-cet"),
    pytest.param("2026-10-25T23:00:00Z", BERLIN, False, "2026-10-26", id="dst-end-next-midnight"),
]

# (performed_at, timezone, diary_date): the plain local date, whatever the hour
RELEASE_DAYS = [
    pytest.param("2026-03-04T23:30:00Z", BERLIN, "2026-03-05", id="berlin-after-local-midnight"),
    pytest.param("2026-03-04T02:00:00Z", NEW_YORK, "2026-03-03", id="new-york-evening-before"),
    pytest.param("2026-03-05T02:00:00Z", BERLIN, "2026-03-05", id="03h00-is-same-date"),
    pytest.param("2026-03-05T10:59:00Z", BERLIN, "2026-03-05", id="11h59-is-same-date"),
    pytest.param("2026-03-28T23:30:00Z", BERLIN, "2026-03-29", id="dst-start-00h30"),
    pytest.param("2026-03-29T21:59:00Z", BERLIN, "2026-03-29", id="dst-start-23h59-cest"),
    pytest.param("2026-03-29T22:00:00Z", BERLIN, "2026-03-30", id="dst-start-next-midnight"),
    pytest.param("2026-10-25T01:30:00Z", BERLIN, "2026-10-25", id="dst-end-second-02h30"),
    pytest.param("2026-10-25T22:59:00Z", BERLIN, "2026-10-25", id="dst-end-23h59-cet"),
    pytest.param("2026-10-25T23:00:00Z", BERLIN, "2026-10-26", id="dst-end-next-midnight"),
]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(("started_at", "zone", "during_sleep", "expected"), EPISODE_DAYS)
def test_episode_diary_date_rule(started_at: str, zone: str, during_sleep: bool, expected: str) -> None:
    assert episode_diary_date(utc(started_at), zone, during_sleep) == date.fromisoformat(expected)


@pytest.mark.parametrize("offset_hours", [0, 9, -8])
def test_episode_diary_date_depends_on_the_instant_not_the_offset_it_is_given_in(offset_hours: int) -> None:
    moment = utc("2026-03-05T02:00:00Z").astimezone(timezone(timedelta(hours=offset_hours)))
    assert episode_diary_date(moment, BERLIN, True) == date(2026, 3, 4)
    assert episode_diary_date(moment, BERLIN, False) == date(2026, 3, 5)


@pytest.mark.parametrize(("performed_at", "zone", "expected"), RELEASE_DAYS)
def test_local_date_rule(performed_at: str, zone: str, expected: str) -> None:
    assert local_date(utc(performed_at), zone) == date.fromisoformat(expected)


# --- through the API ---------------------------------------------------------------------------


@pytest.mark.parametrize(("started_at", "zone", "during_sleep", "expected"), EPISODE_DAYS)
def test_an_episodes_diary_date(
    client: TestClient, bob: Account, started_at: str, zone: str, during_sleep: bool, expected: str
) -> None:
    record = create(client, bob, EPISODES, started_at=started_at, timezone=zone, during_sleep=during_sleep)
    assert record["diary_date"] == expected
    assert fetch(client, bob, EPISODES, record["id"])["diary_date"] == expected


@pytest.mark.parametrize(("performed_at", "zone", "expected"), RELEASE_DAYS)
def test_a_release_sessions_diary_date_is_the_plain_local_date(
    client: TestClient, bob: Account, performed_at: str, zone: str, expected: str
) -> None:
    record = create(client, bob, RELEASE_SESSIONS, performed_at=performed_at, timezone=zone)
    assert record["diary_date"] == expected
    assert fetch(client, bob, RELEASE_SESSIONS, record["id"])["diary_date"] == expected


def test_the_night_rule_applies_to_episodes_only(client: TestClient, alice: Account) -> None:
    moment = "2026-03-05T03:00:00+01:00"
    episode = create(client, alice, EPISODES, started_at=moment, during_sleep=True)
    release = create(client, alice, RELEASE_SESSIONS, performed_at=moment)
    assert (episode["diary_date"], release["diary_date"]) == ("2026-03-04", "2026-03-05")


@pytest.mark.parametrize("kind", BOTH)
def test_the_records_own_timezone_wins_over_the_users(client: TestClient, alice: Account, kind: Kind) -> None:
    moment = "2026-03-04T02:00:00Z"  # 03:00 in Berlin (alice's zone), 21:00 the day before in New York
    in_new_york = create(client, alice, kind, **{kind.time_field: moment, "timezone": NEW_YORK})
    in_berlin = create(client, alice, kind, **{kind.time_field: moment})
    assert (in_new_york["timezone"], in_new_york["diary_date"]) == (NEW_YORK, "2026-03-03")
    assert (in_berlin["timezone"], in_berlin["diary_date"]) == (BERLIN, "2026-03-04")


@pytest.mark.parametrize("kind", BOTH)
def test_without_a_timezone_the_users_zone_sets_the_day(
    client: TestClient, alice: Account, bob: Account, kind: Kind
) -> None:
    moment = "2026-03-04T23:30:00Z"
    assert create(client, alice, kind, **{kind.time_field: moment})["diary_date"] == "2026-03-05"  # Berlin
    assert create(client, bob, kind, **{kind.time_field: moment})["diary_date"] == "2026-03-04"  # UTC


@pytest.mark.parametrize("kind", BOTH)
def test_the_offset_in_the_request_does_not_pick_the_day(client: TestClient, bob: Account, kind: Kind) -> None:
    # 00:30 on the 5th at +01:00 is 23:30Z on the 4th; bob's records are kept in UTC.
    assert create(client, bob, kind, **{kind.time_field: "2026-03-05T00:30:00+01:00"})["diary_date"] == "2026-03-04"


@pytest.mark.parametrize("kind", BOTH)
def test_a_later_change_of_the_users_timezone_keeps_existing_diary_dates(
    client: TestClient, alice: Account, kind: Kind
) -> None:
    record = create(client, alice, kind, **{kind.time_field: "2026-03-04T23:30:00Z"})
    response = client.patch("/api/v1/users/me", json={"timezone": NEW_YORK}, headers=alice.headers)
    assert response.status_code == 200, response.text
    stored = fetch(client, alice, kind, record["id"])
    assert (stored["timezone"], stored["diary_date"]) == (BERLIN, "2026-03-05")
    assert create(client, alice, kind, **{kind.time_field: "2026-03-04T23:30:00Z"})["diary_date"] == "2026-03-04"


# --- PATCH recomputes the diary date -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"started_at": "2026-03-06T09:00:00+01:00"}, "2026-03-05", id="started_at"),
        pytest.param({"started_at": "2026-03-05T13:00:00+01:00"}, "2026-03-05", id="started_at-after-noon"),
        pytest.param({"timezone": NEW_YORK}, "2026-03-03", id="timezone"),
        pytest.param({"during_sleep": False}, "2026-03-04", id="during_sleep"),
        pytest.param({"started_at": "2026-03-05T02:00:00Z", "during_sleep": False}, "2026-03-05", id="several"),
    ],
)
def test_patching_an_episode_recomputes_its_diary_date(
    client: TestClient, alice: Account, change: dict[str, object], expected: str
) -> None:
    # 03:00 Berlin on the 4th, asleep: the night of the 3rd.
    record = create(client, alice, EPISODES, started_at="2026-03-04T03:00:00+01:00", during_sleep=True)
    assert record["diary_date"] == "2026-03-03"
    response = client.patch(EPISODES.url(record["id"]), json=change, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["diary_date"] == expected
    assert fetch(client, alice, EPISODES, record["id"])["diary_date"] == expected


def test_setting_during_sleep_on_an_early_episode_moves_it_to_the_previous_date(
    client: TestClient, alice: Account
) -> None:
    record = create(client, alice, EPISODES, started_at="2026-03-04T03:00:00+01:00")
    assert record["diary_date"] == "2026-03-04"
    response = client.patch(EPISODES.url(record["id"]), json={"during_sleep": True}, headers=alice.headers)
    assert response.json()["diary_date"] == "2026-03-03"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"performed_at": "2026-03-06T09:00:00+01:00"}, "2026-03-06", id="performed_at"),
        pytest.param({"timezone": NEW_YORK}, "2026-03-03", id="timezone"),
        pytest.param({"timezone": "Asia/Tokyo"}, "2026-03-04", id="timezone-east"),
    ],
)
def test_patching_a_release_session_recomputes_its_diary_date(
    client: TestClient, alice: Account, change: dict[str, object], expected: str
) -> None:
    record = create(client, alice, RELEASE_SESSIONS, performed_at="2026-03-04T03:00:00+01:00")
    assert record["diary_date"] == "2026-03-04"
    response = client.patch(RELEASE_SESSIONS.url(record["id"]), json=change, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["diary_date"] == expected
    assert fetch(client, alice, RELEASE_SESSIONS, record["id"])["diary_date"] == expected


def test_patching_other_fields_keeps_the_diary_date(client: TestClient, alice: Account) -> None:
    record = create(client, alice, EPISODES, started_at="2026-03-04T03:00:00+01:00", during_sleep=True)
    response = client.patch(EPISODES.url(record["id"]), json={"severity": 2, "notes": "x"}, headers=alice.headers)
    assert response.json()["diary_date"] == "2026-03-03"


# --- the date filter uses the diary date --------------------------------------------------------


def test_a_night_episode_is_listed_under_the_evening_it_began(client: TestClient, alice: Account) -> None:
    night = create(client, alice, EPISODES, started_at="2026-03-05T02:00:00+01:00", during_sleep=True)
    day = create(client, alice, EPISODES, started_at="2026-03-05T14:00:00+01:00", during_sleep=True)
    on_the_4th = list_all(client, alice, EPISODES, start="2026-03-04", end="2026-03-04")
    on_the_5th = list_all(client, alice, EPISODES, start="2026-03-05", end="2026-03-05")
    assert (ids(on_the_4th), ids(on_the_5th)) == ([night["id"]], [day["id"]])


def test_a_patched_diary_date_moves_the_record_between_filtered_days(client: TestClient, alice: Account) -> None:
    record = create(client, alice, EPISODES, started_at="2026-03-05T02:00:00+01:00")
    client.patch(EPISODES.url(record["id"]), json={"during_sleep": True}, headers=alice.headers)
    assert ids(list_all(client, alice, EPISODES, start="2026-03-05")) == []
    assert ids(list_all(client, alice, EPISODES, end="2026-03-04")) == [record["id"]]
