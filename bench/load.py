"""Throughput under load with wrk (Debian's `wrk`; `make bench` installs it): 8 connections on
loopback, requests per second and latency percentiles as wrk reports them."""

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONNECTIONS = 8
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return path


def run(url: str, *, seconds: int, method: str = "GET", body: str = "", headers: dict[str, str] | None = None) -> Load:
    """Every response must be a success: a benchmark of error responses measures nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "request.lua"
        script.write_text(_script(method, body, headers or {}))
        completed = subprocess.run(
            [
                wrk_path(),
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    output = completed.stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failed requests on {url}:\n{output}\nfirst failure: {completed.stderr}")
    return Load(
        requests_per_second=float(_match(r"Requests/sec:\s+([\d.]+)", output)),
        p50_ms=_milliseconds(_match(r"50%\s+([\d.]+\w+)", output)),
        p99_ms=_milliseconds(_match(r"99%\s+([\d.]+\w+)", output)),
    )


def _script(method: str, body: str, headers: dict[str, str]) -> str:
    lines = [f"wrk.method = {_lua_string(method)}", f"wrk.body = {_lua_string(body)}"]
    lines += [f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in headers.items()]
    return "\n".join(lines) + "\n" + REPORT_FIRST_FAILURE


# Shows why requests failed: the first failed response's status and body, on stderr.
REPORT_FIRST_FAILURE = """
local reported = false
response = function(status, headers, body)
  if status >= 400 and not reported then
    reported = true
    io.stderr:write(status .. " " .. body .. "\\n")
  end
end
"""


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def _match(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{text}")
    return found.group(1)


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]
