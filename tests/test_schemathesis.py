"""Schemathesis over every operation of the live schema, in-process, with its default checks.

The app under test has its own migrated SQLite database and one registered client, whose token
every generated request carries (so authenticated operations are exercised beyond the 401).
"""

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from app.core.pagination import Position, encode_cursor
from app.core.time import known_timezones
from app.main import create_app
from tests.conftest import migrate, new_account, test_settings

_database = Path(tempfile.mkdtemp(prefix="schemathesis-")) / "fuzz.db"
migrate(f"sqlite:///{_database}")
fuzzed_app = create_app(test_settings(f"sqlite:///{_database}"))
with TestClient(fuzzed_app) as _client:
    HEADERS = new_account(_client).headers

# Values our schema describes by a named format; generating them needs the list of zones and "now".
schemathesis.openapi.format("iana-time-zone", st.sampled_from(sorted(known_timezones())))
schemathesis.openapi.format(
    "date-time",
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime.now() - timedelta(days=1)).map(
        lambda moment: moment.replace(tzinfo=UTC).isoformat()
    ),
)

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


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(headers=HEADERS)
