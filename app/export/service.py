"""Export (CSV per kind, a zip archive of all four) and import (the same CSV files back).

The export streams: it reads with its own session (the request's session is released before the
body is sent) in batches from a server-side cursor, and each batch leaves as one chunk, so memory
stays flat however long the diary is.

The import validates every row with the JSON API's own request schemas and rules, then applies
all rows in one transaction, or none: a file with any failing row writes nothing and the answer
lists every failing row. By record:
- a new `id` (or an empty one) is created, as `POST` would;
- an `id` of the caller's with the same content is unchanged; with different content it is
  updated as a `PATCH` would (version + 1, `updated_at` now);
- an `id` the caller deleted fails: an import never brings back what was deleted;
- an `id` of someone else's fails as "already in use", revealing nothing;
- check-ins are matched by `date` and replaced as `PUT /checkins/{date}` would (a deleted day's
  check-in comes back, as after a `PUT`).
"""

import csv
import datetime as dt
import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.changes import stamp_all
from app.core.db import SessionFactory, utcnow
from app.core.errors import AppError, Conflict, Unprocessable
from app.core.records import DateWindow, RecordService, content_digest
from app.core.time import zone
from app.core.types import Day
from app.episodes import service as episodes
from app.episodes.schemas import EpisodeCreate
from app.export import repository
from app.export.columns import KINDS, OMIT, TABLES, Kind, Table, batch_writer
from app.export.schemas import (
    ColumnDescription,
    ImportReport,
    Manifest,
    ManifestFactor,
    ManifestFile,
    ManifestRoutine,
    RowError,
)
from app.factors import service as factors
from app.factors.models import CheckIn
from app.factors.schemas import CheckInPut, ExposureCreate
from app.release import service as releases
from app.release.schemas import ReleaseSessionCreate
from app.routine import service as routines
from app.users.models import User

BATCH_ROWS = 2000
IMPORT_CHUNK = 500
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class ImportFailed(AppError):
    status, slug, title = 422, "import-failed", "Some rows are invalid; nothing was imported"


# --- export --------------------------------------------------------------------------------------


def file_name(stem: str, timezone: str, suffix: str) -> str:
    """Dated with the user's local date: the day they would say they exported it."""
    return f"{stem}-{dt.datetime.now(zone(timezone)).date().isoformat()}.{suffix}"


@dataclass
class RowCount:
    rows: int = 0


def _csv_chunks(
    session: Session, table: Table, owner_id: uuid.UUID, window: DateWindow, count: RowCount
) -> Iterator[str]:
    """The header, then one chunk of text per batch of rows, counted into `count`."""
    write = batch_writer(table)
    header = table.header_line
    statement = repository.export_statement(table, owner_id, window)
    for batch in repository.batches(session, statement, BATCH_ROWS):
        count.rows += len(batch)
        yield header + write(batch)
        header = ""
    if header:
        yield header


def stream_csv(
    open_session: SessionFactory,
    kind: Kind,
    owner_id: uuid.UUID,
    window: DateWindow,
    on_success: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """The CSV file in chunks. `on_success` runs after the last row was read and before the last
    chunk is sent, so a failure of either leaves the response incomplete (the client sees an error)."""
    pending = b""
    with open_session(False) as session:
        for text in _csv_chunks(session, TABLES[kind], owner_id, window, RowCount()):
            if pending:
                yield pending
            pending = text.encode()
            if on_success is None:
                yield pending
                pending = b""
    if on_success is not None:
        on_success()
    if pending:
        yield pending


class _Sink:
    """A write-only stream the zip writer appends to; `drain` hands over what it wrote so far."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def stream_archive(open_session: SessionFactory, user: User, window: DateWindow) -> Iterator[bytes]:
    """A zip of the four CSV files and `manifest.json`, written as it is sent."""
    sink = _Sink()
    files: list[ManifestFile] = []
    with (
        open_session(False) as session,
        zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for kind in KINDS:
            table = TABLES[kind]
            count = RowCount()
            with archive.open(table.file_name, "w") as entry:
                for text in _csv_chunks(session, table, user.id, window, count):
                    entry.write(text.encode())
                    yield sink.drain()
            files.append(_manifest_file(table, count.rows))
        manifest = _manifest(session, user, window, files)
        archive.writestr("manifest.json", manifest.model_dump_json(indent=2))
    yield sink.drain()


def _manifest_file(table: Table, rows: int) -> ManifestFile:
    columns = [
        ColumnDescription(name=column.name, description=column.description, imported=column.parse is not None)
        for column in table.columns
    ]
    return ManifestFile(name=table.file_name, kind=table.kind, rows=rows, columns=columns)


def _manifest(session: Session, user: User, window: DateWindow, files: list[ManifestFile]) -> Manifest:
    routine = routines.read(session, user.id)
    custom = [
        ManifestFactor(key=f.key, label=f.label, category=f.category)
        for f in factors.catalogue(session, user.id)
        if not f.builtin
    ]
    return Manifest(
        exported_at=utcnow(),
        timezone=user.timezone,
        window={"from": window.start, "to": window.end},
        files=files,
        custom_factors=custom,
        routine=ManifestRoutine(started_on=routine.started_on, daily_target_minutes=routine.daily_target_minutes),
        notes=[
            "CSV files are UTF-8, RFC 4180, one header row. Empty cells are null; lists are separated by ';'.",
            "A cell that a spreadsheet would read as a formula starts with an added apostrophe.",
            "POST /api/v1/import/{kind}.csv takes these files back; add the custom factors "
            "(POST /api/v1/factors) and the routine (PUT /api/v1/routine) first in a new account.",
        ],
    )


# --- import: reading the file --------------------------------------------------------------------


MAX_ERRORS = 1000


@dataclass
class _Row:
    number: int
    values: dict[str, Any]


@dataclass
class _Outcome:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    failed_rows: set[int] = field(default_factory=set)
    # Created or changed rows, in file order: each gets its change number for the sync feed.
    written: list[Any] = field(default_factory=list)

    def fail(self, row: int, field_name: str, message: str) -> None:
        self.errors.append(RowError(row=row, field=field_name, message=message))
        self.failed_rows.add(row)


def _decode(content: bytes) -> str:
    try:
        text = content.decode("utf-8-sig")  # spreadsheets often save with a byte-order mark
    except UnicodeDecodeError:
        raise Unprocessable("file", "must be UTF-8 text") from None
    if "\x00" in text:
        raise Unprocessable("file", "must not contain NUL characters")
    return text


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet counts records, cells); blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0
    try:
        for cells in reader:
            number += 1
            if cells and any(cells):
                yield number, cells
    except csv.Error as error:
        raise Unprocessable("file", f"is not valid CSV after row {number}: {error}") from None


def _read_rows(table: Table, text: str, outcome: _Outcome) -> list[_Row]:
    records = _records(text)
    first = next(records, None)
    if first is None:
        raise Unprocessable("file", f"is empty; expected the header row: {','.join(table.header)}")
    header = [name.strip() for name in first[1]]
    known = set(table.header)
    unknown = [name for name in header if name not in known]
    if unknown:
        raise Unprocessable("file", f"unknown columns {unknown}; expected: {','.join(table.header)}")
    if len(set(header)) != len(header):
        raise Unprocessable("file", "a column appears twice in the header row")
    inputs = table.inputs
    # Every column the import reads must be there: a missing one would reset stored values to the
    # defaults of a create, and a file without `id` would duplicate its records on every import.
    missing = [name for name, column in inputs.items() if column.parse is not None and name not in header]
    if missing:
        raise Unprocessable("file", f"missing columns {missing}; the export's header row is: {','.join(table.header)}")
    rows = []
    for number, cells in records:
        outcome.rows += 1
        if len(cells) != len(header):
            outcome.fail(number, "row", f"has {len(cells)} cells; the header row has {len(header)}")
            continue
        values: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            column = inputs.get(name)
            if column is None or column.parse is None:
                continue
            try:
                value = column.parse(cell)
            except ValueError as error:
                outcome.fail(number, name, str(error))
                continue
            if value is not OMIT:
                values[name] = value
        if number not in outcome.failed_rows:
            rows.append(_Row(number, values))
    return rows


def _validated(schema: type[BaseModel], row: _Row, outcome: _Outcome) -> Any | None:
    """The row through the JSON API's request schema: the same rules as a POST or PUT."""
    try:
        return schema.model_validate(row.values)
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "row"
            outcome.fail(row.number, name, str(problem["msg"]).removeprefix("Value error, "))
        return None


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- import: applying ----------------------------------------------------------------------------


def import_csv(session: Session, user: User, kind: Kind, content: bytes, dry_run: bool) -> ImportReport:
    """One transaction: committed when every row is valid and this is not a dry run."""
    outcome = _Outcome()
    table = TABLES[kind]
    rows = _read_rows(table, _decode(content), outcome)
    try:
        if kind == "checkins":
            _import_checkins(session, user, rows, outcome)
        else:
            _import_records(session, user, kind, rows, outcome)
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("The diary changed during the import; try again.") from None
    failed = len(outcome.failed_rows)
    applied = not dry_run and failed == 0
    report = ImportReport(
        kind=kind,
        dry_run=dry_run,
        applied=applied,
        created=outcome.created,
        unchanged=outcome.unchanged,
        updated=outcome.updated,
        failed=failed,
        # A 20 MiB file of bad rows would otherwise answer with tens of megabytes of errors.
        errors=sorted(outcome.errors, key=lambda e: e.row)[:MAX_ERRORS],
        errors_truncated=len(outcome.errors) > MAX_ERRORS,
    )
    if not applied:
        session.rollback()
    if failed:
        raise ImportFailed(
            f"{failed} of {outcome.rows} rows are invalid; nothing was imported. See `errors`.",
            body=report.model_dump(mode="json"),
        )
    if applied:
        stamp_all(session, user.id, outcome.written)
        session.commit()
    return report


@dataclass(frozen=True)
class _RecordKind:
    schema: type[BaseModel]
    records: RecordService[Any]
    fields: Callable[[User, Any], dict[str, Any]]


def _exposure_fields(user: User, payload: ExposureCreate) -> dict[str, Any]:
    return payload.model_dump(exclude={"id"})


_RECORD_KINDS: dict[Kind, _RecordKind] = {
    "episodes": _RecordKind(EpisodeCreate, episodes.records, episodes.create_fields),
    "release-sessions": _RecordKind(ReleaseSessionCreate, releases.records, releases.create_fields),
    "exposures": _RecordKind(ExposureCreate, factors.exposure_records, _exposure_fields),
}


def _import_records(session: Session, user: User, kind: Kind, rows: list[_Row], outcome: _Outcome) -> None:
    spec = _RECORD_KINDS[kind]
    known_factors = factors.catalogue_keys(session, user.id) if kind == "exposures" else set()
    seen: set[uuid.UUID] = set()
    valid: list[tuple[_Row, Any]] = []
    for row in rows:
        payload = _validated(spec.schema, row, outcome)
        if payload is None:
            continue
        if kind == "exposures" and None is _check(
            outcome, row, factors.require_known, known_factors, [payload.factor], "factor"
        ):
            continue
        if payload.id is not None:
            if payload.id in seen:
                outcome.fail(row.number, "id", "appears more than once in this file")
                continue
            seen.add(payload.id)
        valid.append((row, payload))
    for chunk in _chunks(valid, IMPORT_CHUNK):
        ids = [payload.id for _, payload in chunk if payload.id is not None]
        fields = [name for name in spec.schema.model_fields if name != "id"]
        stored = {record.id: record for record in repository.records_by_id(session, kind, ids, fields)}
        for row, payload in chunk:
            _apply_record(session, user, spec, row, payload, stored.get(payload.id), outcome)


def _apply_record(
    session: Session, user: User, spec: _RecordKind, row: _Row, payload: Any, existing: Any, outcome: _Outcome
) -> None:
    fields = spec.fields(user, payload)
    if existing is None:
        record = _check(outcome, row, spec.records.new_record, user.id, payload.id, fields)
        if record is not None:
            session.add(record)
            outcome.written.append(record)
            outcome.created += 1
        return
    if existing.user_id != user.id:
        outcome.fail(row.number, "id", "This id is already in use.")
        return
    if existing.deleted_at is not None:
        outcome.fail(row.number, "id", "A record with this id was deleted; an import does not restore it.")
        return
    changes = {name: value for name, value in fields.items() if getattr(existing, name) != value}
    if not changes:
        outcome.unchanged += 1
        return
    record = spec.records.repository.get(session, user.id, existing.id, lock=True)
    if record is None:  # deleted by another request since it was looked up (PostgreSQL)
        outcome.fail(row.number, "id", "A record with this id was deleted; an import does not restore it.")
    elif _check(outcome, row, spec.records.change, record, changes) is not None:
        session.add(record)
        outcome.written.append(record)
        outcome.updated += 1


_PASSED = object()


def _check(outcome: _Outcome, row: _Row, rule: Callable[..., Any], *args: Any) -> Any:
    """Runs a rule of the JSON API that raises Unprocessable: its result (or a marker when it has
    none), or None after recording the failure as the row's error."""
    try:
        result = rule(*args)
    except Unprocessable as error:
        for problem in error.errors:
            outcome.fail(row.number, problem.field.split("[")[0], problem.message)
        return None
    return _PASSED if result is None else result


_DAY: TypeAdapter[dt.date] = TypeAdapter(Day)


def _checkin_payload(row: _Row, known: set[str], outcome: _Outcome) -> tuple[dt.date, CheckInPut] | None:
    values = dict(row.values)
    try:
        day = _DAY.validate_python(values.pop("date", None))
    except ValidationError as error:
        outcome.fail(row.number, "date", str(error.errors()[0]["msg"]).removeprefix("Value error, "))
        return None
    payload = _validated(CheckInPut, _Row(row.number, values), outcome)
    if payload is None:
        return None
    if _check(outcome, row, factors.require_checkin_day, day) is None:
        return None
    if _check(outcome, row, factors.require_known, known, payload.factors, "factors") is None:
        return None
    return day, payload


def _import_checkins(session: Session, user: User, rows: list[_Row], outcome: _Outcome) -> None:
    known = factors.catalogue_keys(session, user.id)
    seen: set[dt.date] = set()
    valid: list[tuple[_Row, dt.date, CheckInPut]] = []
    for row in rows:
        parsed = _checkin_payload(row, known, outcome)
        if parsed is None:
            continue
        day, payload = parsed
        if day in seen:
            outcome.fail(row.number, "date", "appears more than once in this file")
            continue
        seen.add(day)
        valid.append((row, day, payload))
    for chunk in _chunks(valid, IMPORT_CHUNK):
        stored = {c.date: c for c in repository.checkins_on(session, user.id, [day for _, day, _ in chunk])}
        for _row, day, payload in chunk:
            _apply_checkin(session, user, day, payload, stored.get(day), outcome)


def _apply_checkin(
    session: Session, user: User, day: dt.date, payload: CheckInPut, existing: CheckIn | None, outcome: _Outcome
) -> None:
    """As `PUT /checkins/{date}` would: insert, replace, or bring back a deleted day."""
    fields = payload.model_dump()
    now = utcnow()
    if existing is None:
        digest = content_digest(fields)
        created = CheckIn(**fields, user_id=user.id, date=day, create_digest=digest, created_at=now, updated_at=now)
        session.add(created)
        outcome.written.append(created)
        outcome.created += 1
        return
    if existing.deleted_at is None and existing.factors == fields["factors"] and existing.notes == fields["notes"]:
        outcome.unchanged += 1
        return
    if existing.deleted_at is not None:
        existing.created_at = now
        outcome.created += 1
    else:
        outcome.updated += 1
    existing.factors, existing.notes, existing.deleted_at = fields["factors"], fields["notes"], None
    existing.version += 1
    existing.updated_at = now
    session.add(existing)
    outcome.written.append(existing)
