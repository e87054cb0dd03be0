"""Runs the API as `make run` would (uvicorn, one worker) on a free loopback port, for benchmarks."""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET = "benchmark-only-signing-key-0123456789abcdef"
# In the benchmarks' e-mail addresses, so a rerun against the same PostgreSQL database never clashes.
RUN_TAG = secrets.token_hex(4)


def settings_for(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=BENCH_SECRET, argon2_time_cost=1, argon2_memory_kib=1024)


_SERVERS: dict[str, int] = {}


def cpu_seconds(base: str) -> float:
    """CPU time the server at `base` has used so far, its worker processes included: a cost per
    request that other load on a shared machine hardly changes, unlike requests per second."""
    pids = [_SERVERS[base], *_children(_SERVERS[base])]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(database_url: str, workers: int = 1) -> Iterator[str]:
    with running_server_process(database_url, workers) as (base, _pid):
        yield base


@contextmanager
def running_server_process(database_url: str, workers: int = 1) -> Iterator[tuple[str, int]]:
    """As `running_server`, also giving the server's process id (with several workers, their parent)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "SECRET_KEY": BENCH_SECRET,
        "APP_ENV": "development",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
    }
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        _SERVERS[base] = server.pid
        yield base, server.pid
    finally:
        _SERVERS.pop(base, None)
        server.terminate()
        server.wait(timeout=10)
