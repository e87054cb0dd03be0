from datetime import date, datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import BaseModel, Field

from app.core.types import Day, InputModel, JsonInteger

TargetMinutes = Annotated[int, Interval(ge=1, le=240), JsonInteger]


class RoutinePublic(BaseModel):
    started_on: date | None = Field(description="Null: the routine starts on the first release session's day.")
    daily_target_minutes: int
    effective_start: date | None = Field(description="The day the routine counts from, as the analysis uses it.")
    version: int
    updated_at: datetime | None = Field(description="Null until the routine is first set.")


class RoutineUpdate(InputModel):
    started_on: Day | None
    daily_target_minutes: TargetMinutes
