"""CSV export (contract §7), the zip archive, and the import that takes the files back.

Both databases: the columns, escaping, unicode and time zones across DST; round trips into the same
account (nothing changes) and into a fresh one (the same files, the same analysis report);
all-or-nothing imports with per-row errors; streaming of a 5,000-row export; the therapist's export.
"""

import csv
import datetime as dt
import io
import json
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert

from app.episodes.models import Episode
from app.export import repository
from app.export.columns import FORMULA_STARTS, TABLES, escape, unescape
from tests.conftest import Account, new_account
from tests.sharing_helpers import share

KINDS = ("episodes", "release-sessions", "exposures", "checkins")
EPISODE = {"started_at": "2026-01-05T03:00:00+01:00", "leg": "left", "severity": 4}
RELEASE = {
    "performed_at": "2026-01-05T20:00:00+01:00",
    "duration_minutes": 5,
    "technique": "hands",
    "areas": ["left_calf", "right_calf"],
}
TIMESTAMP_COLUMNS = {"created_at", "updated_at"}


def export(client: TestClient, account: Account, kind: str, **params: str) -> str:
    response = client.get(f"/api/v1/export/{kind}.csv", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.content.decode("utf-8")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def post(client: TestClient, account: Account, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/{path}", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def import_csv(
    client: TestClient,
    account: Account,
    kind: str,
    text: str | bytes,
    *,
    dry_run: bool = False,
    multipart: bool = False,
) -> Any:
    content = text.encode() if isinstance(text, str) else text
    url = f"/api/v1/import/{kind}.csv"
    params = {"dry_run": str(dry_run).lower()}
    if multipart:
        return client.post(
            url, params=params, files={"file": (f"{kind}.csv", content, "text/csv")}, headers=account.headers
        )
    return client.post(url, params=params, content=content, headers={**account.headers, "Content-Type": "text/csv"})


def without_timestamps(text: str) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in TIMESTAMP_COLUMNS} for row in rows_of(text)]


# --- the files -----------------------------------------------------------------------------------


def test_headers_type_disposition_and_no_store(client: TestClient, alice: Account) -> None:
    for kind in KINDS:
        response = client.get(f"/api/v1/export/{kind}.csv", headers=alice.headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith(f'attachment; filename="{kind}-')
        dt.date.fromisoformat(disposition.removeprefix(f'attachment; filename="{kind}-').removesuffix('.csv"'))
        assert response.headers["cache-control"] == "no-store"
        assert response.text.split("\r\n")[0] == ",".join(TABLES[kind].header)  # type: ignore[index]


def test_episode_columns_in_contract_order(client: TestClient, alice: Account) -> None:
    episode = post(
        client,
        alice,
        "episodes",
        {**EPISODE, "during_sleep": True, "relief": ["stretching", "massage"], "activity": "sleeping", "notes": "x"},
    )
    text = export(client, alice, "episodes")
    assert text.split("\r\n")[0] == (
        "id,started_at,started_at_utc,timezone,duration_seconds,leg,muscle,severity,during_sleep,activity,"
        "relief,notes,diary_date,created_at,updated_at"
    )
    [row] = rows_of(text)
    assert row["id"] == episode["id"]
    assert row["started_at"] == "2026-01-05T03:00:00+01:00"
    assert row["started_at_utc"] == "2026-01-05T02:00:00Z"
    assert row["timezone"] == "Europe/Berlin"
    assert row["duration_seconds"] == ""
    assert (row["leg"], row["muscle"], row["severity"]) == ("left", "calf", "4")
    assert row["during_sleep"] == "true"
    assert row["relief"] == "stretching;massage"
    assert row["diary_date"] == "2026-01-04"  # a night cramp counts for the evening before
    assert row["created_at"] == episode["created_at"]
    assert row["created_at"].endswith("Z")


def test_other_kinds_columns(client: TestClient, alice: Account) -> None:
    post(client, alice, "release-sessions", {**RELEASE, "discomfort": 3})
    post(client, alice, "exposures", {"factor": "statin", "start_date": "2026-01-01"})
    client.put("/api/v1/checkins/2026-01-05", json={"factors": ["statin", "high_heels"]}, headers=alice.headers)
    [release] = rows_of(export(client, alice, "release-sessions"))
    assert list(release)[:3] == ["id", "performed_at", "performed_at_utc"]
    assert release["performed_at"] == "2026-01-05T20:00:00+01:00"
    assert release["performed_at_utc"] == "2026-01-05T19:00:00Z"
    assert release["areas"] == "left_calf;right_calf"
    assert (release["discomfort"], release["gait_practice_minutes"]) == ("3", "0")
    [exposure] = rows_of(export(client, alice, "exposures"))
    assert list(exposure) == ["id", "factor", "start_date", "end_date", "notes", "created_at", "updated_at"]
    assert (exposure["factor"], exposure["start_date"], exposure["end_date"]) == ("statin", "2026-01-01", "")
    [checkin] = rows_of(export(client, alice, "checkins"))
    assert list(checkin) == ["date", "factors", "notes", "created_at", "updated_at"]
    assert (checkin["date"], checkin["factors"]) == ("2026-01-05", "statin;high_heels")


def test_deleted_records_and_other_users_never_appear(client: TestClient, alice: Account, bob: Account) -> None:
    kept = post(client, alice, "episodes", EPISODE)
    gone = post(client, alice, "episodes", EPISODE)
    assert client.delete(f"/api/v1/episodes/{gone['id']}", headers=alice.headers).status_code == 204
    post(client, bob, "episodes", EPISODE)
    client.put("/api/v1/checkins/2026-01-05", json={"factors": []}, headers=alice.headers)
    client.delete("/api/v1/checkins/2026-01-05", headers=alice.headers)
    assert [row["id"] for row in rows_of(export(client, alice, "episodes"))] == [kept["id"]]
    assert rows_of(export(client, alice, "checkins")) == []
    assert len(rows_of(export(client, bob, "episodes"))) == 1


def test_window_selects_by_diary_date_and_overlap(client: TestClient, alice: Account) -> None:
    for day in ("2026-01-03", "2026-01-05", "2026-01-07"):
        post(client, alice, "episodes", {**EPISODE, "started_at": f"{day}T12:00:00+01:00"})
        client.put(f"/api/v1/checkins/{day}", json={"factors": []}, headers=alice.headers)
    post(client, alice, "exposures", {"factor": "statin", "start_date": "2025-12-01", "end_date": "2026-01-04"})
    post(client, alice, "exposures", {"factor": "diuretic", "start_date": "2026-01-06"})
    post(client, alice, "exposures", {"factor": "orthotics", "start_date": "2025-01-01", "end_date": "2025-02-01"})
    window = {"from": "2026-01-04", "to": "2026-01-06"}
    assert [r["diary_date"] for r in rows_of(export(client, alice, "episodes", **window))] == ["2026-01-05"]
    assert [r["date"] for r in rows_of(export(client, alice, "checkins", **window))] == ["2026-01-05"]
    assert {r["factor"] for r in rows_of(export(client, alice, "exposures", **window))} == {"statin", "diuretic"}


def test_unknown_kind_and_bad_window_are_422(client: TestClient, alice: Account) -> None:
    assert client.get("/api/v1/export/routine.csv", headers=alice.headers).status_code == 422
    response = client.get("/api/v1/export/episodes.csv", params={"from": "yesterday"}, headers=alice.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/export/episodes.csv").status_code == 401


# --- escaping, unicode, time zones ---------------------------------------------------------------

TRICKY_NOTES = [
    *(f"{start}1+2" for start in FORMULA_STARTS),
    '=HYPERLINK("http://evil.example","click")',
    "'=already quoted",
    "''@twice",
    "'plain apostrophe",
    "-",
    "a, b; c",
    'she said "ouch"',
    "line one\nline two\r\nline three",
    "trailing newline\n",
    "Krämpfe über Nacht, 夜のこむら返り, ночью 🦵",
    " leading space",
    "\u2028separator",
]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_cell_starting_a_formula_gets_an_apostrophe(start: str) -> None:
    assert escape(f"{start}SUM(A1)") == f"'{start}SUM(A1)"
    assert unescape(escape(f"{start}SUM(A1)")) == f"{start}SUM(A1)"


@pytest.mark.parametrize("text", ["", "plain", "'plain", "a=b", "1-2", "'", "'=x", "''+x", "'''-x"])
def test_escaping_is_exactly_undone(text: str) -> None:
    assert unescape(escape(text)) == text
    assert not escape(text).lstrip("'").startswith(FORMULA_STARTS) or escape(text).startswith("'")


def test_notes_survive_the_file_exactly(client: TestClient, alice: Account) -> None:
    ids = {}
    for index, notes in enumerate(TRICKY_NOTES):
        started = f"2026-01-{index + 1:02d}T12:00:00+01:00"
        ids[post(client, alice, "episodes", {**EPISODE, "started_at": started, "notes": notes})["id"]] = notes
    text = export(client, alice, "episodes")
    cells = {row["id"]: row["notes"] for row in rows_of(text)}
    for record_id, notes in ids.items():
        cell = cells[record_id]
        assert not cell.startswith(FORMULA_STARTS), cell
        assert unescape(cell) == notes
    assert cells[next(i for i, n in ids.items() if n == '=HYPERLINK("http://evil.example","click")')].startswith(
        "'=HYPERLINK"
    )
    # Reading the file back changes nothing: the import takes exactly these cells back.
    response = import_csv(client, alice, "episodes", text)
    assert response.status_code == 200, response.text
    assert response.json()["unchanged"] == len(TRICKY_NOTES)
    for record_id, notes in ids.items():
        assert client.get(f"/api/v1/episodes/{record_id}", headers=alice.headers).json()["notes"] == notes


def test_local_times_across_dst_changes(client: TestClient, alice: Account) -> None:
    # Europe/Berlin: +01:00 until 29 March 2026 02:00, +02:00 until 25 October 03:00.
    moments = ["2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-10-25T02:30:00+02:00",
               "2026-10-25T02:30:00+01:00"]  # fmt: skip
    for moment in moments:
        post(client, alice, "episodes", {**EPISODE, "started_at": moment})
    # Written in another zone, shown in that zone's local time.
    post(
        client,
        alice,
        "episodes",
        {**EPISODE, "started_at": "2026-03-08T01:30:00-05:00", "timezone": "America/New_York"},
    )
    post(
        client,
        alice,
        "episodes",
        {**EPISODE, "started_at": "2026-03-08T03:30:00-04:00", "timezone": "America/New_York"},
    )
    rows = rows_of(export(client, alice, "episodes"))
    by_utc = {row["started_at_utc"]: row["started_at"] for row in rows}
    assert by_utc == {
        "2026-03-08T06:30:00Z": "2026-03-08T01:30:00-05:00",
        "2026-03-08T07:30:00Z": "2026-03-08T03:30:00-04:00",
        "2026-03-29T00:30:00Z": "2026-03-29T01:30:00+01:00",
        "2026-03-29T01:30:00Z": "2026-03-29T03:30:00+02:00",
        "2026-10-25T00:30:00Z": "2026-10-25T02:30:00+02:00",
        "2026-10-25T01:30:00Z": "2026-10-25T02:30:00+01:00",
    }
    assert [row["started_at_utc"] for row in rows] == sorted(by_utc)  # oldest first
    assert import_csv(client, alice, "episodes", export(client, alice, "episodes")).json()["unchanged"] == 6


# --- round trips ---------------------------------------------------------------------------------


def fill_diary(client: TestClient, account: Account) -> None:
    client.post("/api/v1/factors", json={"key": "compression_socks", "label": "Socks", "category": "other"},
                headers=account.headers)  # fmt: skip
    client.put("/api/v1/routine", json={"started_on": "2026-02-01", "daily_target_minutes": 8}, headers=account.headers)
    start = dt.date(2026, 1, 1)
    for offset in range(0, 120):
        day = start + dt.timedelta(days=offset)
        if offset % 3 == 0:
            post(client, account, "episodes", {
                "started_at": f"{day}T0{offset % 9}:15:00+01:00", "leg": ("left", "right", "both")[offset % 3],
                "severity": 1 + offset % 10, "during_sleep": offset % 2 == 0, "relief": ["stretching"][: offset % 2],
                "notes": TRICKY_NOTES[offset % len(TRICKY_NOTES)], "duration_seconds": 30 + offset,
            })  # fmt: skip
        if offset % 2 == 0:
            post(client, account, "release-sessions", {**RELEASE, "performed_at": f"{day}T20:00:00+01:00",
                 "duration_minutes": 3 + offset % 9, "gait_practice_minutes": offset % 4})  # fmt: skip
        factors = ["compression_socks"] if offset % 4 == 0 else []
        factors += ["high_heels"] if offset % 5 == 0 else []
        response = client.put(f"/api/v1/checkins/{day}", json={"factors": factors, "notes": f"day {offset}"},
                              headers=account.headers)  # fmt: skip
        assert response.status_code == 201, response.text
    post(client, account, "exposures", {"factor": "statin", "start_date": "2026-02-10", "end_date": "2026-03-20"})
    post(client, account, "exposures", {"factor": "compression_socks", "start_date": "2026-03-01", "notes": "+1"})


def analysis(client: TestClient, account: Account) -> dict[str, Any]:
    response = client.get(
        "/api/v1/analysis", params={"from": "2026-01-01", "to": "2026-04-30"}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    report.pop("generated_at")
    return report


def archive_files(client: TestClient, account: Account) -> dict[str, bytes]:
    response = client.get("/api/v1/export/archive.zip", headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_round_trip_into_a_fresh_account(client: TestClient, alice: Account) -> None:
    """Export, close the account, sign up again, import: the same files and the same report. (Ids
    are global: while the first account holds them, another account's import of them is refused.)"""
    fill_diary(client, alice)
    files = archive_files(client, alice)
    original_report = analysis(client, alice)
    manifest = json.loads(files["manifest.json"])
    response = client.post("/api/v1/users/me/delete", json={"password": alice.user["password"]}, headers=alice.headers)
    assert response.status_code == 204
    fresh = new_account(client, timezone=manifest["timezone"])
    for factor in manifest["custom_factors"]:
        assert client.post("/api/v1/factors", json=factor, headers=fresh.headers).status_code == 201
    client.put("/api/v1/routine", json=manifest["routine"], headers=fresh.headers)
    for kind in KINDS:
        response = import_csv(client, fresh, kind, files[f"{kind}.csv"], multipart=kind == "exposures")
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["created"] == len(rows_of(files[f"{kind}.csv"].decode())) > 0
        assert (report["updated"], report["unchanged"], report["failed"], report["applied"]) == (0, 0, 0, True)
    again = archive_files(client, fresh)
    for kind in KINDS:
        assert without_timestamps(again[f"{kind}.csv"].decode()) == without_timestamps(files[f"{kind}.csv"].decode())
    assert analysis(client, fresh) == original_report


def test_round_trip_into_an_account_on_another_server(
    client: TestClient, committed_client: TestClient, alice: Account
) -> None:
    """The same move between two databases, the first account kept: ids are free on the other."""
    fill_diary(client, alice)
    files = archive_files(client, alice)
    manifest = json.loads(files["manifest.json"])
    elsewhere = new_account(committed_client, timezone=manifest["timezone"])
    for factor in manifest["custom_factors"]:
        committed_client.post("/api/v1/factors", json=factor, headers=elsewhere.headers)
    committed_client.put("/api/v1/routine", json=manifest["routine"], headers=elsewhere.headers)
    for kind in KINDS:
        response = import_csv(committed_client, elsewhere, kind, files[f"{kind}.csv"])
        assert response.status_code == 200, response.text
    again = archive_files(committed_client, elsewhere)
    for kind in KINDS:
        assert without_timestamps(again[f"{kind}.csv"].decode()) == without_timestamps(files[f"{kind}.csv"].decode())
    assert analysis(committed_client, elsewhere) == analysis(client, alice)


def test_importing_an_export_into_the_same_account_changes_nothing(client: TestClient, alice: Account) -> None:
    fill_diary(client, alice)
    before = {kind: export(client, alice, kind) for kind in KINDS}
    for kind in KINDS:
        for dry_run in (True, False):
            report = import_csv(client, alice, kind, before[kind], dry_run=dry_run).json()
            assert report["unchanged"] == len(rows_of(before[kind]))
            assert (report["created"], report["updated"], report["failed"]) == (0, 0, 0)
            assert report["applied"] is not dry_run
        assert export(client, alice, kind) == before[kind]  # same versions and updated_at too


def test_changed_rows_are_updated_and_new_rows_created(client: TestClient, alice: Account) -> None:
    first = post(client, alice, "episodes", EPISODE)
    post(client, alice, "episodes", {**EPISODE, "severity": 9})
    rows = sorted(rows_of(export(client, alice, "episodes")), key=lambda row: row["id"] != first["id"])
    rows[0]["severity"] = "7"
    rows[0]["notes"] = "'=edited"
    new_id = str(uuid.uuid4())
    rows.append({**rows[1], "id": new_id})
    rows.append({**rows[1], "id": ""})
    text = write_csv(rows)
    dry = import_csv(client, alice, "episodes", text, dry_run=True).json()
    assert (dry["created"], dry["updated"], dry["unchanged"], dry["applied"]) == (2, 1, 1, False)
    assert client.get(f"/api/v1/episodes/{first['id']}", headers=alice.headers).json()["version"] == 1
    assert client.get(f"/api/v1/episodes/{new_id}", headers=alice.headers).status_code == 404
    report = import_csv(client, alice, "episodes", text).json()
    assert (report["created"], report["updated"], report["unchanged"], report["applied"]) == (2, 1, 1, True)
    stored = client.get(f"/api/v1/episodes/{first['id']}", headers=alice.headers).json()
    assert (stored["severity"], stored["notes"], stored["version"]) == (7, "=edited", 2)
    assert client.get(f"/api/v1/episodes/{new_id}", headers=alice.headers).status_code == 200
    assert len(rows_of(export(client, alice, "episodes"))) == 4


def write_csv(rows: Sequence[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def test_checkins_import_by_date(client: TestClient, alice: Account) -> None:
    client.put("/api/v1/checkins/2026-01-05", json={"factors": ["statin"]}, headers=alice.headers)
    client.put("/api/v1/checkins/2026-01-06", json={"factors": []}, headers=alice.headers)
    client.delete("/api/v1/checkins/2026-01-06", headers=alice.headers)
    text = "date,factors,notes\r\n2026-01-05,statin;diuretic,\r\n2026-01-06,,back\r\n2026-01-07,,new\r\n"
    report = import_csv(client, alice, "checkins", text).json()
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 1, 0)
    assert client.get("/api/v1/checkins/2026-01-05", headers=alice.headers).json()["factors"] == ["statin", "diuretic"]
    assert client.get("/api/v1/checkins/2026-01-06", headers=alice.headers).json()["notes"] == "back"


# --- unhappy paths -------------------------------------------------------------------------------


def test_bad_rows_fail_the_whole_file_and_are_all_listed(client: TestClient, alice: Account) -> None:
    post(client, alice, "episodes", EPISODE)
    rows = rows_of(export(client, alice, "episodes"))
    good = {**rows[0], "id": str(uuid.uuid4())}
    bad = [
        {**good, "id": str(uuid.uuid4()), "severity": "11"},
        {**good, "id": str(uuid.uuid4()), "severity": "seven"},
        {**good, "id": str(uuid.uuid4()), "started_at": "2026-01-05T03:00:00"},
        {**good, "id": str(uuid.uuid4()), "timezone": "Mars/Olympus"},
        {**good, "id": str(uuid.uuid4()), "during_sleep": "yes"},
        {**good, "id": str(uuid.uuid4()), "relief": "stretching;stretching"},
        {**good, "id": str(uuid.uuid4()), "notes": "x" * 2001},
        {**good, "id": "not-a-uuid"},
        good,  # the same id twice
    ]
    response = import_csv(client, alice, "episodes", write_csv([good, *bad]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["failed"], body["applied"], body["created"]) == (len(bad), False, 1)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (3, "severity"), (4, "severity"), (5, "started_at"), (6, "timezone"), (7, "during_sleep"),
        (8, "relief"), (9, "notes"), (10, "id"), (11, "id"),
    ]  # fmt: skip
    assert all(e["message"] for e in body["errors"])
    assert client.get(f"/api/v1/episodes/{good['id']}", headers=alice.headers).status_code == 404


def test_deleted_and_foreign_ids_fail(client: TestClient, alice: Account, bob: Account) -> None:
    gone = post(client, alice, "episodes", EPISODE)
    text = export(client, alice, "episodes")
    client.delete(f"/api/v1/episodes/{gone['id']}", headers=alice.headers)
    response = import_csv(client, alice, "episodes", text)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "id"
    assert "deleted" in response.json()["errors"][0]["message"]
    bobs = post(client, bob, "exposures", {"factor": "statin", "start_date": "2026-01-01"})
    response = import_csv(
        client, alice, "exposures", f"id,factor,start_date,end_date,notes\r\n{bobs['id']},statin,2026-01-01,,\r\n"
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"row": 2, "field": "id", "message": "This id is already in use."}]
    assert client.get(f"/api/v1/exposures/{bobs['id']}", headers=bob.headers).json()["version"] == 1


def test_rules_that_need_the_account_apply_too(client: TestClient, alice: Account) -> None:
    text = "id,factor,start_date,end_date,notes\r\n,magic_beans,2026-01-01,,\r\n,statin,2026-02-01,2026-01-01,\r\n"
    response = import_csv(client, alice, "exposures", text)
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "factor"), (3, "end_date")]
    future = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    response = import_csv(
        client,
        alice,
        "checkins",
        f"date,factors,notes\r\n{future},,\r\n2026-01-01,socks,\r\n2026-01-02,,\r\n2026-01-02,,\r\n",
    )
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "date"), (3, "factors"), (5, "date")]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"", "file"),
        (b"\xff\xfeid\r\n", "file"),
        (b"id,shoe_size\r\n1,2\r\n", "file"),
        (b"id,id\r\n", "file"),
        (b'id,notes\r\n"unterminated,x\r\n', "file"),
        (b"id,notes\x00\r\n", "file"),
    ],
)
def test_files_that_are_not_an_export_are_422(client: TestClient, alice: Account, content: bytes, field: str) -> None:
    response = import_csv(client, alice, "episodes", content)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_a_row_with_the_wrong_number_of_cells_fails(client: TestClient, alice: Account) -> None:
    response = import_csv(client, alice, "checkins", "date,factors,notes\r\n2026-01-01,,,extra\r\n\r\n2026-01-02,,\r\n")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"row": 2, "field": "row", "message": "has 4 cells; the header row has 3"}]


def test_a_file_without_a_column_the_import_reads_is_422(client: TestClient, alice: Account) -> None:
    """A missing column would reset stored values; a missing `id` would duplicate on re-import."""
    stored = post(client, alice, "episodes", {**EPISODE, "muscle": "foot", "notes": "keep me"})
    text = f"id,started_at,leg,severity\r\n{stored['id']},{stored['started_at']},left,5\r\n"
    response = import_csv(client, alice, "episodes", text)
    assert response.status_code == 422
    assert "missing columns" in response.json()["errors"][0]["message"]
    assert "notes" in response.json()["errors"][0]["message"]
    assert client.get(f"/api/v1/episodes/{stored['id']}", headers=alice.headers).json()["notes"] == "keep me"


def test_upload_forms_and_limits(client: TestClient, alice: Account) -> None:
    text = "date,factors,notes\r\n2026-01-01,,\r\n"
    assert import_csv(client, alice, "checkins", text, multipart=True).status_code == 200
    assert import_csv(client, alice, "checkins", "\ufeff" + text).json()["unchanged"] == 1  # a byte-order mark
    url = "/api/v1/import/checkins.csv"
    response = client.post(url, json={"date": "2026-01-01"}, headers=alice.headers)
    assert response.status_code == 415
    response = client.post(url, files={"other": ("x.csv", b"date\r\n", "text/csv")}, headers=alice.headers)
    assert response.status_code == 422
    csv_headers = {**alice.headers, "Content-Type": "text/csv"}
    assert client.post("/api/v1/import/routine.csv", content=text, headers=csv_headers).status_code == 422
    # Larger than the 1 MiB other bodies may be, within the 20 MiB of an import.
    big = "date,factors,notes\r\n" + "".join(
        f"{dt.date(2000, 1, 1) + dt.timedelta(days=i)},,{'n' * 1900}\r\n" for i in range(600)
    )
    assert len(big) > 1024 * 1024
    response = import_csv(client, alice, "checkins", big, dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 600
    too_big = b"date\r\n" + b"x" * (20 * 1024 * 1024)
    assert import_csv(client, alice, "checkins", too_big).status_code == 413
    assert import_csv(client, alice, "checkins", too_big, multipart=True).status_code == 413


# --- archive, therapist, streaming ---------------------------------------------------------------


def test_archive_has_the_four_files_and_a_manifest(client: TestClient, alice: Account) -> None:
    post(client, alice, "episodes", EPISODE)
    post(client, alice, "episodes", EPISODE)
    post(client, alice, "release-sessions", RELEASE)
    files = archive_files(client, alice)
    assert sorted(files) == sorted([f"{kind}.csv" for kind in KINDS] + ["manifest.json"])
    for kind in KINDS:
        assert files[f"{kind}.csv"].decode() == export(client, alice, kind)
    manifest = json.loads(files["manifest.json"])
    assert manifest["schema_version"] == 1
    assert manifest["timezone"] == "Europe/Berlin"
    dt.datetime.fromisoformat(manifest["exported_at"])
    counts = {f["name"]: f["rows"] for f in manifest["files"]}
    assert counts == {"episodes.csv": 2, "release-sessions.csv": 1, "exposures.csv": 0, "checkins.csv": 0}
    episodes = next(f for f in manifest["files"] if f["kind"] == "episodes")
    assert [c["name"] for c in episodes["columns"]] == TABLES["episodes"].header
    assert all(c["description"] for c in episodes["columns"])


def access_log(client: TestClient, account: Account) -> list[tuple[str, str]]:
    items = client.get("/api/v1/sharing/access-log", headers=account.headers).json()["items"]
    return [(e["action"], e["resource"]) for e in items]


def test_therapist_export_equals_the_clients_own_and_is_logged(client: TestClient, alice: Account) -> None:
    doctor = new_account(client, role="therapist")
    stranger = new_account(client, role="therapist")
    share(client, alice, doctor)
    post(client, alice, "episodes", {**EPISODE, "notes": "@home"})
    for kind in KINDS:
        url = f"/api/v1/therapist/clients/{alice.user['id']}/export/{kind}.csv"
        response = client.get(url, headers=doctor.headers)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.text == export(client, alice, kind)
        assert access_log(client, alice)[0] == ("export", f"{kind}.csv")
        assert client.get(url, headers=stranger.headers).status_code == 404
        assert client.get(url, headers=alice.headers).status_code == 403
    assert sum(action == "export" for action, _ in access_log(client, alice)) == 4


def test_a_failed_therapist_export_is_not_logged(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    doctor = new_account(client, role="therapist")
    share(client, alice, doctor)
    post(client, alice, "episodes", EPISODE)

    def broken(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise RuntimeError("the disk is on fire")
        yield  # pragma: no cover

    monkeypatch.setattr(repository, "batches", broken)
    response = client.get(f"/api/v1/therapist/clients/{alice.user['id']}/export/episodes.csv", headers=doctor.headers)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    monkeypatch.undo()
    assert ("export", "episodes.csv") not in access_log(client, alice)


def seed_episodes(connection: Connection, user_id: str, count: int) -> None:
    now = dt.datetime.now(dt.UTC)
    start = dt.datetime(2020, 1, 1, 12, tzinfo=dt.UTC)
    connection.execute(
        insert(Episode),
        [
            {
                "id": uuid.uuid4(), "user_id": uuid.UUID(user_id), "version": 1, "create_digest": "seed",
                "created_at": now, "updated_at": now, "started_at": start + dt.timedelta(hours=6 * i),
                "timezone": "Europe/Berlin", "diary_date": (start + dt.timedelta(hours=6 * i)).date(),
                "leg": "left", "muscle": "calf", "severity": 1 + i % 10, "during_sleep": False,
                "relief": ["stretching"], "notes": f"note {i}, \"quoted\"",
            }
            for i in range(count)
        ],
    )  # fmt: skip


def test_a_5000_row_export_streams(
    app: FastAPI, client: TestClient, connection: Connection, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body leaves in several chunks, the first long before the last row is read."""
    seed_episodes(connection, alice.user["id"], 5000)
    read = [0]
    real_batches = repository.batches

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for batch in real_batches(*args, **kwargs):
            read[0] += len(batch)
            yield batch

    monkeypatch.setattr(repository, "batches", counted)
    sent: list[tuple[int, int]] = []  # (bytes in the message, rows read when it was sent)

    async def drive() -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": "/api/v1/export/episodes.csv", "raw_path": b"",
            "query_string": b"", "root_path": "", "server": ("test", 80), "client": ("test", 1),
            "headers": [(b"authorization", alice.headers["Authorization"].encode()), (b"host", b"test")],
        }  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sent.append((len(message.get("body", b"")), read[0]))

        await app(scope, receive, send)

    anyio.run(drive)
    body_messages = [(size, rows) for size, rows in sent if size]
    assert len(body_messages) >= 3
    assert body_messages[0][1] < 5000
    assert read[0] == 5000
    text = export(client, alice, "episodes")
    assert len(rows_of(text)) == 5000
    assert sum(size for size, _ in sent) == len(text.encode())


def test_export_and_import_with_real_sessions(committed_client: TestClient) -> None:
    """Outside the rolled-back test transaction: the stream's own sessions, the therapist's log
    written by a writer session after the last row, the import's single commit."""
    client = committed_client
    owner = new_account(client)
    doctor = new_account(client, role="therapist")
    share(client, owner, doctor)
    post(client, owner, "episodes", EPISODE)
    text = export(client, owner, "episodes")
    assert len(rows_of(text)) == 1
    shared = client.get(f"/api/v1/therapist/clients/{owner.user['id']}/export/episodes.csv", headers=doctor.headers)
    assert shared.text == text
    assert access_log(client, owner)[0] == ("export", "episodes.csv")
    assert len(archive_files(client, owner)) == 5
    rows = rows_of(text)
    rows.append({**rows[0], "id": str(uuid.uuid4())})
    assert import_csv(client, owner, "episodes", write_csv(rows)).json()["created"] == 1
    assert len(rows_of(export(client, owner, "episodes"))) == 2


def test_a_file_of_many_bad_rows_lists_the_first_thousand_problems(client: TestClient, alice: Account) -> None:
    rows = "".join(f"2026-01-{1 + i % 28:02d},no_such_factor_{i},\r\n" for i in range(1500))
    response = import_csv(client, alice, "checkins", "date,factors,notes\r\n" + rows, dry_run=True)
    assert response.status_code == 422
    body = response.json()
    assert body["failed"] == 1500
    assert len(body["errors"]) == 1000
    assert body["errors_truncated"] is True
