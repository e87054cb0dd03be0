import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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

Technique = Literal["hands", "foam_roller", "massage_ball", "massage_stick", "therapist", "other"]
Area = Literal[
    "left_calf", "right_calf", "left_shin", "right_shin", "left_foot", "right_foot",
    "left_hamstring", "right_hamstring", "left_thigh", "right_thigh",
]  # fmt: skip
DurationMinutes = Annotated[int, Interval(ge=1, le=240), JsonInteger]
Discomfort = Annotated[int, Interval(ge=0, le=10), JsonInteger]
GaitMinutes = Annotated[int, Interval(ge=0, le=600), JsonInteger]
Areas = Annotated[
    list[Area], Field(min_length=1, max_length=10), AfterValidator(unique_items), JsonSchemaExtra(uniqueItems=True)
]


class ReleaseSessionCreate(InputModel):
    id: uuid.UUID | None = None
    performed_at: PastTimestamp
    timezone: TimeZoneName | None = Field(default=None, description="Default: the user's time zone.")
    duration_minutes: DurationMinutes
    technique: Technique
    areas: Areas
    discomfort: Discomfort | None = Field(default=None, description="How much the release hurt, 0..10.")
    gait_practice_minutes: GaitMinutes = 0
    notes: Notes | None = None


class ReleaseSessionUpdate(InputModel):
    """Only the fields sent change; `null` clears the nullable ones."""

    performed_at: PastTimestamp = not_null()
    timezone: TimeZoneName = not_null()
    duration_minutes: DurationMinutes = not_null()
    technique: Technique = not_null()
    areas: Areas = not_null()
    discomfort: Discomfort | None = None
    gait_practice_minutes: GaitMinutes = not_null()
    notes: Notes | None = None

    _no_nulls = refuse_null(
        "performed_at", "timezone", "duration_minutes", "technique", "areas", "gait_practice_minutes"
    )


class ReleaseSessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    performed_at: datetime
    timezone: str
    duration_minutes: int
    technique: Technique
    areas: list[Area]
    discomfort: int | None
    gait_practice_minutes: int
    notes: str | None
    diary_date: date
    version: int
    created_at: datetime
    updated_at: datetime
