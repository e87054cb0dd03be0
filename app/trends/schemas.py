import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Granularity = Literal["day", "week", "month"]


class TrendPoint(BaseModel):
    period_start: dt.date
    days_logged: int
    episodes: int
    mean_severity: float | None = Field(description="Mean over the period's episodes; null without episodes.")
    adherence_rate: float | None = Field(
        description="Share of the period's days, from the routine's start up to today, whose release sessions "
        "reached the daily target; null before the routine starts."
    )
    release_minutes: int


class Trends(BaseModel):
    granularity: Granularity
    points: list[TrendPoint]
