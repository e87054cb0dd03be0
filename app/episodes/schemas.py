import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from app.core.types import (
    InputModel,
    JsonInteger,
    JsonSchemaExtra,
    Notes,
    PastTimestamp,
    TimeZoneName,
    not_null,
    refuse_null,
    unique_items,
)

Leg = Literal["left", "right", "both"]
Muscle = Literal["calf", "foot", "toes", "shin", "hamstring", "quadriceps", "other"]
Activity = Literal["sleeping", "resting", "sitting", "standing", "walking", "running", "exercising", "other"]
Relief = Literal[
    "stretching",
    "massage",
    "walking",
    "standing",
    "heat",
    "cold",
    "warm_shower",
    "medication",
    "punching",
    "none",
    "other",
]
Severity = Annotated[int, Interval(ge=1, le=10), JsonInteger]
DurationSeconds = Annotated[int, Interval(ge=1, le=86400), JsonInteger]
Reliefs = Annotated[list[Relief], Field(max_length=11), AfterValidator(unique_items), JsonSchemaExtra(uniqueItems=True)]


class EpisodeCreate(InputModel):
    id: uuid.UUID | None = None
    started_at: PastTimestamp
    timezone: TimeZoneName | None = Field(default=None, description="Default: the user's time zone.")
    duration_seconds: DurationSeconds | None = None
    leg: Leg
    muscle: Muscle = "calf"
    severity: Severity
    during_sleep: StrictBool = False
    activity: Activity | None = None
    relief: Reliefs = []
    notes: Notes | None = None


class EpisodeUpdate(InputModel):
    """Only the fields sent change; `null` clears the nullable ones."""

    started_at: PastTimestamp = not_null()
    timezone: TimeZoneName = not_null()
    duration_seconds: DurationSeconds | None = None
    leg: Leg = not_null()
    muscle: Muscle = not_null()
    severity: Severity = not_null()
    during_sleep: StrictBool = not_null()
    activity: Activity | None = None
    relief: Reliefs = not_null()
    notes: Notes | None = None

    _no_nulls = refuse_null("started_at", "timezone", "leg", "muscle", "severity", "during_sleep", "relief")


class EpisodePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    started_at: datetime
    timezone: str
    duration_seconds: int | None
    leg: Leg
    muscle: Muscle
    severity: int
    during_sleep: bool
    activity: Activity | None
    relief: list[Relief]
    notes: str | None
    diary_date: date
    version: int
    created_at: datetime
    updated_at: datetime
