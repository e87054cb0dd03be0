import datetime as dt
from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, Field, StringConstraints

from app.core.errors import Problem
from app.core.types import InputModel, JsonInteger

ChangeType = Literal["episode", "release_session", "exposure", "checkin", "routine", "factor"]
ChangeOp = Literal["upsert", "delete"]

MAX_OPERATIONS = 500
DEFAULT_FEED_LIMIT = 500
MAX_FEED_LIMIT = 1000


class Change(BaseModel):
    type: ChangeType
    id: str = Field(description="A uuid; a check-in's date; a factor's key; `routine` for the routine.")
    op: ChangeOp
    version: int
    changed_at: dt.datetime
    record: dict[str, Any] | None = Field(
        description="With `upsert`, the record as its own GET renders it; null with `delete`."
    )


class ChangeFeed(BaseModel):
    changes: list[Change]
    next_cursor: str = Field(description="Pass it as `cursor` on the next call; opaque and signed for the caller.")
    has_more: bool


class Operation(InputModel):
    type: ChangeType
    op: ChangeOp
    id: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)] | None = Field(
        default=None,
        description="The record's uuid (optional when creating), a check-in's date, a factor's key; "
        "ignored for the routine.",
    )
    record: dict[str, Any] | None = Field(
        default=None,
        description="For `upsert`: the body the single endpoint takes (POST for a new record, PATCH fields "
        "for an existing one, the check-in or routine PUT body, the factor POST body).",
    )
    if_version: Annotated[int, Interval(ge=0), JsonInteger] | None = Field(
        default=None, description="Like If-Match: the change applies only to this version, else 412."
    )


class BatchRequest(InputModel):
    operations: list[Operation] = Field(max_length=MAX_OPERATIONS)


class OperationResult(BaseModel):
    id: str | None
    status: int = Field(description="The status the single request would have had.")
    record: dict[str, Any] | None = Field(description="The record after the operation; with 412, the current one.")
    error: Problem | None = Field(description="The problem document the single request would have had.")


class BatchResult(BaseModel):
    results: list[OperationResult]
