"""CORS for browser dashboards: off by default, exact origins with credentials, `*` without."""

import pytest
from fastapi.testclient import TestClient

from app.core.config import ConfigurationError
from app.main import create_app
from tests.conftest import test_settings

DASHBOARD = "https://dashboard.example.org"
PREFLIGHT = {
    "Origin": DASHBOARD,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


def app_client(**overrides: str) -> TestClient:
    return TestClient(create_app(test_settings("sqlite:///:memory:", **overrides)))


def test_no_origin_is_allowed_by_default() -> None:
    client = app_client()
    response = client.get("/healthz", headers={"Origin": DASHBOARD})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in client.options("/api/v1/users/me", headers=PREFLIGHT).headers


def test_a_listed_origin_may_call_with_credentials() -> None:
    client = app_client(cors_origins=f"{DASHBOARD}, https://other.example.org/")
    preflight = client.options("/api/v1/therapist/clients", headers=PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = client.get("/healthz", headers={"Origin": DASHBOARD})
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert "ETag" in response.headers["access-control-expose-headers"]
    stranger = client.get("/healthz", headers={"Origin": "https://evil.example.org"})
    assert "access-control-allow-origin" not in stranger.headers


def test_the_wildcard_never_comes_with_credentials() -> None:
    client = app_client(cors_origins="*")
    response = client.get("/healthz", headers={"Origin": DASHBOARD})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("origins", ["*, https://a.example.org", "dashboard.example.org"])
def test_bad_origin_settings_are_refused(origins: str) -> None:
    with pytest.raises(ConfigurationError):
        test_settings("sqlite:///:memory:", cors_origins=origins)
