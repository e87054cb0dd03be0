"""The route class of every router: a plain `def` endpoint costs one hop to the thread pool.

FastAPI runs a `def` endpoint in the thread pool, then, because the endpoint is not a coroutine,
validates its return value in a second hop, and `get_session` closes the session in a third.
Each hop costs more than a small request's own work. Here the endpoint becomes a coroutine that
runs the function in one hop and, still in that thread, ends its database session (returning the
connection to the pool); the response is then validated on the event loop, and closing the
already-closed session there costs nothing.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlmodel import Session


class OneHopRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _in_one_hop(endpoint)
        super().__init__(path, endpoint, **kwargs)


def Router(**kwargs: Any) -> APIRouter:  # noqa: N802 - stands in for the APIRouter class
    return APIRouter(route_class=OneHopRoute, **kwargs)


def _in_one_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    # functools.wraps keeps the signature (FastAPI reads the parameters through __wrapped__), the
    # name (operation ids) and attributes such as `writes_on_read`.
    @functools.wraps(endpoint)
    async def run(**arguments: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(_call_then_close_sessions, endpoint, arguments))

    return run


def _call_then_close_sessions(endpoint: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    try:
        return endpoint(**arguments)
    finally:
        for value in arguments.values():
            if isinstance(value, Session):
                value.close()
