"""The sync feed's guarantee, tested as properties on SQLite and PostgreSQL.

1. Hypothesis interleaves creates, updates, deletes, batch replays and partial pulls from two
   devices of one user. Each device applies what it pulls to its local copy. Checked: a device
   never receives a record's change twice or out of order (the versions it receives for a record
   strictly increase), and following the feed to its end from ANY cursor a device ever held, with
   the copy it had then, ends with exactly the server's records (as the single GETs render them).
   A replayed batch leaves the feed and every record as they were.
2. Several threads write through a real server (uvicorn, real commits) while a reader pages the
   feed the whole time; when the writers are done, the reader's copy equals the server's records,
   and no change reached it twice. This is where a change number that became visible after a
   larger one would be lost.
"""

import copy
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.changes import next_change_seq
from app.core.db import Database, make_engine
from app.episodes import service as episodes
from app.episodes.schemas import EpisodeCreate
from app.main import create_app
from app.release import service as releases
from app.release.schemas import ReleaseSessionCreate
from app.sync import repository as sync_repository
from app.users.models import User
from tests.conftest import Account, new_account, test_settings
from tests.test_concurrency import TIMEOUT, assert_sane, at_once, base_url, sign_up  # noqa: F401 - a fixture

SYNC = "/api/v1/sync"
BATCH = "/api/v1/sync/batch"
RECORD_KINDS = ("episode", "release_session", "exposure")
COLLECTIONS = {
    "episode": "/api/v1/episodes",
    "release_session": "/api/v1/release-sessions",
    "exposure": "/api/v1/exposures",
    "checkin": "/api/v1/checkins",
}
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")
FACTOR_KEYS = ("wool_socks", "night_tea")

Key = tuple[str, str]


def create_body(kind: str, seed: int) -> dict[str, Any]:
    if kind == "episode":
        return {"started_at": f"2026-03-0{1 + seed % 9}T03:00:00+01:00", "leg": "left", "severity": 1 + seed % 10}
    if kind == "release_session":
        return {
            "performed_at": f"2026-03-0{1 + seed % 9}T20:00:00+01:00",
            "duration_minutes": 1 + seed % 60,
            "technique": "hands",
            "areas": ["left_calf"],
        }
    return {"factor": "statin", "start_date": f"2026-01-0{1 + seed % 9}"}


def update_body(kind: str, seed: int) -> dict[str, Any]:
    if seed % 2:
        return {"notes": f"note {seed % 3}"}
    return {"severity": 1 + seed % 3} if kind == "episode" else {"notes": None}


# --- a device: pulls the feed into a local copy --------------------------------------------------


@dataclass
class Device:
    cursor: str | None = None
    records: dict[Key, dict[str, Any]] = field(default_factory=dict)
    versions: dict[Key, int] = field(default_factory=dict)
    # Every (cursor, copy) the device held, to start over from any of them at the end.
    history: list[tuple[str | None, dict[Key, dict[str, Any]], dict[Key, int]]] = field(default_factory=list)

    def remember(self) -> None:
        self.history.append((self.cursor, copy.deepcopy(self.records), dict(self.versions)))

    def apply(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            key = (change["type"], change["id"])
            # Never twice, never out of order: each record's versions only go up.
            assert change["version"] > self.versions.get(key, 0), (key, change["version"], self.versions.get(key))
            self.versions[key] = change["version"]
            if change["op"] == "delete":
                assert change["record"] is None
                self.records.pop(key, None)
            else:
                self.records[key] = change["record"]


def pull_page(http: Any, headers: dict[str, str], device: Device, limit: int) -> bool:
    params: dict[str, Any] = {"limit": limit}
    if device.cursor is not None:
        params["cursor"] = device.cursor
    response = http.get(SYNC, params=params, headers=headers)
    assert response.status_code == 200, response.text
    page = response.json()
    device.apply(page["changes"])
    device.cursor = page["next_cursor"]
    has_more: bool = page["has_more"]
    return has_more


def follow_to_end(http: Any, headers: dict[str, str], device: Device, limit: int = 7) -> None:
    while pull_page(http, headers, device, limit):
        pass


def all_pages(http: Any, headers: dict[str, str], path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = http.get(path, params=params, headers=headers).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def server_state(http: Any, headers: dict[str, str]) -> dict[Key, dict[str, Any]]:
    """The user's records as the single-record endpoints render them, keyed like the feed."""
    state: dict[Key, dict[str, Any]] = {}
    for kind, path in COLLECTIONS.items():
        for item in all_pages(http, headers, path):
            state[(kind, item["date"] if kind == "checkin" else item["id"])] = item
    routine = http.get("/api/v1/routine", headers=headers).json()
    if routine["version"] > 0:
        routine.pop("effective_start")
        state[("routine", "routine")] = routine
    for factor in http.get("/api/v1/factors", headers=headers).json()["items"]:
        if not factor["builtin"]:
            state[("factor", factor["key"])] = factor
    return state


# --- 1. Hypothesis: two devices, random interleavings --------------------------------------------

actions = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(RECORD_KINDS), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("update"), st.integers(0, 9), st.integers(0, 99), st.sampled_from(["none", "fresh", "stale"])),
    st.tuples(st.just("delete"), st.integers(0, 9), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("checkin"), st.sampled_from(DAYS), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("routine"), st.integers(1, 3), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("factor"), st.sampled_from(FACTOR_KEYS), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("pull"), st.integers(0, 1), st.integers(1, 4), st.booleans()),
    st.tuples(st.just("replay"), st.integers(0, 1), st.integers(0, 1), st.booleans()),
)


class Scenario:
    """Applies the generated actions through the API; `batch` picks the batch or the single endpoint."""

    def __init__(self, client: TestClient, account: Account) -> None:
        self.client = client
        self.headers = account.headers
        self.devices = (Device(), Device())
        self.ids: list[tuple[str, str]] = []  # (kind, id) of the records created so far
        self.last_batch: list[dict[str, Any]] = []

    def run(self, action: tuple[Any, ...]) -> None:
        name = action[0]
        getattr(self, f"do_{name}")(*action[1:])

    def push(self, operation: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(BATCH, json={"operations": [operation]}, headers=self.headers)
        assert response.status_code == 200, response.text
        self.last_batch = [operation]
        result: dict[str, Any] = response.json()["results"][0]
        assert result["status"] < 500, result
        return result

    def current_version(self, kind: str, record_id: str) -> int | None:
        response = self.client.get(f"{COLLECTIONS[kind]}/{record_id}", headers=self.headers)
        return response.json()["version"] if response.status_code == 200 else None

    def do_create(self, kind: str, seed: int, batch: bool) -> None:
        record_id = str(uuid.uuid4())
        body = create_body(kind, seed)
        if batch:
            assert self.push({"type": kind, "op": "upsert", "id": record_id, "record": body})["status"] == 201
        else:
            response = self.client.post(COLLECTIONS[kind], json={**body, "id": record_id}, headers=self.headers)
            assert response.status_code == 201, response.text
        self.ids.append((kind, record_id))

    def do_update(self, index: int, seed: int, guard: str) -> None:
        if not self.ids:
            return
        kind, record_id = self.ids[index % len(self.ids)]
        version = self.current_version(kind, record_id)
        operation: dict[str, Any] = {"type": kind, "op": "upsert", "id": record_id, "record": update_body(kind, seed)}
        if guard != "none":
            operation["if_version"] = (version or 1) + (0 if guard == "fresh" else -1)
        result = self.push(operation)
        if version is None:
            assert result["status"] in {404, 409}, result
        elif guard == "stale":
            assert result["status"] == 412, result
            assert result["record"]["version"] == version
        else:
            assert result["status"] == 200, result

    def do_delete(self, index: int, _: int, batch: bool) -> None:
        if not self.ids:
            return
        kind, record_id = self.ids[index % len(self.ids)]
        if batch:
            assert self.push({"type": kind, "op": "delete", "id": record_id})["status"] in {204, 404}
        else:
            response = self.client.delete(f"{COLLECTIONS[kind]}/{record_id}", headers=self.headers)
            assert response.status_code in {204, 404}, response.text

    def do_checkin(self, day: str, seed: int, delete: bool) -> None:
        if delete:
            assert self.push({"type": "checkin", "op": "delete", "id": day})["status"] in {204, 404}
        else:
            factors = [["statin"], [], ["statin", "diuretic"], ["diuretic"]][seed]
            result = self.push({"type": "checkin", "op": "upsert", "id": day, "record": {"factors": factors}})
            assert result["status"] in {200, 201}, result

    def do_routine(self, minutes: int, started: int, _: bool) -> None:
        record = {"started_on": "2026-01-01" if started else None, "daily_target_minutes": minutes}
        assert self.push({"type": "routine", "op": "upsert", "record": record})["status"] == 200

    def do_factor(self, key: str, label: int, _: bool) -> None:
        record = {"label": f"Label {label}", "category": "other"}
        assert self.push({"type": "factor", "op": "upsert", "id": key, "record": record})["status"] in {200, 201, 409}

    def do_pull(self, device: int, limit: int, _: bool) -> None:
        pull_page(self.client, self.headers, self.devices[device], limit)
        self.devices[device].remember()

    def do_replay(self, *_: Any) -> None:
        """The last batch sent again changes nothing: no new change in the feed, same records."""
        if not self.last_batch:
            return
        probe = Device()
        follow_to_end(self.client, self.headers, probe)
        before = server_state(self.client, self.headers)
        response = self.client.post(BATCH, json={"operations": self.last_batch}, headers=self.headers)
        assert response.status_code == 200, response.text
        assert all(result["status"] < 500 for result in response.json()["results"])
        follow_to_end(self.client, self.headers, probe)
        assert server_state(self.client, self.headers) == before
        page = self.client.get(SYNC, params={"cursor": probe.cursor}, headers=self.headers).json()
        assert page["changes"] == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(actions, min_size=1, max_size=25))
def test_two_devices_end_with_the_servers_records_from_any_cursor(client: TestClient, steps: list[Any]) -> None:
    scenario = Scenario(client, new_account(client))
    for step in steps:
        scenario.run(step)
    expected = server_state(client, scenario.headers)
    for device in scenario.devices:
        follow_to_end(client, scenario.headers, device)
        assert device.records == expected
        # Starting again from any cursor it held, with the copy it had then, gives the same result.
        for cursor, records, versions in device.history:
            again = Device(cursor=cursor, records=copy.deepcopy(records), versions=dict(versions))
            follow_to_end(client, scenario.headers, again)
            assert again.records == expected
    fresh = Device()
    follow_to_end(client, scenario.headers, fresh, limit=3)
    assert fresh.records == expected


# --- 2. Concurrent writers on a real server, a reader paging all along ---------------------------

WRITERS = 4
WRITES_PER_WRITER = 12


def writer(base: str, headers: dict[str, str], index: int) -> None:
    """Creates, edits and deletes its own records, and puts its own check-in day, as fast as it can."""
    with httpx.Client(base_url=base, timeout=TIMEOUT) as http:
        mine: list[tuple[str, str]] = []
        for step in range(WRITES_PER_WRITER):
            kind = RECORD_KINDS[(index + step) % len(RECORD_KINDS)]
            if step % 8 == 3 and mine:
                kind, record_id = mine.pop(0)
                response = http.delete(f"{COLLECTIONS[kind]}/{record_id}", headers=headers)
            elif step % 4 in {2, 3} and mine:
                kind, record_id = mine[-1]
                response = http.patch(
                    f"{COLLECTIONS[kind]}/{record_id}", json={"notes": f"w{index}s{step}"}, headers=headers
                )
            elif step % 4 == 1:
                record = {"factors": [], "notes": f"step {step}"}
                operation = {"type": "checkin", "op": "upsert", "id": f"2026-02-{10 + index:02d}", "record": record}
                response = http.post(BATCH, json={"operations": [operation]}, headers=headers)
            else:
                response = http.post(COLLECTIONS[kind], json=create_body(kind, step), headers=headers)
                if response.status_code == 201:
                    mine.append((kind, response.json()["id"]))
            assert_sane(response)
            assert response.status_code in {200, 201, 204}, response.text


def test_a_reader_paging_during_concurrent_writes_misses_nothing(base_url: str) -> None:  # noqa: F811
    headers = sign_up(base_url)
    reader = Device()
    done = threading.Event()
    pages = 0

    def read_until_done() -> None:
        nonlocal pages
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            while not done.is_set():
                pull_page(http, headers, reader, limit=3)
                pages += 1
                time.sleep(0.002)

    thread = threading.Thread(target=read_until_done, daemon=True)
    thread.start()
    try:
        at_once(WRITERS, lambda index: writer(base_url, headers, index))
    finally:
        done.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        follow_to_end(http, headers, reader)
        expected = server_state(http, headers)
        assert reader.records == expected
        newcomer = Device()
        follow_to_end(http, headers, newcomer, limit=5)
        assert newcomer.records == expected
    assert pages > 1
    assert len(expected) > WRITERS


def test_writers_of_one_user_get_distinct_increasing_change_numbers(base_url: str) -> None:  # noqa: F811
    """Eight writers creating at once: the feed lists every record once, none lost, none twice."""
    headers = sign_up(base_url)

    def create(index: int) -> list[str]:
        ids = []
        with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
            for step in range(5):
                response = http.post("/api/v1/episodes", json=create_body("episode", index + step), headers=headers)
                assert_sane(response)
                ids.append(response.json()["id"])
        return ids

    created = {record_id for ids in at_once(8, create) for record_id in ids}
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 6}
            if cursor:
                params["cursor"] = cursor
            page = http.get(SYNC, params=params, headers=headers).json()
            seen.extend(change["id"] for change in page["changes"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    assert len(seen) == len(set(seen)) == 40
    assert set(seen) == created


# --- 3. The two mechanisms, one at a time, with the interleaving forced --------------------------


@pytest.fixture
def app_on_committed_db(committed_db: str) -> Iterator[tuple[FastAPI, Database]]:
    settings = test_settings(committed_db)
    database = Database(make_engine(settings), max_concurrent=5)
    yield create_app(settings), database
    database.dispose()


def test_a_writer_cannot_take_a_change_number_before_the_previous_one_commits(
    app_on_committed_db: tuple[FastAPI, Database],
) -> None:
    """A transaction holding change number n blocks the next writer of that user until it commits,
    so n+1 can never be visible while n is not: the late-commit trap cannot arise."""
    app, database = app_on_committed_db
    with TestClient(app) as client:
        account = new_account(client)
        episode = client.post("/api/v1/episodes", json=create_body("episode", 1), headers=account.headers).json()
        _, start = drain(client, account.headers, None)
        holder = database.session(write=True)
        held = next_change_seq(holder, uuid.UUID(account.user["id"]))
        finished = threading.Event()

        def next_writer() -> None:
            with TestClient(app) as other:
                url = f"/api/v1/episodes/{episode['id']}"
                response = other.patch(url, json={"notes": "after"}, headers=account.headers)
                assert response.status_code == 200, response.text
            finished.set()

        thread = threading.Thread(target=next_writer, daemon=True)
        thread.start()
        try:
            assert not finished.wait(1.0), "the next writer did not wait for the uncommitted change number"
            # Readers are not blocked, and see neither change yet.
            assert drain(client, account.headers, start)[0] == []
        finally:
            holder.commit()
            holder.close()
        thread.join(timeout=30)
        assert finished.is_set()
        changes, _ = drain(client, account.headers, start)
        assert [(c["id"], c["version"]) for c in changes] == [(episode["id"], 2)]
        assert changes[0]["record"]["notes"] == "after"
        assert held >= 1


def test_changes_committed_while_the_feed_reads_its_tables_wait_for_the_next_call(
    app_on_committed_db: tuple[FastAPI, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed queries one table after another. Two changes commit in between: an episode (a
    table already read) and then a release session (a table still to read). Serving the release
    session would move the cursor past the episode, which this call did not see. The high-water
    mark read first keeps both for the next call."""
    app, database = app_on_committed_db
    with TestClient(app) as client:
        account = new_account(client)
        first = client.post("/api/v1/episodes", json=create_body("episode", 1), headers=account.headers).json()
        owner_id = uuid.UUID(account.user["id"])
        injected: list[str] = []

        def commit_two_changes() -> None:
            with database.session(write=True) as session:
                user = session.get(User, owner_id)
                assert user is not None
                episode, _ = episodes.create(session, user, EpisodeCreate.model_validate(create_body("episode", 2)))
                release, _ = releases.create(
                    session, user, ReleaseSessionCreate.model_validate(create_body("release_session", 3))
                )
                injected.extend([str(episode.id), str(release.id)])

        class WritesAfterTheFirstTable(dict[str, Any]):
            def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
                for index, item in enumerate(super().items()):
                    yield item
                    if index == 0 and not injected:
                        commit_two_changes()

        monkeypatch.setattr(sync_repository, "SYNCABLE", WritesAfterTheFirstTable(sync_repository.SYNCABLE))
        page = client.get(SYNC, headers=account.headers).json()
        assert len(injected) == 2
        assert [c["id"] for c in page["changes"]] == [first["id"]]
        later, _ = drain(client, account.headers, page["next_cursor"])
        assert [c["id"] for c in later] == injected


def drain(client: TestClient, headers: dict[str, str], cursor: str | None) -> tuple[list[dict[str, Any]], str]:
    changes: list[dict[str, Any]] = []
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = client.get(SYNC, params=params, headers=headers).json()
        changes.extend(page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, page["next_cursor"]
