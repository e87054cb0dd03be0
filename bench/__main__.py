"""`make bench` (or `python -m bench`): every benchmark against one server, printed as one table.

The server runs as `make run` runs it, on a free loopback port: one worker on a fresh SQLite file,
or, with DATABASE_URL set to PostgreSQL, on that database with one worker per CPU. Use a throwaway
PostgreSQL database: the benchmarks add accounts and diaries to it (their e-mail addresses carry a
random run tag, so reruns do not clash). Every figure that depends on the machine is given beside
the `/healthz` floor of the same run.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import analysis, api, dashboard, export
from bench.report import Row, print_table
from bench.server import running_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=4, help="length of each load run (three rounds of three)")
    parser.add_argument("--requests", type=int, default=30, help="sequential requests per latency figure")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("DATABASE_URL", "")
        on_postgres = url.startswith(("postgresql", "postgres:"))
        if not on_postgres:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        workers = (os.cpu_count() or 1) if on_postgres else 1
        store = "PostgreSQL" if on_postgres else "SQLite"
        print(f"benchmarking on {store} with {workers} worker(s); this takes a few minutes", flush=True)
        with running_server(url, workers) as base:
            rows, floor = api.measure(base, args.seconds)
            analysis.seed(url)
            rows += analysis.measure(base, args.requests, floor.median_ms)
            dashboard.seed(url)
            rows += dashboard.measure(url, base, args.requests)
    # On its own server and SQLite file: its floor is the sqlite3 shell dumping the same rows.
    rows += export.measure()
    rows.append(Row("run", "wall time", time.monotonic() - started, "s", "< 600"))
    print_table(rows)


if __name__ == "__main__":
    main()
