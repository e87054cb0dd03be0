"""`python -m app serve` with several workers: the shared listening socket must be marked as TCP,
or asyncio leaves Nagle's algorithm on for every connection (uvicorn issue #3149) and each
keep-alive response waits about 40 ms for the client's delayed ACK."""

import socket

import uvicorn

from app.__main__ import tcp_listener


def test_connections_accepted_by_the_workers_socket_are_tcp() -> None:
    listener = tcp_listener(uvicorn.Config("app.main:app", host="127.0.0.1", port=0, workers=2))
    listener.listen(1)
    with listener, socket.create_connection(listener.getsockname()[:2]):
        accepted, _ = listener.accept()
        with accepted:
            # What asyncio checks before it sets TCP_NODELAY on a new connection.
            assert accepted.proto == socket.IPPROTO_TCP
            assert listener.get_inheritable()
