"""Every endpoint is a coroutine (app.core.routing): a plain `def` endpoint on a router made
without `Router` would cost three thread hops per request instead of one."""

import inspect

from fastapi.routing import APIRoute, iter_route_contexts

from app.main import create_app
from tests.conftest import test_settings


def test_every_endpoint_runs_in_one_hop() -> None:
    app = create_app(test_settings("sqlite:///:memory:"))
    routes = [context.original_route for context in iter_route_contexts(app.routes)]
    endpoints = [route for route in routes if isinstance(route, APIRoute)]
    assert endpoints
    slow = [route.path for route in endpoints if not inspect.iscoroutinefunction(route.endpoint)]
    assert slow == []
