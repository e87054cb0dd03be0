import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from app.export.columns import Kind

SCHEMA_VERSION = 1


class RowError(BaseModel):
    row: int = Field(description="The record's row in the file as a spreadsheet numbers it: the header is row 1.")
    field: str = Field(description="The column, or `id` / `date` for a clash with a stored record.")
    message: str


class ImportReport(BaseModel):
    """What an import did, or with `dry_run`, would do. When any row failed, nothing was written;
    `failed` counts every failed row, `errors` lists the first 1,000 problems."""

    kind: Kind
    dry_run: bool
    applied: bool = Field(description="True when the rows were written: no failed rows and not a dry run.")
    created: int
    unchanged: int
    updated: int
    failed: int
    errors: list[RowError] = Field(description="The first 1,000 problems, by row; see `errors_truncated`.")
    errors_truncated: bool = Field(default=False, description="True when there were more problems than `errors` lists.")


class ColumnDescription(BaseModel):
    name: str
    description: str
    imported: bool = Field(description="False for columns the import ignores (derived or kept by the server).")


class ManifestFile(BaseModel):
    name: str
    kind: Kind
    rows: int
    columns: list[ColumnDescription]


class ManifestFactor(BaseModel):
    key: str
    label: str
    category: str


class ManifestRoutine(BaseModel):
    started_on: dt.date | None
    daily_target_minutes: int


class Manifest(BaseModel):
    """`manifest.json` of the archive: what each file holds, and the settings the diary needs to
    mean the same thing elsewhere (the time zone, the user's own factors, the routine)."""

    schema_version: int = SCHEMA_VERSION
    format: Literal["cramp-diary-export"] = "cramp-diary-export"
    exported_at: dt.datetime
    timezone: str
    window: dict[str, dt.date | None]
    files: list[ManifestFile]
    custom_factors: list[ManifestFactor]
    routine: ManifestRoutine
    notes: list[str]
