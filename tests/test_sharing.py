"""Consent by share code, links and revocation, the access log: every rule of contract §6 on the
client's side, on SQLite and PostgreSQL."""

import datetime as dt
import math
import re

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from app.sharing.schemas import CODE_ALPHABET, CODE_BITS
from tests.conftest import Account, new_account
from tests.sharing_helpers import log_episode, make_code, share

CODE_SHAPE = re.compile(f"^[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}$")


def therapist(client: TestClient) -> Account:
    return new_account(client, role="therapist")


def test_the_alphabet_has_no_look_alikes_and_codes_carry_60_bits() -> None:
    assert not set("0O1IL") & set(CODE_ALPHABET)
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET)
    assert CODE_BITS >= 60
    assert math.isclose(CODE_BITS, 12 * math.log2(len(CODE_ALPHABET)))


def test_a_code_is_single_use_valid_seven_days_and_stored_hashed(
    client: TestClient, alice: Account, connection: Connection
) -> None:
    response = client.post("/api/v1/sharing/codes", headers=alice.headers)
    assert response.status_code == 201
    body = response.json()
    assert CODE_SHAPE.match(body["code"]), body
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=6, hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    stored = connection.execute(text("SELECT code_digest FROM share_codes")).scalars().all()
    assert body["code"] not in stored
    assert body["code"].replace("-", "") not in stored
    assert all(len(digest) == 64 for digest in stored)


def test_codes_differ(client: TestClient, alice: Account) -> None:
    assert len({make_code(client, alice) for _ in range(5)}) == 5


def test_making_codes_is_rate_limited_per_client(client: TestClient, alice: Account, bob: Account) -> None:
    for _ in range(10):
        make_code(client, alice)
    response = client.post("/api/v1/sharing/codes", headers=alice.headers)
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    make_code(client, bob)  # another client is not affected


def test_redeeming_links_the_client_and_uses_the_code_up(client: TestClient, alice: Account) -> None:
    doctor = therapist(client)
    code = make_code(client, alice)
    response = client.post("/api/v1/therapist/links", json={"code": code}, headers=doctor.headers)
    assert response.status_code == 201
    link = response.json()
    assert link["client"] == {"id": alice.user["id"], "display_name": None}
    assert link["status"] == "active"
    other = therapist(client)
    again = client.post("/api/v1/therapist/links", json={"code": code}, headers=other.headers)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


def test_a_code_can_be_typed_without_dashes(client: TestClient, alice: Account) -> None:
    code = make_code(client, alice).replace("-", "")
    response = client.post("/api/v1/therapist/links", json={"code": code}, headers=therapist(client).headers)
    assert response.status_code == 201


def test_a_second_code_for_the_same_pair_returns_the_existing_link(client: TestClient, alice: Account) -> None:
    doctor = therapist(client)
    first = share(client, alice, doctor)
    response = client.post("/api/v1/therapist/links", json={"code": make_code(client, alice)}, headers=doctor.headers)
    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    links = client.get("/api/v1/sharing/links", headers=alice.headers).json()["items"]
    assert len(links) == 1


def test_an_expired_code_is_404(client: TestClient, alice: Account, connection: Connection) -> None:
    code = make_code(client, alice)
    connection.execute(text("UPDATE share_codes SET expires_at = created_at"))
    response = client.post("/api/v1/therapist/links", json={"code": code}, headers=therapist(client).headers)
    assert response.status_code == 404


def test_unknown_and_malformed_codes(client: TestClient) -> None:
    doctor = therapist(client)
    unknown = client.post("/api/v1/therapist/links", json={"code": "2345-6789-ABCD"}, headers=doctor.headers)
    assert unknown.status_code == 404
    for bad in ("0000-0000-0000", "ABCD-EFGH", "", 123456789012, None, "ABCD-EFGH-JKMN-P"):
        response = client.post("/api/v1/therapist/links", json={"code": bad}, headers=doctor.headers)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["errors"][0]["field"] == "code"
    extra = client.post("/api/v1/therapist/links", json={"code": "2345-6789-ABCD", "x": 1}, headers=doctor.headers)
    assert extra.status_code == 422


def test_failed_redemptions_are_rate_limited_per_therapist(client: TestClient, alice: Account) -> None:
    guesser, honest = therapist(client), therapist(client)
    for _ in range(10):
        response = client.post("/api/v1/therapist/links", json={"code": "2345-6789-ABCD"}, headers=guesser.headers)
        assert response.status_code == 404
    code = make_code(client, alice)
    throttled = client.post("/api/v1/therapist/links", json={"code": code}, headers=guesser.headers)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 15 * 60
    # The throttled attempt did not use the code up; another therapist is not throttled.
    assert client.post("/api/v1/therapist/links", json={"code": code}, headers=honest.headers).status_code == 201


def test_roles_client_endpoints_refuse_therapists_and_vice_versa(client: TestClient, alice: Account) -> None:
    doctor = therapist(client)
    for method, path in (
        ("POST", "/api/v1/sharing/codes"),
        ("GET", "/api/v1/sharing/links"),
        ("GET", "/api/v1/sharing/access-log"),
    ):
        response = client.request(method, path, headers=doctor.headers)
        assert response.status_code == 403, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
    response = client.post("/api/v1/therapist/links", json={"code": "2345-6789-ABCD"}, headers=alice.headers)
    assert response.status_code == 403
    assert client.get("/api/v1/therapist/clients", headers=alice.headers).status_code == 403


def test_the_client_lists_and_revokes_links(client: TestClient, alice: Account, bob: Account) -> None:
    doctor = therapist(client)
    link = share(client, alice, doctor)
    listed = client.get("/api/v1/sharing/links", headers=alice.headers).json()["items"]
    assert listed == [
        {
            "id": link["id"],
            "therapist": {"id": doctor.user["id"], "display_name": None, "email": doctor.user["email"]},
            "status": "active",
            "created_at": link["created_at"],
            "revoked_at": None,
        }
    ]
    assert client.delete(f"/api/v1/sharing/links/{link['id']}", headers=bob.headers).status_code == 404
    assert client.delete(f"/api/v1/sharing/links/{link['id']}", headers=alice.headers).status_code == 204
    assert client.delete(f"/api/v1/sharing/links/{link['id']}", headers=alice.headers).status_code == 204
    revoked = client.get("/api/v1/sharing/links", headers=alice.headers).json()["items"][0]
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] is not None
    assert client.get("/api/v1/sharing/links", headers=bob.headers).json()["items"] == []


def test_bad_link_ids(client: TestClient, alice: Account) -> None:
    assert client.delete("/api/v1/sharing/links/not-a-uuid", headers=alice.headers).status_code == 422
    assert client.delete(f"/api/v1/sharing/links/{alice.user['id']}", headers=alice.headers).status_code == 404


def test_revocation_takes_effect_on_the_next_request(client: TestClient, alice: Account) -> None:
    doctor = therapist(client)
    link = share(client, alice, doctor)
    path = f"/api/v1/therapist/clients/{alice.user['id']}/episodes"
    assert client.get(path, headers=doctor.headers).status_code == 200
    client.delete(f"/api/v1/sharing/links/{link['id']}", headers=alice.headers)
    assert client.get(path, headers=doctor.headers).status_code == 404
    assert client.get("/api/v1/therapist/clients", headers=doctor.headers).json()["items"] == []
    # A new code makes a new link; the revoked one stays in the client's history.
    share(client, alice, doctor)
    assert client.get(path, headers=doctor.headers).status_code == 200
    statuses = [item["status"] for item in client.get("/api/v1/sharing/links", headers=alice.headers).json()["items"]]
    assert sorted(statuses) == ["active", "revoked"]


def test_the_access_log_records_each_read_link_and_revocation(client: TestClient, alice: Account) -> None:
    doctor = new_account(client, role="therapist")
    client.patch("/api/v1/users/me", json={"display_name": "Dr Who"}, headers=doctor.headers)
    link = share(client, alice, doctor)
    log_episode(client, alice, days_ago=1, notes="private words")
    base = f"/api/v1/therapist/clients/{alice.user['id']}"
    for resource in ("episodes", "release-sessions", "exposures", "checkins", "trends", "analysis"):
        assert client.get(f"{base}/{resource}", headers=doctor.headers).status_code == 200, resource
    assert client.get("/api/v1/therapist/clients", headers=doctor.headers).status_code == 200
    client.delete(f"/api/v1/sharing/links/{link['id']}", headers=alice.headers)
    assert client.get(f"{base}/episodes", headers=doctor.headers).status_code == 404  # not logged

    response = client.get("/api/v1/sharing/access-log", headers=alice.headers)
    assert response.status_code == 200
    entries = response.json()["items"]
    assert [(e["action"], e["resource"]) for e in reversed(entries)] == [
        ("link_created", "link"),
        ("read", "episodes"),
        ("read", "release-sessions"),
        ("read", "exposures"),
        ("read", "checkins"),
        ("read", "trends"),
        ("read", "analysis"),
        ("read", "summary"),
        ("link_revoked", "link"),
    ]
    assert {e["therapist_id"] for e in entries} == {doctor.user["id"]}
    assert {e["therapist_name"] for e in entries} == {"Dr Who"}
    assert set(entries[0]) == {"at", "therapist_id", "therapist_name", "action", "resource"}
    assert "private words" not in response.text
    assert doctor.tokens["access_token"] not in response.text


def test_the_access_log_pages_and_is_private(client: TestClient, alice: Account, bob: Account) -> None:
    doctor = therapist(client)
    share(client, alice, doctor)
    for _ in range(4):
        client.get(f"/api/v1/therapist/clients/{alice.user['id']}/trends", headers=doctor.headers)
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/sharing/access-log", params=params, headers=alice.headers).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)
    assert client.get("/api/v1/sharing/access-log", headers=bob.headers).json()["items"] == []
    bad = client.get("/api/v1/sharing/access-log", params={"cursor": "nope"}, headers=alice.headers)
    assert bad.status_code == 422
    assert client.get("/api/v1/sharing/access-log", params={"limit": "0"}, headers=alice.headers).status_code == 422


def test_deleting_the_client_account_ends_the_link(client: TestClient, alice: Account) -> None:
    doctor = therapist(client)
    share(client, alice, doctor)
    response = client.post("/api/v1/users/me/delete", json={"password": alice.user["password"]}, headers=alice.headers)
    assert response.status_code == 204
    assert client.get("/api/v1/therapist/clients", headers=doctor.headers).json()["items"] == []
    path = f"/api/v1/therapist/clients/{alice.user['id']}/trends"
    assert client.get(path, headers=doctor.headers).status_code == 404


def test_the_access_log_outlives_the_therapist_account(client: TestClient, alice: Account) -> None:
    doctor = therapist(client)
    share(client, alice, doctor)
    client.get(f"/api/v1/therapist/clients/{alice.user['id']}/analysis", headers=doctor.headers)
    response = client.post(
        "/api/v1/users/me/delete", json={"password": doctor.user["password"]}, headers=doctor.headers
    )
    assert response.status_code == 204
    assert client.get("/api/v1/sharing/links", headers=alice.headers).json()["items"] == []
    entries = client.get("/api/v1/sharing/access-log", headers=alice.headers).json()["items"]
    assert [e["resource"] for e in entries] == ["analysis", "link"]
