"""The analysis report (contract §5): the response models of `GET /analysis`.

Every float is optional and passes through `_finite_or_none`, so a number that cannot be estimated
is rendered as `null`, never as 0, infinity or NaN, even if one slipped through the engine.
"""

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

Verdict = Literal[
    "insufficient_data",
    "cannot_separate",
    "likely_increases",
    "likely_decreases",
    "no_large_effect",
    "inconclusive",
]
FactorMethod = Literal["adjusted_glm", "crude_exact"]
AdherenceMethod = Literal["adjusted_glm", "unadjusted_glm"]
Status = Literal["ok", "insufficient_data"]


def _finite_or_none(value: Any) -> Any:
    """NaN and ±infinity become None; everything else is left to the field's own validation."""
    if isinstance(value, float | int) and not isinstance(value, bool) and not math.isfinite(value):
        return None
    return value


Number = Annotated[float | None, BeforeValidator(_finite_or_none)]


class ReportModel(BaseModel):
    """Responses render field aliases (`from`), and the engine may fill fields by their Python names."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)


class ReportWindow(ReportModel):
    from_: date = Field(alias="from", description="First diary day of the window (inclusive).")
    to: date = Field(description="Last diary day of the window (inclusive).")
    days_in_range: int = Field(description="Calendar days in the window.")
    days_logged: int = Field(description="Diary days in the window with a check-in, an episode or a release session.")
    days_missing: int = Field(description="days_in_range - days_logged: missing data, never counted as zero cramps.")


class Outcome(ReportModel):
    events: int = Field(description="Cramp episodes on logged days of the window.")
    rate_per_day: Number = Field(description="Episodes per logged day.")
    rate_per_week: Number = Field(description="7 × rate_per_day.")
    mean_severity: Number = Field(description="Mean severity (1..10) of the episodes; null without episodes.")


class FactorResult(ReportModel):
    factor: str
    label: str
    category: str
    exposed_days: int = Field(description="Logged days of the window on which the factor was present.")
    unexposed_days: int = Field(description="Logged days of the window on which it was not.")
    events_exposed: int
    events_unexposed: int
    rate_exposed: Number = Field(description="Episodes per exposed logged day.")
    rate_unexposed: Number = Field(description="Episodes per unexposed logged day.")
    rate_ratio: Number = Field(description="Rate ratio exposed vs unexposed from `method`; null when not tested.")
    ci_low: Number = Field(description="Lower end of the 95 % interval of rate_ratio (null: 0 or not estimable).")
    ci_high: Number = Field(description="Upper end of the 95 % interval of rate_ratio (null: unbounded or unknown).")
    p_value: Number
    q_value: Number = Field(description="Benjamini-Hochberg q-value across the tests of this report.")
    method: FactorMethod | None = Field(
        description="adjusted_glm: multivariable Poisson GLM with robust errors; crude_exact: unadjusted "
        "exact conditional comparison; null: no test (insufficient data)."
    )
    verdict: Verdict
    min_detectable_rate_ratio: Number = Field(
        description="Smallest rate ratio above 1 the data would detect with 80 % power (two-sided 5 %)."
    )
    overlaps_with: list[str] = Field(description="Factors present on overlapping days (0.6 <= |phi| < 0.95).")
    cannot_separate_from: list[str] = Field(description="Factors (or `adherence`) with |phi| >= 0.95.")
    warnings: list[str]
    summary: str = Field(description="One plain sentence about the association (never about cause).")
    crude_rate_ratio: Number = Field(default=None, description="Unadjusted rate ratio (exposed vs unexposed rate).")
    crude_ci_low: Number = Field(default=None, description="Unadjusted, Clopper-Pearson-derived 95 % interval.")
    crude_ci_high: Number = Field(default=None, description="Unadjusted, Clopper-Pearson-derived 95 % interval.")
    crude_p_value: Number = Field(default=None, description="Unadjusted exact conditional (binomial) p-value.")


class DoseBand(ReportModel):
    band: str = Field(description="Range of adherence over the previous 7 diary days, e.g. `25-50%`.")
    days: int
    events: int
    rate: Number


class AdherenceResult(ReportModel):
    daily_target_minutes: int
    days_adherent: int = Field(description="Adherent diary days in the window, from the routine's start on.")
    adherence_rate: Number = Field(description="days_adherent / window_days; null when window_days is 0.")
    current_streak_days: int
    longest_streak_days: int
    window_days: int = Field(description="Calendar days of the window from the routine's start on.")
    rate_ratio_full_vs_none: Number = Field(
        description="Cramp rate after a fully adherent previous week relative to a week without the routine."
    )
    ci_low: Number
    ci_high: Number
    p_value: Number
    q_value: Number
    verdict: Verdict
    dose_response: list[DoseBand]
    method: AdherenceMethod | None = Field(
        default=None,
        description="adjusted_glm: the multivariable model; unadjusted_glm: adherence alone (fallback); null: none.",
    )
    overlaps_with: list[str] = Field(default_factory=list)
    cannot_separate_from: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    summary: str = ""


class TrendResult(ReportModel):
    routine_start: date | None
    days_before: int = Field(description="Logged days of the window before the routine started.")
    days_after: int = Field(description="Logged days of the window after the 7-day wash-in.")
    rate_before: Number
    rate_after: Number
    level_change_rate_ratio: Number = Field(
        description="Segmented Poisson regression: level change after the wash-in, as a rate ratio."
    )
    ci_low: Number
    ci_high: Number
    caveats: list[str]
    p_value: Number = None


class AnalysisSettings(ReportModel):
    """Every threshold the report used."""

    min_logged_days: int
    min_events: int
    min_exposed_days: int
    min_unexposed_days: int
    phi_cannot_separate: float
    phi_overlap: float
    q_threshold: float
    no_effect_band_low: float
    no_effect_band_high: float
    power: float
    alpha: float
    confidence_level: float
    events_per_model_term: int
    hac_kernel: str
    hac_min_lags: int
    adherence_lookback_days: int
    adherence_min_logged_days: int
    adherence_min_days_each_side: int
    wash_in_days: int
    trend_min_days_each_side: int
    reverse_causation_days: int
    reverse_causation_min_logged_days: int
    reverse_causation_rate_ratio: float
    almost_always_on_share: float
    few_events: int
    dose_response_bands: list[str]


class AnalysisReport(ReportModel):
    status: Status
    reasons: list[str]
    window: ReportWindow
    outcome: Outcome
    factors: list[FactorResult]
    adherence: AdherenceResult
    trend: TrendResult
    settings: AnalysisSettings
    analysis_version: str
    generated_at: datetime

    @field_validator("generated_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """Rendered in UTC (with `Z`); a naive timestamp is taken to be UTC already."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
