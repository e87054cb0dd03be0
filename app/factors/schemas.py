import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.core.types import Day, InputModel, JsonSchemaExtra, Notes, Text, not_null, refuse_null, unique_items
from app.factors.catalogue import Category

FACTOR_KEY_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
# The pattern excludes NUL and everything else but [a-z0-9_], so it needs no other text rule.
FactorKey = Annotated[str, StringConstraints(strict=True, pattern=FACTOR_KEY_PATTERN)]
# A key that must already be in the caller's catalogue (built-in or their own).
CatalogueKey = Annotated[
    FactorKey, JsonSchemaExtra(format="catalogue-key", description="A key in the caller's catalogue (GET /factors).")
]
FactorKeys = Annotated[
    list[CatalogueKey], Field(max_length=50), AfterValidator(unique_items), JsonSchemaExtra(uniqueItems=True)
]


class FactorPublic(BaseModel):
    key: str
    label: str
    category: Category
    builtin: bool


class FactorList(BaseModel):
    items: list[FactorPublic]


class FactorCreate(InputModel):
    key: FactorKey
    label: Annotated[Text, StringConstraints(min_length=1, max_length=80)]
    category: Category


class ExposureCreate(InputModel):
    id: uuid.UUID | None = None
    factor: CatalogueKey
    start_date: Day
    end_date: Day | None = Field(default=None, description="Inclusive; null while ongoing.")
    notes: Notes | None = None


class ExposureUpdate(InputModel):
    """Only the fields sent change; `"end_date": null` makes the exposure ongoing again."""

    factor: CatalogueKey = not_null()
    start_date: Day = not_null()
    end_date: Day | None = None
    notes: Notes | None = None

    _no_nulls = refuse_null("factor", "start_date")


class ExposurePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    factor: str
    start_date: dt.date
    end_date: dt.date | None
    notes: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class CheckInPut(InputModel):
    factors: FactorKeys = Field(default=[], description="Factors present that day: keys in the caller's catalogue.")
    notes: Notes | None = None


class CheckInPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    date: dt.date
    factors: list[str]
    notes: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
