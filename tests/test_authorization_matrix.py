"""Every route of the app by every kind of caller, with the status each must get.

The routes come from `app.routes`; a route without a row here fails the test, so a new endpoint
cannot ship without deciding who may call it. The callers: the client who owns the data
(`owner`), another client, a therapist linked to the owner, one never linked, one whose link the
owner revoked, and a caller without a token. Each route gets a fresh world; the callers act in
an order where no one's request changes what a later caller may do.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Account, new_account
from tests.sharing_helpers import make_code, share

CALLERS = ("anonymous", "other_client", "unlinked_therapist", "revoked_therapist", "linked_therapist", "owner")


@dataclass
class World:
    accounts: dict[str, Account]
    ids: dict[str, str]


Body = Callable[[TestClient, World, Account], dict[str, Any]]


def no_body(client: TestClient, world: World, caller: Account) -> dict[str, Any]:
    return {}


def json_body(payload: dict[str, Any]) -> Body:
    return lambda client, world, caller: {"json": payload}


def csv_body(text: str) -> Body:
    return lambda client, world, caller: {"content": text.encode(), "headers": {"Content-Type": "text/csv"}}


def login_form(client: TestClient, world: World, caller: Account) -> dict[str, Any]:
    return {"data": {"username": caller.user["email"], "password": PASSWORD}}


def own_refresh_token(client: TestClient, world: World, caller: Account) -> dict[str, Any]:
    return {"json": {"refresh_token": caller.tokens["refresh_token"]}}


def fresh_registration(client: TestClient, world: World, caller: Account) -> dict[str, Any]:
    return {"json": {"email": f"new-{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD}}


def owners_new_code(client: TestClient, world: World, caller: Account) -> dict[str, Any]:
    return {"json": {"code": make_code(client, world.accounts["owner"])}}


TODAY = dt.date.today().isoformat()
EPISODE = {"started_at": "2026-01-05T03:00:00+01:00", "leg": "left", "severity": 4}
RELEASE = {
    "performed_at": "2026-01-05T20:00:00+01:00",
    "duration_minutes": 5,
    "technique": "hands",
    "areas": ["left_calf"],
}

# (owner, other client, linked therapist, unlinked therapist, revoked therapist, anonymous)
EVERYONE = (200, 200, 200, 200, 200, 200)
SIGNED_IN = (200, 200, 200, 200, 200, 401)
CREATED = (201, 201, 201, 201, 201, 401)
NO_CONTENT = (204, 204, 204, 204, 204, 401)
OWNER_ONLY = (200, 404, 404, 404, 404, 401)
OWNER_DELETES = (204, 404, 404, 404, 404, 401)
CLIENTS_ONLY = (200, 200, 403, 403, 403, 401)
THERAPISTS_ONLY = (403, 403, 200, 200, 200, 401)
LINKED_ONLY = (403, 403, 200, 404, 404, 401)

MATRIX: dict[str, tuple[tuple[int, ...], Body]] = {
    "GET /openapi.json": (EVERYONE, no_body),
    "GET /docs": (EVERYONE, no_body),
    "GET /docs/oauth2-redirect": (EVERYONE, no_body),
    "GET /redoc": (EVERYONE, no_body),
    "GET /healthz": (EVERYONE, no_body),
    "GET /readyz": (EVERYONE, no_body),
    "POST /api/v1/auth/register": ((201,) * 6, fresh_registration),
    "POST /api/v1/auth/token": (EVERYONE, login_form),
    "POST /api/v1/auth/refresh": (EVERYONE, own_refresh_token),
    "POST /api/v1/auth/logout": (NO_CONTENT, own_refresh_token),
    "GET /api/v1/users/me": (SIGNED_IN, no_body),
    "PATCH /api/v1/users/me": (SIGNED_IN, json_body({"display_name": "Someone"})),
    "POST /api/v1/users/me/password": (
        NO_CONTENT,
        json_body({"current_password": PASSWORD, "new_password": "another long password"}),
    ),
    "POST /api/v1/users/me/delete": (NO_CONTENT, json_body({"password": PASSWORD})),
    "POST /api/v1/episodes": (CREATED, json_body(EPISODE)),
    "GET /api/v1/episodes": (SIGNED_IN, no_body),
    "GET /api/v1/episodes/{episode_id}": (OWNER_ONLY, no_body),
    "PATCH /api/v1/episodes/{episode_id}": (OWNER_ONLY, json_body({"severity": 2})),
    "DELETE /api/v1/episodes/{episode_id}": (OWNER_DELETES, no_body),
    "POST /api/v1/release-sessions": (CREATED, json_body(RELEASE)),
    "GET /api/v1/release-sessions": (SIGNED_IN, no_body),
    "GET /api/v1/release-sessions/{release_id}": (OWNER_ONLY, no_body),
    "PATCH /api/v1/release-sessions/{release_id}": (OWNER_ONLY, json_body({"duration_minutes": 9})),
    "DELETE /api/v1/release-sessions/{release_id}": (OWNER_DELETES, no_body),
    "GET /api/v1/routine": (SIGNED_IN, no_body),
    "PUT /api/v1/routine": (SIGNED_IN, json_body({"started_on": "2026-01-01", "daily_target_minutes": 5})),
    "GET /api/v1/factors": (SIGNED_IN, no_body),
    "POST /api/v1/factors": (CREATED, json_body({"key": "new_socks", "label": "New socks", "category": "footwear"})),
    "POST /api/v1/exposures": (CREATED, json_body({"factor": "statin", "start_date": "2026-01-01"})),
    "GET /api/v1/exposures": (SIGNED_IN, no_body),
    "GET /api/v1/exposures/{exposure_id}": (OWNER_ONLY, no_body),
    "PATCH /api/v1/exposures/{exposure_id}": (OWNER_ONLY, json_body({"end_date": "2026-02-01"})),
    "DELETE /api/v1/exposures/{exposure_id}": (OWNER_DELETES, no_body),
    # The owner replaces their check-in of that day (200); everyone else makes their own (201).
    "PUT /api/v1/checkins/{date}": ((200, 201, 201, 201, 201, 401), json_body({"factors": ["statin"]})),
    "GET /api/v1/checkins": (SIGNED_IN, no_body),
    "GET /api/v1/checkins/{date}": (OWNER_ONLY, no_body),
    "DELETE /api/v1/checkins/{date}": (OWNER_DELETES, no_body),
    "GET /api/v1/trends": (SIGNED_IN, no_body),
    "GET /api/v1/analysis": (SIGNED_IN, no_body),
    "POST /api/v1/sharing/codes": ((201, 201, 403, 403, 403, 401), no_body),
    "GET /api/v1/sharing/links": (CLIENTS_ONLY, no_body),
    "DELETE /api/v1/sharing/links/{link_id}": ((204, 404, 403, 403, 403, 401), no_body),
    "GET /api/v1/sharing/access-log": (CLIENTS_ONLY, no_body),
    # Already linked: the existing link (200); a revoked or never linked therapist: a new one.
    "POST /api/v1/therapist/links": ((403, 403, 200, 201, 201, 401), owners_new_code),
    "GET /api/v1/therapist/clients": (THERAPISTS_ONLY, no_body),
    "GET /api/v1/therapist/clients/{client_id}/trends": (LINKED_ONLY, no_body),
    "GET /api/v1/therapist/clients/{client_id}/analysis": (LINKED_ONLY, no_body),
    "GET /api/v1/therapist/clients/{client_id}/episodes": (LINKED_ONLY, no_body),
    "GET /api/v1/therapist/clients/{client_id}/release-sessions": (LINKED_ONLY, no_body),
    "GET /api/v1/therapist/clients/{client_id}/exposures": (LINKED_ONLY, no_body),
    "GET /api/v1/therapist/clients/{client_id}/checkins": (LINKED_ONLY, no_body),
    "GET /api/v1/therapist/clients/{client_id}/export/{kind}.csv": (LINKED_ONLY, no_body),
    "GET /api/v1/export/{kind}.csv": (SIGNED_IN, no_body),
    "GET /api/v1/export/archive.zip": (SIGNED_IN, no_body),
    # Everyone imports into their own diary; the owner's file holds their own ids (unchanged, 200).
    "POST /api/v1/import/{kind}.csv": (SIGNED_IN, csv_body("date,factors,notes\r\n2026-01-06,statin,\r\n")),
    # Each caller reads and pushes only their own diary; therapists keep no diary to sync.
    "GET /api/v1/sync": (CLIENTS_ONLY, no_body),
    "POST /api/v1/sync/batch": (
        CLIENTS_ONLY,
        json_body(
            {
                "operations": [
                    {"type": "routine", "op": "upsert", "record": {"started_on": None, "daily_target_minutes": 5}}
                ]
            }
        ),
    ),
}

EXPECTED_ORDER = ("owner", "other_client", "linked_therapist", "unlinked_therapist", "revoked_therapist", "anonymous")


def app_routes(app: FastAPI) -> list[str]:
    keys = []
    for context in iter_route_contexts(app.routes):
        for method in sorted(getattr(context.original_route, "methods", None) or ()):
            if method != "HEAD":
                keys.append(f"{method} {context.path}")
    return keys


def test_every_route_has_a_row(app: FastAPI) -> None:
    routes = app_routes(app)
    assert len(routes) == len(set(routes))
    assert sorted(routes) == sorted(MATRIX), {
        "routes without a row": sorted(set(routes) - set(MATRIX)),
        "rows without a route": sorted(set(MATRIX) - set(routes)),
    }


def build_world(client: TestClient) -> World:
    accounts = {
        "owner": new_account(client),
        "other_client": new_account(client),
        "linked_therapist": new_account(client, role="therapist"),
        "unlinked_therapist": new_account(client, role="therapist"),
        "revoked_therapist": new_account(client, role="therapist"),
        "anonymous": new_account(client),
    }
    owner = accounts["owner"].headers
    share(client, accounts["owner"], accounts["revoked_therapist"])
    links = client.get("/api/v1/sharing/links", headers=owner).json()["items"]
    client.delete(f"/api/v1/sharing/links/{links[0]['id']}", headers=owner)
    link = share(client, accounts["owner"], accounts["linked_therapist"])
    ids = {
        "client_id": accounts["owner"].user["id"],
        "link_id": link["id"],
        "date": "2026-01-05",
        "kind": "checkins",
        "episode_id": client.post("/api/v1/episodes", json=EPISODE, headers=owner).json()["id"],
        "release_id": client.post("/api/v1/release-sessions", json=RELEASE, headers=owner).json()["id"],
        "exposure_id": client.post(
            "/api/v1/exposures", json={"factor": "diuretic", "start_date": "2026-01-01"}, headers=owner
        ).json()["id"],
    }
    client.put("/api/v1/checkins/2026-01-05", json={"factors": []}, headers=owner)
    return World(accounts=accounts, ids=ids)


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route(client: TestClient, route: str) -> None:
    expected, body = MATRIX[route]
    method, template = route.split(" ", 1)
    world = build_world(client)
    path = template.format(**world.ids)
    outcomes = {}
    for caller in CALLERS:
        account = world.accounts[caller]
        request = body(client, world, account)
        headers = {**({} if caller == "anonymous" else account.headers), **request.pop("headers", {})}
        response = client.request(method, path, headers=headers, **request)
        outcomes[caller] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", (caller, response.text)
    assert outcomes == dict(zip(EXPECTED_ORDER, expected, strict=True))
