import itertools
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from app.auth.dependencies import CurrentUser
from app.core.db import SessionDep, SessionFactoryDep
from app.core.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType, problem_responses
from app.core.records import DateWindowDep
from app.core.routing import Router
from app.export import service
from app.export.columns import Kind
from app.export.schemas import ImportReport
from app.export.service import MAX_IMPORT_BYTES

router = Router(tags=["export"])

IMPORT_PATH_PREFIX = "/api/v1/import/"
# Room for the multipart envelope around a file of MAX_IMPORT_BYTES; the file itself is checked.
MAX_IMPORT_BODY_BYTES = MAX_IMPORT_BYTES + 64 * 1024
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"})

KindPath = Annotated[Kind, Path(description="Which records: the file name the export gives them.")]


def csv_response(chunks: Iterator[bytes], name: str, media_type: str = CSV_MEDIA_TYPE) -> StreamingResponse:
    """Reads the first chunk before the response starts, so a failure to read at all (the
    database unreachable) is still answered with a problem document rather than a cut-off 200."""
    first = next(chunks, b"")
    return StreamingResponse(
        itertools.chain([first], chunks),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            # A diary is health data: no shared or browser cache may keep a copy.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def csv_file_responses(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.get(
    "/export/archive.zip",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A zip of episodes.csv, release-sessions.csv, exposures.csv, checkins.csv and "
            "manifest.json (schema version, export time, time zone, row counts, column descriptions, "
            "custom factors, routine).",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(401, 422),
    },
)
def archive(
    user: CurrentUser, session: SessionDep, open_session: SessionFactoryDep, window: DateWindowDep
) -> StreamingResponse:
    """Everything the caller recorded, as files any spreadsheet opens. `from`/`to` as for the CSV files."""
    # The stream reads with its own session; releasing this one now keeps the export at one connection.
    session.close()
    chunks = service.stream_archive(open_session, user, window)
    return csv_response(chunks, service.file_name("cramp-diary", user.timezone, "zip"), "application/zip")


@router.get(
    "/export/{kind}.csv",
    response_class=StreamingResponse,
    responses={**csv_file_responses("The records as CSV (contract section 7)."), **problem_responses(401, 422)},
)
def export_csv(
    kind: KindPath, user: CurrentUser, session: SessionDep, open_session: SessionFactoryDep, window: DateWindowDep
) -> StreamingResponse:
    """A header row, then one row per record, oldest first. `from`/`to` select by diary date
    (check-ins by `date`; exposures that overlap the window). Streamed: memory does not grow with
    the number of rows."""
    session.close()
    chunks = service.stream_csv(open_session, kind, user.id, window)
    return csv_response(chunks, service.file_name(kind, user.timezone, "csv"))


async def uploaded_csv(request: Request) -> bytes:
    """The CSV file: the `file` part of a multipart form, or the whole body sent as text/csv."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Unprocessable("file", "the multipart form needs a `file` part holding the CSV file")
            content = await upload.read(MAX_IMPORT_BYTES + 1)
    elif media_type in CSV_TYPES:
        content = await request.body()
    else:
        raise UnsupportedMediaType("Send the CSV file as text/csv or as the `file` part of multipart/form-data.")
    if len(content) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"CSV files are limited to {MAX_IMPORT_BYTES} bytes.")
    return content


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.post(
    "/import/{kind}.csv",
    response_model=ImportReport,
    responses={
        **problem_responses(400, 401, 409, 413, 415),
        422: {
            "description": "A file-level problem (not CSV, unknown columns), or invalid rows: then the problem "
            "document also carries the report (`created`, `unchanged`, `updated`, `failed`, and `errors` with "
            "`row`, `field`, `message`) and nothing was written.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    },
    openapi_extra=IMPORT_BODY,
)
def import_csv(
    kind: KindPath,
    user: CurrentUser,
    session: SessionDep,
    content: Annotated[bytes, Depends(uploaded_csv)],
    dry_run: Annotated[bool, Query(description="Validate and count, write nothing.")] = False,
) -> ImportReport:
    """Takes back a file the export wrote (up to 20 MiB), validating every row with the rules of
    the JSON API. Idempotent by `id` (check-ins by `date`): the same file again changes nothing.
    An existing `id` with other content is updated (version + 1); an `id` the caller deleted is
    a failed row (an import never restores deleted records). All rows are written, or none."""
    return service.import_csv(session, user, kind, content, dry_run)
