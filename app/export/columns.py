"""The CSV files, column by column: one definition that the export, the import and the archive's
manifest all read, so the three cannot drift apart.

Cells: empty means null; lists are joined with `;`; booleans are `true` / `false`; `started_at` and
`performed_at` are local time with the offset, each followed by the same moment in UTC
(`*_utc`); `created_at` and `updated_at` are UTC. Text cells that a spreadsheet would read as a
formula get a leading apostrophe (see `escape`), which the import takes off again.
"""

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from app.core.time import zone

Kind = Literal["episodes", "release-sessions", "exposures", "checkins"]
KINDS: tuple[Kind, ...] = ("episodes", "release-sessions", "exposures", "checkins")

# What a spreadsheet may take for the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _needs_escape(text: str) -> bool:
    # An apostrophe run before a formula character is escaped too, so `unescape` is exact: "'=1"
    # is written as "''=1" and read back as "'=1", never as "=1".
    body = text.lstrip("'")
    return body.startswith(FORMULA_STARTS)


def escape(text: str) -> str:
    return "'" + text if text and _needs_escape(text) else text


def unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and _needs_escape(cell[1:]) else cell


class Omit:
    """An empty cell of a field with a default: the field is left out, so the default applies."""


OMIT = Omit()
Parse = Callable[[str], Any]
Positions = Callable[[str], int]  # field name -> its index in the selected row
Cells = Callable[[Sequence[Sequence[Any]]], list[str]]  # a batch of rows -> the column's cells
Render = Callable[[Positions], Cells]


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    render: Render
    # None: written by the export, ignored by the import (derived or kept by the server).
    parse: Parse | None = None


@dataclass(frozen=True)
class Table:
    kind: Kind
    # The record attributes the export selects, in select order; the renderers read them by name.
    fields: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def file_name(self) -> str:
        return f"{self.kind}.csv"

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def header_line(self) -> str:
        return ",".join(self.header) + "\r\n"

    @property
    def inputs(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns if column.parse is not None}


# --- rendering ------------------------------------------------------------------------------------
#
# Two things make the export fast enough to stream 100,000 rows a second:
# - It selects raw driver values (see repository.export_statement): SQLAlchemy's per-value result
#   processing (parsing SQLite's datetime text, the UTC type, JSON decoding) cost more than all the
#   rest together. So renderers take what the driver returns: on SQLite, text for timestamps, dates,
#   UUIDs and JSON, and 0/1 for booleans; on PostgreSQL, Python objects.
# - A column renders a whole batch at once, as one list comprehension with the cell's expression
#   inline: no Python call per cell. The lines are then the columns zipped and joined.

_QUOTED = re.compile(r'[",\r\n]')


def csv_field(text: str) -> str:
    """RFC 4180: a field holding a quote, comma or line break is quoted, quotes doubled."""
    return '"' + text.replace('"', '""') + '"' if _QUOTED.search(text) else text


def _moment(value: Any) -> datetime:
    # SQLite holds naive UTC text ("2026-03-04 02:12:00.000000"); PostgreSQL gives aware datetimes.
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    moment: datetime = value
    return moment


def _utc_text(value: Any) -> str:
    if isinstance(value, str):  # "YYYY-MM-DD HH:MM:SS.ffffff" -> RFC 3339, as the JSON API writes it
        fraction = value[19:]
        return f"{value[:10]}T{value[11:19]}{'' if fraction.strip('.0') == '' else fraction}Z"
    text: str = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def utc_cell(name: str) -> Render:
    def bind(at: Positions) -> Cells:
        index = at(name)
        return lambda rows: [_utc_text(row[index]) for row in rows]

    return bind


def local_time_cell(name: str) -> Render:
    """The moment in the record's own time zone, with the offset it had then."""

    def bind(at: Positions) -> Cells:
        index, zone_index = at(name), at("timezone")
        return lambda rows: [_moment(row[index]).astimezone(zone(row[zone_index])).isoformat() for row in rows]

    return bind


def _uuid_text(value: Any) -> str:
    if isinstance(value, str) and len(value) == 32:  # SQLite keeps UUIDs as 32 hex digits
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


def uuid_cell(name: str) -> Render:
    def bind(at: Positions) -> Cells:
        index = at(name)
        return lambda rows: [_uuid_text(row[index]) for row in rows]

    return bind


def plain_cell(name: str) -> Render:
    """Numbers and enum values: nothing in them can start a formula or need quotes."""

    def bind(at: Positions) -> Cells:
        index = at(name)
        return lambda rows: ["" if (value := row[index]) is None else str(value) for row in rows]

    return bind


def date_cell(name: str) -> Render:
    def bind(at: Positions) -> Cells:
        index = at(name)
        return lambda rows: [
            "" if (value := row[index]) is None else value if isinstance(value, str) else value.isoformat()
            for row in rows
        ]

    return bind


def boolean_cell(name: str) -> Render:
    def bind(at: Positions) -> Cells:
        index = at(name)
        return lambda rows: ["true" if row[index] else "false" for row in rows]

    return bind


def text_cell(name: str) -> Render:
    def bind(at: Positions) -> Cells:
        index = at(name)
        return lambda rows: ["" if (value := row[index]) is None else csv_field(escape(value)) for row in rows]

    return bind


@lru_cache(maxsize=4096)
def _joined(stored: str) -> str:
    # Few distinct lists occur (combinations of enum values), so each stored text is decoded once.
    return csv_field(escape(";".join(json.loads(stored))))


def list_cell(name: str) -> Render:
    def bind(at: Positions) -> Cells:
        index = at(name)
        return lambda rows: [
            _joined(value) if isinstance(value := row[index], str) else csv_field(escape(";".join(value)))
            for row in rows
        ]

    return bind


def batch_writer(table: "Table") -> Callable[[Sequence[Sequence[Any]]], str]:
    """The CSV lines (each ending in CRLF) of a batch of rows selected for `table`."""
    positions = {name: index for index, name in enumerate(table.fields)}
    renders = [column.render(positions.__getitem__) for column in table.columns]

    def write(rows: Sequence[Sequence[Any]]) -> str:
        if not rows:
            return ""
        lines = map(",".join, zip(*[render(rows) for render in renders], strict=True))
        return "\r\n".join(lines) + "\r\n"

    return write


# --- parsing: a cell to the JSON value the API's request schema validates --------------------------

_INTEGER = re.compile(r"^[+-]?\d{1,12}$")


def parse_text(cell: str) -> str | None:
    return unescape(cell) if cell else None


def parse_value(cell: str) -> str | None:
    return cell or None


def parse_value_or_default(cell: str) -> str | Omit:
    return cell or OMIT


def parse_integer(cell: str) -> int | None:
    if not cell:
        return None
    if not _INTEGER.match(cell.strip()):
        raise ValueError("must be an integer")
    return int(cell.strip())


def parse_integer_or_default(cell: str) -> int | Omit | None:
    return parse_integer(cell) if cell else OMIT


def parse_boolean(cell: str) -> bool | Omit:
    # Spreadsheets rewrite true as TRUE.
    if not cell:
        return OMIT
    lowered = cell.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError("must be true or false")
    return lowered == "true"


def parse_list(cell: str) -> list[str]:
    text = unescape(cell)
    return [item.strip() for item in text.split(";")] if text else []


# --- the four files ------------------------------------------------------------------------------

_ID = Column("id", "The record's id (UUID); the import is idempotent by it.", uuid_cell("id"), parse_value)
_CREATED = Column("created_at", "When the record was first saved, UTC; not imported.", utc_cell("created_at"))
_UPDATED = Column("updated_at", "When the record last changed, UTC; not imported.", utc_cell("updated_at"))
_NOTES = Column("notes", "Free text, at most 2000 characters.", text_cell("notes"), parse_text)
_DIARY_DATE = Column("diary_date", "The diary day it counts for; derived, not imported.", date_cell("diary_date"))

EPISODES = Table(
    kind="episodes",
    fields=(
        "id",
        "started_at",
        "timezone",
        "duration_seconds",
        "leg",
        "muscle",
        "severity",
        "during_sleep",
        "activity",
        "relief",
        "notes",
        "diary_date",
        "created_at",
        "updated_at",
    ),
    columns=(
        _ID,
        Column(
            "started_at",
            "When the cramp began, local time with its UTC offset (RFC 3339).",
            local_time_cell("started_at"),
            parse_value,
        ),
        Column("started_at_utc", "The same moment in UTC; not imported.", utc_cell("started_at")),
        Column("timezone", "IANA time zone of the record.", plain_cell("timezone"), parse_value_or_default),
        Column("duration_seconds", "1..86400, or empty.", plain_cell("duration_seconds"), parse_integer),
        Column("leg", "left, right or both.", plain_cell("leg"), parse_value),
        Column(
            "muscle",
            "calf, foot, toes, shin, hamstring, quadriceps or other.",
            plain_cell("muscle"),
            parse_value_or_default,
        ),
        Column("severity", "1..10.", plain_cell("severity"), parse_integer),
        Column("during_sleep", "true or false.", boolean_cell("during_sleep"), parse_boolean),
        Column(
            "activity",
            "sleeping, resting, sitting, standing, walking, running, exercising, other, or empty.",
            plain_cell("activity"),
            parse_value,
        ),
        Column("relief", "What brought relief, separated by `;`.", list_cell("relief"), parse_list),
        _NOTES,
        _DIARY_DATE,
        _CREATED,
        _UPDATED,
    ),
)

RELEASE_SESSIONS = Table(
    kind="release-sessions",
    fields=(
        "id",
        "performed_at",
        "timezone",
        "duration_minutes",
        "technique",
        "areas",
        "discomfort",
        "gait_practice_minutes",
        "notes",
        "diary_date",
        "created_at",
        "updated_at",
    ),
    columns=(
        _ID,
        Column(
            "performed_at",
            "When the session was done, local time with its UTC offset (RFC 3339).",
            local_time_cell("performed_at"),
            parse_value,
        ),
        Column("performed_at_utc", "The same moment in UTC; not imported.", utc_cell("performed_at")),
        Column("timezone", "IANA time zone of the record.", plain_cell("timezone"), parse_value_or_default),
        Column("duration_minutes", "1..240.", plain_cell("duration_minutes"), parse_integer),
        Column(
            "technique",
            "hands, foam_roller, massage_ball, massage_stick, therapist or other.",
            plain_cell("technique"),
            parse_value,
        ),
        Column("areas", "The areas worked on, separated by `;`.", list_cell("areas"), parse_list),
        Column("discomfort", "How much the release hurt, 0..10, or empty.", plain_cell("discomfort"), parse_integer),
        Column(
            "gait_practice_minutes",
            "Minutes of gait practice, 0..600.",
            plain_cell("gait_practice_minutes"),
            parse_integer_or_default,
        ),
        _NOTES,
        _DIARY_DATE,
        _CREATED,
        _UPDATED,
    ),
)

EXPOSURES = Table(
    kind="exposures",
    fields=("id", "factor", "start_date", "end_date", "notes", "created_at", "updated_at"),
    columns=(
        _ID,
        Column("factor", "A factor key of the catalogue (GET /api/v1/factors).", plain_cell("factor"), parse_value),
        Column("start_date", "First day, YYYY-MM-DD.", date_cell("start_date"), parse_value),
        Column("end_date", "Last day (inclusive), or empty while ongoing.", date_cell("end_date"), parse_value),
        _NOTES,
        _CREATED,
        _UPDATED,
    ),
)

CHECKINS = Table(
    kind="checkins",
    fields=("date", "factors", "notes", "created_at", "updated_at"),
    columns=(
        Column(
            "date",
            "The diary day, YYYY-MM-DD; one check-in per day, the import matches by it.",
            date_cell("date"),
            parse_value,
        ),
        Column("factors", "Factor keys present that day, separated by `;`.", list_cell("factors"), parse_list),
        _NOTES,
        _CREATED,
        _UPDATED,
    ),
)

TABLES: dict[Kind, Table] = {table.kind: table for table in (EPISODES, RELEASE_SESSIONS, EXPOSURES, CHECKINS)}
