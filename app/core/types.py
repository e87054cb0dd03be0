"""Strict input types shared by every request schema (contract §1: no coercion, no NUL, offsets required)."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from app.core.time import known_timezones

MAX_FUTURE = timedelta(minutes=10)
T = TypeVar("T")


class InputModel(BaseModel):
    """Request bodies: unknown fields are errors.

    Wrong JSON types are refused field by field (StrictInt, StrictBool, `text`): a model-wide
    strict mode would also refuse the ISO strings that carry UUIDs, dates and timestamps, because
    FastAPI validates the decoded Python objects rather than the raw JSON.
    """

    model_config = ConfigDict(extra="forbid")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _require_string(value: Any) -> Any:
    # Dates and timestamps arrive as JSON strings; a number is not silently read as epoch seconds.
    if not isinstance(value, str | datetime | date):
        raise ValueError("must be a string")
    return value


def _known_timezone(value: str) -> str:
    if value not in known_timezones():
        raise ValueError("unknown IANA time zone")
    return value


def _not_far_future(value: datetime) -> datetime:
    if value - datetime.now(UTC) > MAX_FUTURE:
        raise ValueError("must not be more than 10 minutes in the future")
    return value


# A JSON string (never a number or bool coerced into one) without NUL characters; give the length
# limit at the use site: Annotated[Text, Field(max_length=100)].
Text = Annotated[str, StringConstraints(strict=True), AfterValidator(_no_nul)]
Notes = Annotated[Text, StringConstraints(max_length=2000)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_require_string)]
PastTimestamp = Annotated[Timestamp, AfterValidator(_not_far_future)]
Day = Annotated[date, BeforeValidator(_require_string)]
TimeZoneName = Annotated[str, StringConstraints(strict=True, max_length=64), AfterValidator(_known_timezone)]


def unique_items(values: list[T]) -> list[T]:
    if len(set(values)) != len(values):
        raise ValueError("items must be unique")
    return values
