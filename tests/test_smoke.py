from fastapi.testclient import TestClient

from tests.conftest import Account


def test_a_client_logs_an_episode(client: TestClient, alice: Account) -> None:
    body = {"started_at": "2026-03-04T03:12:00+01:00", "leg": "left", "severity": 7}
    response = client.post("/api/v1/episodes", json=body, headers=alice.headers)
    assert response.status_code == 201
    assert client.get("/api/v1/episodes", headers=alice.headers).json()["items"][0]["severity"] == 7


def test_each_test_starts_empty(client: TestClient, alice: Account) -> None:
    assert client.get("/api/v1/episodes", headers=alice.headers).json()["items"] == []
