"""Strict input types shared by every request schema (contract §1: no coercion, no NUL, offsets required)."""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.core.time import known_timezones

MAX_FUTURE = timedelta(minutes=10)
T = TypeVar("T")
DateOrTime = TypeVar("DateOrTime", date, datetime)


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


_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_string(value: Any) -> Any:
    # pydantic would also read 0 or "0" as a Unix time; the contract says YYYY-MM-DD.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE_SHAPE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


# In a PATCH body a required field may be left out but not set to null: typed without `| None`, so
# the schema and the error paths say exactly that, and defaulting to None when absent (defaults
# are not validated; services read only the fields that were sent).
def not_null() -> Any:
    return Field(default=None)


def _refuse_null(cls: type, value: object) -> object:
    if value is None:
        raise ValueError("must not be null")
    return value


def refuse_null(*fields: str) -> Any:
    """The validator that goes with `not_null()` fields: `_no_nulls = refuse_null("leg", ...)`.
    A before-validator, so the message is "must not be null" rather than a type error."""
    return field_validator(*fields, mode="before")(classmethod(_refuse_null))


EARLIEST_YEAR, LATEST_YEAR = 1900, 2199


def _timestamp_string(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _TIMESTAMP_SHAPE.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset")
    return value


def _json_integer(value: Any) -> Any:
    # JSON Schema counts 6.0 as an integer; a string, a boolean or 7.5 is the wrong type.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


def _known_timezone(value: str) -> str:
    if value not in known_timezones():
        raise ValueError("unknown IANA time zone")
    return value


def _plausible_year(value: DateOrTime) -> DateOrTime:
    # Checked on the naive fields first: converting year 1 or 9999 across an offset overflows.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _not_far_future(value: datetime) -> datetime:
    if value - datetime.now(UTC) > MAX_FUTURE:
        raise ValueError("must not be more than 10 minutes in the future")
    return value


class JsonSchemaExtra:
    """Adds keywords to a field's JSON schema, so the OpenAPI document states rules that
    validators enforce (a NUL-free pattern, a format)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(self.keywords)
        return json_schema


# A JSON string (never a number or bool coerced into one) without NUL characters; give the length
# limit at the use site: Annotated[Text, Field(max_length=100)].
Text = Annotated[str, StringConstraints(strict=True), AfterValidator(_no_nul), JsonSchemaExtra(pattern="^[^\\x00]*$")]
Notes = Annotated[Text, StringConstraints(max_length=2000)]
# The patterns state the year range (1900..2199) the validators enforce.
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_timestamp_string),
    AfterValidator(_plausible_year),
    JsonSchemaExtra(pattern=r"^(19|20|21)\d\d-"),
]
PastTimestamp = Annotated[
    Timestamp,
    AfterValidator(_not_far_future),
    JsonSchemaExtra(description="RFC 3339 with an offset; at most 10 minutes in the future."),
]
# Use after the range: Annotated[int, Interval(ge=1, le=10), JsonInteger], so the schema keeps it.
JsonInteger = BeforeValidator(_json_integer)
Day = Annotated[
    date,
    BeforeValidator(_date_string),
    AfterValidator(_plausible_year),
    JsonSchemaExtra(pattern=r"^(19|20|21)\d\d-\d\d-\d\d$"),
]
TimeZoneName = Annotated[
    str,
    StringConstraints(strict=True, max_length=64),
    AfterValidator(_known_timezone),
    JsonSchemaExtra(format="iana-time-zone", description="An IANA time zone name, e.g. Europe/Berlin."),
]


def unique_items(values: list[T]) -> list[T]:
    if len(set(values)) != len(values):
        raise ValueError("items must be unique")
    return values
