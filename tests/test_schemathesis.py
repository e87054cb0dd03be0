"""Schemathesis over every operation of the live schema, in-process, with its default checks.

The app under test has its own migrated SQLite database and one registered client, whose token
every generated request carries (so authenticated operations are exercised beyond the 401).
"""

import contextlib
import re
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.core.errors import AppError
from app.core.pagination import Position, encode_cursor
from app.core.time import known_timezones
from app.factors.catalogue import BUILTIN_FACTORS
from app.main import create_app
from app.sync import cursor as sync_cursors
from tests.conftest import migrate, new_account, test_settings

_database = Path(tempfile.mkdtemp(prefix="schemathesis-")) / "fuzz.db"
migrate(f"sqlite:///{_database}")
fuzzed_app = create_app(test_settings(f"sqlite:///{_database}"))
# Its catalogue holds the built-in factors and 40 of its own, so a check-in can list 50 of them.
CUSTOM_KEYS = [f"custom_{index:02d}" for index in range(40)]
with TestClient(fuzzed_app) as _client:
    _account = new_account(_client)
    HEADERS = _account.headers
    for _key in CUSTOM_KEYS:
        _client.post("/api/v1/factors", json={"key": _key, "label": _key, "category": "other"}, headers=HEADERS)

# Values our schema describes by a named format; generating them needs the list of zones and "now".
schemathesis.openapi.format("iana-time-zone", st.sampled_from(sorted(known_timezones())))
schemathesis.openapi.format(
    "date-time",
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime.now() - timedelta(days=1)).map(
        lambda moment: moment.replace(tzinfo=UTC).isoformat()
    ),
)

# Plausible diary dates: recent and not in the future (the year bounds, the one-day-ahead rule for
# check-ins and the window cap of trends have tests of their own).
schemathesis.openapi.format(
    "date", st.dates(min_value=date(2020, 1, 1), max_value=date.today()).map(lambda day: day.isoformat())
)
schemathesis.openapi.format("catalogue-key", st.sampled_from(sorted(BUILTIN_FACTORS) + CUSTOM_KEYS))

# Cursors are opaque and server-issued: generate well-formed ones (a malformed one is rightly a
# 422, which the list tests check).
schemathesis.openapi.format(
    "page-cursor",
    st.builds(
        lambda moment, record_id: encode_cursor(Position(at=moment.replace(tzinfo=UTC), id=record_id)),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
        st.uuids(),
    ),
)

# Sync cursors are signed for their owner: generate ones the server issued to the fuzzing client.
schemathesis.openapi.format(
    "sync-cursor",
    st.integers(min_value=0, max_value=10**6).map(
        lambda seq: sync_cursors.encode(
            fuzzed_app.state.settings, uuid.UUID(_account.user["id"]), seq, datetime.now(UTC)
        )
    ),
)

# The default checks, with one addition: 412 answers a stale If-Match, a matter of the record's
# state like 409, not a rejection of the request's data.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429"],
            }
        }
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app, config=CONFIG)


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
EARLIEST_GENERATED = date(2016, 1, 1)  # any window from here to today stays under the trends cap


def _dates(value: Any) -> Iterator[date]:
    if isinstance(value, str) and DATE.match(value):
        with contextlib.suppress(ValueError):
            yield date.fromisoformat(value[:10])
    elif isinstance(value, dict):
        for item in value.values():
            yield from _dates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dates(item)


def breaks_a_rule_no_schema_can_state(case: Any) -> bool:
    """Rules relative to today or between two fields (documented on the operations and tested in
    their own modules): dates ahead of today, a window longer than the trends cap, an exposure
    ending before it starts. The coverage phase draws such values straight from the patterns."""
    if _forged_sync_cursor(case):
        return True
    parts = [case.path_parameters, case.query, case.body if isinstance(case.body, dict) else None]
    if any(not EARLIEST_GENERATED <= day <= date.today() for part in parts for day in _dates(part)):
        return True
    body = case.body if isinstance(case.body, dict) else {}
    start, end = body.get("start_date"), body.get("end_date")
    return isinstance(start, str) and isinstance(end, str) and end < start


def _forged_sync_cursor(case: Any) -> bool:
    """A sync cursor is valid only as the server signed it for the caller; the coverage phase draws
    cursors straight from the pattern (forged ones are 422, tested in tests/test_sync.py)."""
    cursor = (case.query or {}).get("cursor")
    if case.path != "/api/v1/sync" or not isinstance(cursor, str):
        return False
    try:
        sync_cursors.decode(fuzzed_app.state.settings, uuid.UUID(_account.user["id"]), cursor)
    except AppError:
        return True
    return False


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any) -> None:
    if breaks_a_rule_no_schema_can_state(case):
        return
    # A CSV upload is a string to the schema; whether it is a valid export file, no schema can say.
    # Every other check (no 500, documented statuses and content types) still applies to it.
    excluded = [positive_data_acceptance] if case.path.startswith("/api/v1/import/") else []
    case.call_and_validate(headers=HEADERS, excluded_checks=excluded)
