"""The statistics engine of `GET /analysis`: pure computation on one user's diary table.

No database and no web framework here: `analyse(table)` turns a `DiaryTable` (one row per logged
diary day) into an `AnalysisReport`, following `analysis-method.md`. The same table always gives
the same report (apart from `generated_at`), and no input makes it raise for statistical reasons:
every failed model fit degrades to the unadjusted comparison or to `insufficient_data`, and every
number that cannot be estimated is None (rendered as null).

Choices where the method page leaves room (each is listed in the report's `settings` too):

* Rows. Only logged days in `[window_start, window_end]` are analysed; unlogged days are missing
  data, never zero-cramp days. The lookback rows before the window serve only the previous-7-days
  adherence covariate and the reverse-causation check.
* Adherence. A day is adherent when its release minutes reach the daily target and it lies on or
  after the routine start. `adherence_7d` of day t is the share of adherent days among the *known*
  days of t-7..t-1, defined when at least 4 of the 7 are known. A day is known when it is logged,
  or when it lies before the routine start (it was non-adherent by definition, logged or not).
  Days on which `adherence_7d` is undefined are left out of the model (they still count in every
  descriptive figure). Adherence enters the model when there is a routine and `adherence_7d` varies
  enough: at least 14 model days with `adherence_7d` >= 0.5 and 14 with < 0.5. Its rate ratio
  compares a fully adherent previous week (1.0) with none (0.0): exp(beta).
* Model. One Poisson GLM (log link) with an intercept, one column per eligible factor (one per
  cannot-separate group), and `adherence_7d`. "terms" are the covariates without the intercept,
  so the events rule reads events >= 5 x (terms + 1) and k = terms + 1 in the t degrees of
  freedom df = floor(n / (L + 1)) - k; df < 1 means no adjusted model. Standard errors are the
  element-wise larger of Newey-West HAC (Bartlett kernel, L = max(7, floor(4 (n/100)^(2/9))) lags
  over consecutive logged days, n/(n-k) small-sample correction) and quasi-Poisson (Pearson X2
  dispersion); rows with gaps (unlogged days) are simply consecutive. A factor with no episodes on
  its exposed (or unexposed) model days has no finite maximum-likelihood estimate: it stays out of
  the model and gets the crude comparison (warning `unadjusted_fallback`). A fit that fails
  (exception, convergence/separation/singularity warning, non-finite or non-positive variances,
  a |log rate ratio| > 15 or a fitted rate below e^-18, i.e. separation) is reported in `reasons`
  as `adjusted_model_unavailable_<why>`, as is the events rule, and every factor falls back to the
  crude comparison. Adherence then comes from a robust model of adherence alone, labelled
  `unadjusted_glm` (when there are >= 10 events), else it is `insufficient_data`.
* Crude comparison. Conditional on the total, exposed episodes ~ Binomial(total, exposed share of
  days); exact two-sided binomial p (scipy `binomtest`'s, computed in one pass), Clopper-Pearson interval for the
  proportion mapped to rate ratios (p / (1 - p)) x unexposed_days / exposed_days. An end of 0 or
  infinity, or a point estimate of 0 or infinity, is reported as None.
* Overlap. phi (Pearson correlation of the 0/1 columns; with adherence, of the factor and
  `adherence_7d`) on the model rows. Groups with |phi| >= 0.95 are closed transitively; adherence
  represents its group when it is in one, otherwise the first member by key that can be fitted.
  Members share the representative's adjusted estimate and a single test in the BH correction
  (their verdict is `cannot_separate` whatever the numbers say). `adherence` is the key used for
  the routine in `cannot_separate_from`/`overlaps_with`; a factor grouped with it reports the
  adherence coefficient (full vs none), which stands for both.
* q-values. Benjamini-Hochberg over the distinct tests whose verdict is not `insufficient_data`
  (factors, groups, adherence) of one report. For verdicts, a missing interval end counts as
  0 (low) or infinity (high).
* Minimal detectable rate ratio. The smallest RR > 1 for which a Wald test of log RR with
  var = phi (1/(lambda n1 RR) + 1/(lambda n0)) reaches 80 % power at two-sided 5 %, lambda the
  window's episodes per logged day and phi = max(1, Pearson X2 / (n - 1)) of the intercept-only
  model. None above 100 or when lambda, n1 or n0 is 0.
* Warnings. `possible_reverse_causation` when the 14 calendar days before the factor's first
  presence lie inside the table, at least 7 of them are logged, and their rate exceeds 1.5 x the
  window's rate. `few_events` when fewer than 5 episodes fall on exposed or on unexposed days.
  `exposure_almost_always_on` when fewer than 14 unexposed days remain or >= 95 % of days are
  exposed.
* Adherence figures. `window_days` counts calendar days from max(window_start, routine_start) to
  window_end; an unlogged day has no release session, so it is not adherent. Streaks are counted
  within that range; the current one ends at window_end, or at the day before when window_end is
  today and today is not adherent yet. `dose_response` bands `adherence_7d` over the model rows.
* Trend. Segmented Poisson regression (intercept, time, post, time x post; time in years from the
  end of the wash-in) over logged days before the routine start and from the end of the 7-day
  wash-in on, with the same robust errors; `level_change_rate_ratio` = exp(post), the jump at the
  end of the wash-in against the extrapolated earlier trend. It needs >= 14 logged days on each
  side, a sufficient diary and >= 20 events (5 per parameter); otherwise, as on a failed fit, its
  estimate is null and a caveat says why. `rate_before`/`rate_after` are crude rates.

statsmodels' warnings are captured (never printed) under a module lock held for one analysis,
because the warnings filter of Python 3.11 is process-global (two threads changing it at once can
leave it changed for good); concurrent analyses therefore run one after the other, a few
milliseconds each. A captured convergence, separation or singularity warning counts as a failed fit.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats  # type: ignore[import-untyped]
from statsmodels.genmod.families import Poisson  # type: ignore[import-untyped]
from statsmodels.genmod.generalized_linear_model import GLM  # type: ignore[import-untyped]
from statsmodels.tools.sm_exceptions import (  # type: ignore[import-untyped]
    CollinearityWarning,
    ConvergenceWarning,
    HessianInversionWarning,
    IterationLimitWarning,
    PerfectSeparationWarning,
    SingularMatrixWarning,
)

from app.analysis.schemas import (
    AdherenceMethod,
    AdherenceResult,
    AnalysisReport,
    AnalysisSettings,
    DoseBand,
    FactorMethod,
    FactorResult,
    Outcome,
    ReportWindow,
    TrendResult,
    Verdict,
)

ANALYSIS_VERSION: Final = "1.0.0"

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

MIN_LOGGED_DAYS: Final = 28
MIN_EVENTS: Final = 10
MIN_EXPOSED_DAYS: Final = 14
MIN_UNEXPOSED_DAYS: Final = 14
PHI_CANNOT_SEPARATE: Final = 0.95
PHI_OVERLAP: Final = 0.6
Q_THRESHOLD: Final = 0.10
NO_EFFECT_LOW: Final = 0.67
NO_EFFECT_HIGH: Final = 1.5
POWER: Final = 0.8
ALPHA: Final = 0.05
EVENTS_PER_TERM: Final = 5
HAC_MIN_LAGS: Final = 7
ADHERENCE_LOOKBACK_DAYS: Final = 7
ADHERENCE_MIN_KNOWN_DAYS: Final = 4
ADHERENCE_MIN_DAYS_EACH_SIDE: Final = 14
WASH_IN_DAYS: Final = 7
TREND_MIN_DAYS: Final = 14
REVERSE_CAUSATION_DAYS: Final = 14
REVERSE_CAUSATION_MIN_LOGGED: Final = 7
REVERSE_CAUSATION_RATIO: Final = 1.5
ALMOST_ALWAYS_ON_SHARE: Final = 0.95
FEW_EVENTS: Final = 5
CO_INTERVENTION_DAYS: Final = 28
MAX_ABS_COEFFICIENT: Final = 15.0  # |log RR| beyond this is a separated (degenerate) fit, not an estimate
MIN_LOG_MEAN: Final = -18.0  # a fitted rate below e^-18 per day on a logged day: separation
MAX_DETECTABLE_RATE_RATIO: Final = 100.0
DOSE_BANDS: Final = (("0-25%", 0.0, 0.25), ("25-50%", 0.25, 0.5), ("50-75%", 0.5, 0.75), ("75-100%", 0.75, 1.0))
ADHERENCE_KEY: Final = "adherence"
INTERCEPT: Final = "intercept"

SETTINGS: Final = AnalysisSettings(
    min_logged_days=MIN_LOGGED_DAYS,
    min_events=MIN_EVENTS,
    min_exposed_days=MIN_EXPOSED_DAYS,
    min_unexposed_days=MIN_UNEXPOSED_DAYS,
    phi_cannot_separate=PHI_CANNOT_SEPARATE,
    phi_overlap=PHI_OVERLAP,
    q_threshold=Q_THRESHOLD,
    no_effect_band_low=NO_EFFECT_LOW,
    no_effect_band_high=NO_EFFECT_HIGH,
    power=POWER,
    alpha=ALPHA,
    confidence_level=1 - ALPHA,
    events_per_model_term=EVENTS_PER_TERM,
    hac_kernel="bartlett",
    hac_min_lags=HAC_MIN_LAGS,
    adherence_lookback_days=ADHERENCE_LOOKBACK_DAYS,
    adherence_min_logged_days=ADHERENCE_MIN_KNOWN_DAYS,
    adherence_min_days_each_side=ADHERENCE_MIN_DAYS_EACH_SIDE,
    wash_in_days=WASH_IN_DAYS,
    trend_min_days_each_side=TREND_MIN_DAYS,
    reverse_causation_days=REVERSE_CAUSATION_DAYS,
    reverse_causation_min_logged_days=REVERSE_CAUSATION_MIN_LOGGED,
    reverse_causation_rate_ratio=REVERSE_CAUSATION_RATIO,
    almost_always_on_share=ALMOST_ALWAYS_ON_SHARE,
    few_events=FEW_EVENTS,
    dose_response_bands=[band for band, _, _ in DOSE_BANDS],
)

_FIT_FAILURE_WARNINGS: Final = (
    ConvergenceWarning,
    IterationLimitWarning,
    PerfectSeparationWarning,
    HessianInversionWarning,
    SingularMatrixWarning,
    CollinearityWarning,
)
_WARNINGS_LOCK: Final = threading.RLock()


@dataclass(frozen=True)
class FactorInfo:
    key: str
    label: str
    category: str


@dataclass(frozen=True)
class DiaryTable:
    """One row per LOGGED diary day (a day with a check-in, an episode or a release session),
    ascending, covering window_start - 14 days .. window_end (the lookback rows are there for the
    previous-7-days adherence covariate and the reverse-causation check; only rows >= window_start
    are analysed)."""

    window_start: date  # inclusive
    window_end: date  # inclusive
    today: date  # the user's local today (for streaks); window_end <= today
    days: list[date]  # logged days, ascending, unique
    events: IntArray  # episodes per logged day
    severity_sum: IntArray  # sum of episode severities per logged day
    release_minutes: IntArray  # release-session minutes per logged day
    factors: dict[str, BoolArray]  # factor key -> present on that logged day
    factor_info: dict[str, FactorInfo]  # for every key in `factors`
    first_present: dict[str, date]  # first day each factor was ever present in the whole diary
    routine_start: date | None  # effective routine start (None: no routine yet)
    daily_target_minutes: int


# --- small numeric helpers -------------------------------------------------------------------


def finite_or_none(value: float | None) -> float | None:
    """A finite float, or None for None, NaN and ±infinity."""
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def _positive_or_none(value: float | None) -> float | None:
    """A finite ratio > 0, else None (a rate ratio of 0 or infinity is not an estimate)."""
    result = finite_or_none(value)
    return result if result is not None and result > 0 else None


def _rate(events: int, days: int) -> float | None:
    return events / days if days > 0 else None


@dataclass(frozen=True)
class Estimate:
    """A rate ratio with its 95 % interval and two-sided p-value; None where not estimable."""

    rate_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None

    @staticmethod
    def empty() -> Estimate:
        return Estimate(None, None, None, None)


def crude_comparison(events_exposed: int, exposed_days: int, events_unexposed: int, unexposed_days: int) -> Estimate:
    """Unadjusted exact comparison of two Poisson rates.

    Conditional on the total n, the exposed count is Binomial(n, p0) with p0 = exposed_days /
    (exposed_days + unexposed_days) when the rates are equal: exact two-sided binomial p-value, and
    the Clopper-Pearson interval (pl, pu) for the proportion becomes the rate-ratio interval
    (p / (1 - p)) x unexposed_days / exposed_days. Ends at 0 or infinity (zero counts) are None.
    """
    if exposed_days <= 0 or unexposed_days <= 0:
        return Estimate.empty()
    total = events_exposed + events_unexposed
    if total <= 0:
        return Estimate.empty()
    share = exposed_days / (exposed_days + unexposed_days)
    p_value = two_sided_binomial_p(events_exposed, total, share)
    p_low = float(special.betaincinv(events_exposed, total - events_exposed + 1, ALPHA / 2)) if events_exposed else 0.0
    p_high = (
        float(special.betaincinv(events_exposed + 1, total - events_exposed, 1 - ALPHA / 2))
        if events_exposed < total
        else 1.0
    )
    scale = unexposed_days / exposed_days
    low = p_low / (1 - p_low) * scale if 0 < p_low < 1 else None
    high = p_high / (1 - p_high) * scale if 0 < p_high < 1 else None
    ratio = (
        (events_exposed / exposed_days) / (events_unexposed / unexposed_days)
        if events_exposed and events_unexposed
        else None
    )
    return Estimate(_positive_or_none(ratio), _positive_or_none(low), _positive_or_none(high), finite_or_none(p_value))


def two_sided_binomial_p(k: int, n: int, p: float) -> float:
    """The exact two-sided p-value of scipy's `binomtest` (the total probability of every outcome
    no likelier than k, with its relative tolerance of 1e-7), from one vectorised pmf over 0..n
    instead of its search of single pmf calls: a tenth of the time, the same number."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p)
    return min(1.0, float(pmf[pmf <= pmf[k] * BINOMIAL_TOLERANCE].sum()))


BINOMIAL_TOLERANCE = 1 + 1e-7


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    m = len(p_values)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = min(running, 1.0)
    return q


def min_detectable_rate_ratio(rate: float, dispersion: float, exposed_days: int, unexposed_days: int) -> float | None:
    """Smallest RR > 1 a two-sided 5 % Wald test of log RR detects with 80 % power.

    var(log RR) ~ phi (1 / (rate n1 RR) + 1 / (rate n0)); solved numerically on (1, 100].
    """
    if not (rate > 0 and math.isfinite(rate) and dispersion > 0 and math.isfinite(dispersion)):
        return None
    if exposed_days <= 0 or unexposed_days <= 0:
        return None
    z = _power_z()

    def gap(log_rr: float) -> float:
        variance = dispersion * (1 / (rate * exposed_days * math.exp(log_rr)) + 1 / (rate * unexposed_days))
        return log_rr - z * math.sqrt(variance)

    upper = math.log(MAX_DETECTABLE_RATE_RATIO)
    if gap(upper) < 0:
        return None
    return finite_or_none(math.exp(float(optimize.brentq(gap, 0.0, upper, xtol=1e-12))))


@lru_cache(maxsize=1)
def _power_z() -> float:
    return float(stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER))


@lru_cache(maxsize=256)
def _t_critical(df: int) -> float:
    return float(stats.t.ppf(1 - ALPHA / 2, df))


# --- robust Poisson regression ---------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """Hold statsmodels' and numpy's warnings inside the engine (see the module docstring)."""
    with _WARNINGS_LOCK, warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def hac_lags(n: int) -> int:
    return max(HAC_MIN_LAGS, math.floor(4 * math.pow(n / 100, 2 / 9)))


@dataclass(frozen=True)
class RobustFit:
    names: tuple[str, ...]
    params: FloatArray
    se: FloatArray
    df: int
    lags: int
    dispersion: float

    def estimate(self, name: str) -> Estimate:
        i = self.names.index(name)
        beta, se = float(self.params[i]), float(self.se[i])
        t_crit = _t_critical(self.df)
        p_value = float(2 * stats.t.sf(abs(beta / se), self.df))
        return Estimate(
            _positive_or_none(math.exp(beta)),
            _positive_or_none(math.exp(beta - t_crit * se)),
            _positive_or_none(math.exp(beta + t_crit * se)),
            finite_or_none(p_value),
        )


def fit_robust_poisson(
    y: IntArray, columns: dict[str, FloatArray], ratio_columns: Sequence[str] | None = None
) -> RobustFit | str:
    """Poisson GLM (log link) with an intercept and `columns`; robust errors as in the method.

    Returns the fit, or a short reason why there is none (never raises for numerical reasons).
    `ratio_columns` (default: all) are the 0..1 columns whose coefficients are log rate ratios; a huge
    one means (quasi-)separation. Slopes (per year) are not judged that way.
    """
    names = (INTERCEPT, *columns)
    n, k = len(y), len(names)
    exog = np.column_stack([np.ones(n), *columns.values()]) if columns else np.ones((n, 1))
    lags = hac_lags(n)
    df = n // (lags + 1) - k
    if n <= k or df < 1:
        return "too_few_days"
    if int(y.sum()) == 0:
        return "no_events"
    if int(np.linalg.matrix_rank(exog)) < k:
        return "singular_design"
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            result = GLM(y.astype(np.float64), exog, family=Poisson()).fit(
                scale="X2",
                cov_type="HAC",
                cov_kwds={"maxlags": lags, "kernel": "bartlett", "use_correction": True},
            )
            params = np.asarray(result.params, dtype=np.float64)
            hac = np.diag(np.asarray(result.cov_params(), dtype=np.float64))
            dispersion = float(result.scale)
            quasi = dispersion * np.diag(np.asarray(result.normalized_cov_params, dtype=np.float64))
            converged = bool(result.converged)
    except Exception:  # every statsmodels/numpy failure degrades; the reason is reported instead
        return "model_failed"
    if not np.all(np.isfinite(params)):
        return "model_failed"
    # (quasi-)separation: IRLS "converges" with some fitted means pushed towards 0 and huge log rate ratios
    judged = [names.index(c) for c in (columns if ratio_columns is None else ratio_columns)]
    if np.any(np.abs(params[judged]) > MAX_ABS_COEFFICIENT) or float(np.min(exog @ params)) < MIN_LOG_MEAN:
        return "separation"
    if any(issubclass(w.category, _FIT_FAILURE_WARNINGS) for w in caught):
        return "model_failed"
    if not converged:
        return "not_converged"
    if not (np.all(np.isfinite(hac)) and np.all(np.isfinite(quasi)) and math.isfinite(dispersion)):
        return "model_failed"
    if np.any(hac <= 0) or np.any(quasi <= 0):
        return "model_failed"
    se = np.sqrt(np.maximum(hac, quasi))
    return RobustFit(names, params, se, df, lags, dispersion)


# --- verdicts and wording --------------------------------------------------------------------


def verdict_for(estimate: Estimate, q_value: float | None) -> Verdict:
    """The last rungs of the ladder (insufficient_data and cannot_separate are decided before)."""
    if estimate.p_value is None or q_value is None:
        return "insufficient_data"
    low = estimate.ci_low if estimate.ci_low is not None else 0.0
    high = estimate.ci_high if estimate.ci_high is not None else math.inf
    if q_value < Q_THRESHOLD and low > 1:
        return "likely_increases"
    if q_value < Q_THRESHOLD and high < 1:
        return "likely_decreases"
    if low >= NO_EFFECT_LOW and high <= NO_EFFECT_HIGH:
        return "no_large_effect"
    return "inconclusive"


def in_sentence(label: str) -> str:
    """A label inside a sentence: "High heels" -> "high heels"; acronyms ("NSAID") stay as they are."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def _ratio_text(value: float) -> str:
    return f"{value:.2f}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _interval_text(estimate: Estimate) -> str:
    low, high = estimate.ci_low, estimate.ci_high
    if low is not None and high is not None:
        return f"95 % interval {_ratio_text(low)} to {_ratio_text(high)}"
    if high is not None:
        return f"95 % interval up to {_ratio_text(high)}"
    if low is not None:
        return f"95 % interval from {_ratio_text(low)} up"
    return "interval not estimable"


_REASON_TEXT: Final = {
    "insufficient_data_overall": "the diary as a whole has too few logged days or episodes",
    "insufficient_exposed_days": f"it needs at least {MIN_EXPOSED_DAYS} logged days with it",
    "insufficient_unexposed_days": f"it needs at least {MIN_UNEXPOSED_DAYS} logged days without it",
    "no_test": "no comparison could be estimated",
}


def _factor_summary(
    label: str,
    counts: tuple[int, int, int, int],
    crude: Estimate,
    estimate: Estimate,
    method: FactorMethod | None,
    verdict: Verdict,
    separate_from: list[str],
    mdrr: float | None,
    reason: str | None,
) -> str:
    e1, n1, e0, n0 = counts
    label = in_sentence(label)
    detail = (
        f"({_count(e1, 'cramp', 'cramps')} over {_count(n1, 'day', 'days')} vs "
        f"{_count(e0, 'cramp', 'cramps')} over {_count(n0, 'day', 'days')} without)"
    )
    if n1 == 0:
        lead = f"No logged day in this period had {label}."
    elif n0 == 0:
        lead = f"Every logged day in this period had {label}, so there is nothing to compare with."
    elif crude.rate_ratio is not None:
        lead = (
            f"On days with {label} you logged {_ratio_text(crude.rate_ratio)}× as many cramps as on days "
            f"without {detail}."
        )
    elif e1 == 0 and e0 == 0:
        lead = f"You logged no cramps on days with or without {label} {detail}."
    elif e1 == 0:
        lead = f"On days with {label} you logged no cramps {detail}."
    else:
        lead = f"On days without {label} you logged no cramps {detail}."
    how = (
        "Adjusted for the other factors and the routine"
        if method == "adjusted_glm"
        else "Not adjusted for the other factors or the routine"
    )
    ratio = _ratio_text(estimate.rate_ratio) if estimate.rate_ratio is not None else "not estimable"
    if verdict == "insufficient_data":
        why = _REASON_TEXT.get(reason or "no_test", _REASON_TEXT["no_test"])
        return f"{lead} There is not enough data to judge this association yet: {why}."
    if verdict == "cannot_separate":
        others = " and ".join(separate_from)
        together = (
            f"adjusted for the other factors, days with them had {ratio} times the rate"
            if method == "adjusted_glm"
            else f"unadjusted, the rate ratio is {ratio}"
        )
        return (
            f"{lead} {label[:1].upper() + label[1:]} was present on almost the same days as {others}, so their "
            f"associations cannot be told apart; {together} ({_interval_text(estimate)})."
        )
    tail = f"{how}, the rate ratio is {ratio} ({_interval_text(estimate)})"
    caution = "This is an association, not proof of cause."
    if verdict == "likely_increases":
        return f"{lead} {tail}: {label} is likely associated with more cramps. {caution}"
    if verdict == "likely_decreases":
        return f"{lead} {tail}: {label} is likely associated with fewer cramps. {caution}"
    if verdict == "no_large_effect":
        return f"{lead} {tail}: the data speak against a large association either way."
    detectable = (
        f" With this much data only a rate ratio of about {_ratio_text(mdrr)} or more would probably have shown."
        if mdrr is not None
        else ""
    )
    return f"{lead} {tail}: the data cannot tell yet.{detectable}"


# --- the report ------------------------------------------------------------------------------


@dataclass
class _FactorWork:
    key: str
    info: FactorInfo
    column: BoolArray  # over analysed rows
    exposed_days: int
    unexposed_days: int
    events_exposed: int
    events_unexposed: int
    crude: Estimate
    warnings: list[str]
    eligible: bool = False
    reason: str | None = None


class _UnionFind:
    def __init__(self, keys: Sequence[str]) -> None:
        self.parent = {key: key for key in keys}

    def find(self, key: str) -> str:
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def correlations(columns: Sequence[FloatArray]) -> FloatArray:
    """Pearson correlation matrix (phi for 0/1 columns); 0 where a column is constant."""
    if not columns:
        return np.zeros((0, 0))
    data = np.column_stack(columns)
    centred = data - data.mean(axis=0)
    scale = np.sqrt(np.mean(centred**2, axis=0))
    constant = scale == 0
    standard = centred / np.where(constant, 1.0, scale)
    standard[:, constant] = 0.0
    result: FloatArray = standard.T @ standard / len(data)
    return result


@dataclass(frozen=True)
class _Overlap:
    """Groups of columns that cannot be separated (|phi| >= 0.95, closed transitively), the overlaps
    (0.6 <= |phi| < 0.95) and each group's representative in the model (None: none can be fitted)."""

    group_of: dict[str, tuple[str, ...]]
    overlaps: dict[str, list[str]]
    representative: dict[str, str | None]  # key -> its group's representative

    def others(self, key: str) -> list[str]:
        return sorted(k for k in self.group_of.get(key, ()) if k != key)


def _overlap(cols: dict[str, FloatArray], y: IntArray) -> _Overlap:
    keys = list(cols)
    phi = correlations([cols[k] for k in keys])
    groups = _UnionFind(keys)
    overlaps: dict[str, list[str]] = {key: [] for key in keys}
    for i, a in enumerate(keys):
        for j in range(i + 1, len(keys)):
            b, value = keys[j], abs(float(phi[i, j]))
            if value >= PHI_CANNOT_SEPARATE:
                groups.union(a, b)
            elif value >= PHI_OVERLAP:
                overlaps[a].append(b)
                overlaps[b].append(a)
    members: dict[str, list[str]] = {}
    for key in keys:
        members.setdefault(groups.find(key), []).append(key)

    def fittable(key: str) -> bool:
        """A factor without episodes on its exposed (or unexposed) model days has no finite estimate."""
        if key == ADHERENCE_KEY:
            return True
        exposed = cols[key] > 0
        return bool(y[exposed].sum() > 0 and y[~exposed].sum() > 0)

    group_of: dict[str, tuple[str, ...]] = {}
    representative: dict[str, str | None] = {}
    for group in members.values():
        ordered = sorted(group, key=lambda k: (k != ADHERENCE_KEY, k))
        chosen = next((k for k in ordered if fittable(k)), None)
        for key in group:
            group_of[key] = tuple(group)
            representative[key] = chosen
    return _Overlap(group_of, {k: sorted(v) for k, v in overlaps.items()}, representative)


def _validate(table: DiaryTable) -> None:
    n = len(table.days)
    for name in ("events", "severity_sum", "release_minutes"):
        if len(getattr(table, name)) != n:
            raise ValueError(f"DiaryTable.{name} has {len(getattr(table, name))} rows, days has {n}")
    for key, column in table.factors.items():
        if len(column) != n:
            raise ValueError(f"DiaryTable.factors[{key!r}] has {len(column)} rows, days has {n}")
    if any(b <= a for a, b in zip(table.days, table.days[1:], strict=False)):
        raise ValueError("DiaryTable.days must be strictly ascending")
    # window_end = window_start - 1 day is an empty window (a `to` before `from`): no days at all.
    if (table.window_end - table.window_start).days < -1:
        raise ValueError("DiaryTable.window_end is more than a day before window_start")


def analyse(table: DiaryTable, *, generated_at: datetime) -> AnalysisReport:
    """The analysis report of one diary table (see the module docstring for every choice)."""
    _validate(table)
    with _quiet():
        return _Analysis(table).report(generated_at)


class _Analysis:
    def __init__(self, table: DiaryTable) -> None:
        self.table = table
        ords = np.array([d.toordinal() for d in table.days], dtype=np.int64)
        self.ws = table.window_start.toordinal()
        self.we = table.window_end.toordinal()
        self.ords_all = ords
        self.events_all = np.asarray(table.events, dtype=np.int64)
        self.in_window = (ords >= self.ws) & (ords <= self.we)
        self.ords = ords[self.in_window]
        self.y = self.events_all[self.in_window]
        self.n = len(self.y)
        self.total = int(self.y.sum())
        self.rate = _rate(self.total, self.n)
        self.reasons: list[str] = []
        if self.n < MIN_LOGGED_DAYS:
            self.reasons.append("too_few_logged_days")
        if self.total < MIN_EVENTS:
            self.reasons.append("too_few_events")
        self.sufficient = not self.reasons
        self._prepare_adherence()

    # adherence ---------------------------------------------------------------------------

    def _prepare_adherence(self) -> None:
        table = self.table
        self.rs = table.routine_start.toordinal() if table.routine_start is not None else None
        start = min(int(self.ords_all[0]) if len(self.ords_all) else self.ws, self.ws - 2 * ADHERENCE_LOOKBACK_DAYS)
        self.cal0 = start
        length = self.we - start + 1
        keep = self.ords_all <= self.we
        logged = np.zeros(length, dtype=bool)
        logged[self.ords_all[keep] - start] = True
        adherent = np.zeros(length, dtype=bool)
        if self.rs is not None:
            minutes = np.asarray(table.release_minutes, dtype=np.int64)
            rows = keep & (minutes >= table.daily_target_minutes) & (self.ords_all >= self.rs)
            adherent[self.ords_all[rows] - start] = True
        self.adherent_cal = adherent
        self.adh7 = np.full(self.n, np.nan)
        if self.rs is None:
            return
        known = logged | (np.arange(start, self.we + 1) < self.rs)
        known_cum = np.concatenate([[0], np.cumsum(known)])
        adherent_cum = np.concatenate([[0], np.cumsum(adherent)])
        i = self.ords - start  # calendar index of each analysed day; its previous 7 are i-7..i-1 (>= 0)
        n_known = known_cum[i] - known_cum[i - ADHERENCE_LOOKBACK_DAYS]
        n_adherent = adherent_cum[i] - adherent_cum[i - ADHERENCE_LOOKBACK_DAYS]
        defined = n_known >= ADHERENCE_MIN_KNOWN_DAYS
        self.adh7[defined] = n_adherent[defined] / n_known[defined]

    def _adherence_usable(self) -> tuple[bool, str | None]:
        if self.rs is None:
            return False, "no_routine"
        defined = self.adh7[np.isfinite(self.adh7)]
        high = int(np.sum(defined >= 0.5))
        low = int(np.sum(defined < 0.5))
        if high < ADHERENCE_MIN_DAYS_EACH_SIDE or low < ADHERENCE_MIN_DAYS_EACH_SIDE:
            return False, "insufficient_adherence_variation"
        return True, None

    # the report ----------------------------------------------------------------------------

    def report(self, generated_at: datetime) -> AnalysisReport:
        table = self.table
        days_in_range = self.we - self.ws + 1
        severity = int(np.asarray(table.severity_sum, dtype=np.int64)[self.in_window].sum())
        window = ReportWindow(
            from_=table.window_start,
            to=table.window_end,
            days_in_range=days_in_range,
            days_logged=self.n,
            days_missing=days_in_range - self.n,
        )
        outcome = Outcome(
            events=self.total,
            rate_per_day=self.rate,
            rate_per_week=7 * self.rate if self.rate is not None else None,
            mean_severity=severity / self.total if self.total else None,
        )
        factors, adherence = self._factors_and_adherence()
        return AnalysisReport(
            status="ok" if self.sufficient else "insufficient_data",
            reasons=self.reasons,
            window=window,
            outcome=outcome,
            factors=factors,
            adherence=adherence,
            trend=self._trend(),
            settings=SETTINGS,
            analysis_version=ANALYSIS_VERSION,
            generated_at=generated_at,
        )

    def _dispersion(self) -> float:
        if self.n < 2 or not self.total:
            return 1.0
        mean = self.total / self.n
        return max(1.0, float(np.sum((self.y - mean) ** 2) / mean / (self.n - 1)))

    def _factor_work(self) -> list[_FactorWork]:
        table, work = self.table, []
        for key in sorted(table.factors):
            column = np.asarray(table.factors[key], dtype=bool)[self.in_window]
            n1 = int(column.sum())
            e1 = int(self.y[column].sum())
            item = _FactorWork(
                key=key,
                info=table.factor_info.get(key, FactorInfo(key=key, label=key, category="other")),
                column=column,
                exposed_days=n1,
                unexposed_days=self.n - n1,
                events_exposed=e1,
                events_unexposed=self.total - e1,
                crude=crude_comparison(e1, n1, self.total - e1, self.n - n1),
                warnings=[],
            )
            if n1 < MIN_EXPOSED_DAYS:
                item.warnings.append("insufficient_exposed_days")
                item.reason = "insufficient_exposed_days"
            if self.n - n1 < MIN_UNEXPOSED_DAYS:
                item.warnings.append("insufficient_unexposed_days")
                item.reason = item.reason or "insufficient_unexposed_days"
            if n1 > 0 and (self.n - n1 < MIN_UNEXPOSED_DAYS or n1 >= ALMOST_ALWAYS_ON_SHARE * self.n):
                item.warnings.append("exposure_almost_always_on")
            if n1 > 0 and self.n - n1 > 0 and min(e1, self.total - e1) < FEW_EVENTS:
                item.warnings.append("few_events")
            if n1 > 0 and e1 == 0:
                item.warnings.append("no_exposed_events")
            if self.n - n1 > 0 and self.total - e1 == 0:
                item.warnings.append("no_unexposed_events")
            if self._reverse_causation(key):
                item.warnings.append("possible_reverse_causation")
            item.eligible = self.sufficient and item.reason is None
            if not self.sufficient:
                item.reason = item.reason or "insufficient_data_overall"
            work.append(item)
        return work

    def _reverse_causation(self, key: str) -> bool:
        first = self.table.first_present.get(key)
        if first is None or self.rate is None or first < self.table.window_start:
            return False
        end = first.toordinal()
        rows = (self.ords_all >= end - REVERSE_CAUSATION_DAYS) & (self.ords_all < end)
        logged = int(rows.sum())
        if logged < REVERSE_CAUSATION_MIN_LOGGED:
            return False
        return int(self.events_all[rows].sum()) / logged > REVERSE_CAUSATION_RATIO * self.rate

    def _factors_and_adherence(self) -> tuple[list[FactorResult], AdherenceResult]:
        work = self._factor_work()
        adherence_in, adherence_reason = self._adherence_usable()
        adherence_in = adherence_in and self.sufficient
        rows = np.isfinite(self.adh7) if adherence_in else np.ones(self.n, dtype=bool)
        y = self.y[rows]
        cols: dict[str, FloatArray] = {w.key: w.column[rows].astype(np.float64) for w in work if w.eligible}
        if adherence_in:
            cols[ADHERENCE_KEY] = self.adh7[rows]
        overlap = _overlap(cols, y)
        fit = self._fit_model(y, cols, overlap)

        # every factor's estimate, and the distinct tests that enter the BH correction
        estimates: dict[str, tuple[Estimate, FactorMethod | None, str | None]] = {}
        tests: dict[str, float] = {}
        for w in work:
            if not w.eligible:
                estimates[w.key] = (Estimate.empty(), None, None)
                continue
            rep = overlap.representative[w.key]
            method: FactorMethod
            if fit is not None and rep is not None and rep in fit.names:
                estimate, method, test_id = fit.estimate(rep), "adjusted_glm", f"model:{rep}"
            else:
                estimate, method, test_id = w.crude, "crude_exact", f"crude:{w.key}"
                w.warnings.append("unadjusted_fallback")
            estimates[w.key] = (estimate, method, test_id)
            if estimate.p_value is not None:
                tests[test_id] = estimate.p_value

        adherence_estimate = Estimate.empty()
        adherence_method: AdherenceMethod | None = None
        adherence_test: str | None = None
        adherence_warnings: list[str] = []
        if adherence_in:
            adherence_estimate, adherence_method, adherence_test, adherence_warnings = self._adherence_estimate(
                fit, y, cols[ADHERENCE_KEY]
            )
            if adherence_test is not None and adherence_estimate.p_value is not None:
                tests[adherence_test] = adherence_estimate.p_value
        elif adherence_reason is not None and self.rs is not None:
            adherence_warnings.append(adherence_reason)

        test_ids = sorted(tests)
        q_by_test = dict(zip(test_ids, benjamini_hochberg([tests[t] for t in test_ids]), strict=True))
        dispersion = self._dispersion()
        results = [self._factor_result(w, *estimates[w.key], q_by_test, overlap, dispersion) for w in work]

        separate = overlap.others(ADHERENCE_KEY) if adherence_in else []
        adherence_q = q_by_test.get(adherence_test) if adherence_test is not None else None
        if not adherence_in or adherence_estimate.p_value is None:
            adherence_verdict: Verdict = "insufficient_data"
        elif separate:
            adherence_verdict = "cannot_separate"
        else:
            adherence_verdict = verdict_for(adherence_estimate, adherence_q)
        adherence = self._adherence_result(
            adherence_estimate,
            adherence_q,
            adherence_verdict,
            adherence_method,
            overlap.overlaps.get(ADHERENCE_KEY, []),
            separate,
            adherence_warnings,
            rows if adherence_in else np.isfinite(self.adh7),
        )
        return results, adherence

    def _fit_model(self, y: IntArray, cols: dict[str, FloatArray], overlap: _Overlap) -> RobustFit | None:
        """The multivariable model: one column per group representative, adherence last."""
        keys = sorted(
            {k for k in overlap.representative.values() if k is not None}, key=lambda k: (k == ADHERENCE_KEY, k)
        )
        if not keys:
            return None
        if int(y.sum()) < EVENTS_PER_TERM * (len(keys) + 1):
            self.reasons.append("adjusted_model_unavailable_too_few_events")
            return None
        result = fit_robust_poisson(y, {k: cols[k] for k in keys})
        if isinstance(result, str):
            self.reasons.append(f"adjusted_model_unavailable_{result}")
            return None
        return result

    def _adherence_estimate(
        self, fit: RobustFit | None, y: IntArray, adherence_7d: FloatArray
    ) -> tuple[Estimate, AdherenceMethod | None, str | None, list[str]]:
        """From the multivariable model, else from a model of adherence alone (labelled unadjusted)."""
        if fit is not None and ADHERENCE_KEY in fit.names:
            return fit.estimate(ADHERENCE_KEY), "adjusted_glm", f"model:{ADHERENCE_KEY}", []
        alone = (
            fit_robust_poisson(y, {ADHERENCE_KEY: adherence_7d})
            if int(y.sum()) >= EVENTS_PER_TERM * 2
            else "too_few_events"
        )
        if isinstance(alone, str):
            return Estimate.empty(), None, None, [f"model_unavailable_{alone}"]
        return alone.estimate(ADHERENCE_KEY), "unadjusted_glm", f"alone:{ADHERENCE_KEY}", ["unadjusted_fallback"]

    def _factor_result(
        self,
        w: _FactorWork,
        estimate: Estimate,
        method: FactorMethod | None,
        test_id: str | None,
        q_by_test: dict[str, float],
        overlap: _Overlap,
        dispersion: float,
    ) -> FactorResult:
        q_value = q_by_test.get(test_id) if test_id is not None else None
        separate = overlap.others(w.key) if w.eligible else []
        verdict: Verdict
        if not w.eligible:
            verdict = "insufficient_data"
        elif separate:
            verdict = "cannot_separate"
        else:
            verdict = verdict_for(estimate, q_value)
        mdrr = min_detectable_rate_ratio(self.rate or 0.0, dispersion, w.exposed_days, w.unexposed_days)
        counts = (w.events_exposed, w.exposed_days, w.events_unexposed, w.unexposed_days)
        reason = w.reason if verdict == "insufficient_data" else None
        return FactorResult(
            factor=w.key,
            label=w.info.label,
            category=w.info.category,
            exposed_days=w.exposed_days,
            unexposed_days=w.unexposed_days,
            events_exposed=w.events_exposed,
            events_unexposed=w.events_unexposed,
            rate_exposed=_rate(w.events_exposed, w.exposed_days),
            rate_unexposed=_rate(w.events_unexposed, w.unexposed_days),
            rate_ratio=estimate.rate_ratio,
            ci_low=estimate.ci_low,
            ci_high=estimate.ci_high,
            p_value=estimate.p_value,
            q_value=q_value,
            method=method,
            verdict=verdict,
            min_detectable_rate_ratio=mdrr,
            overlaps_with=overlap.overlaps.get(w.key, []) if w.eligible else [],
            cannot_separate_from=separate,
            warnings=w.warnings,
            summary=_factor_summary(
                w.info.label, counts, w.crude, estimate, method, verdict, self._labels(separate), mdrr, reason
            ),
            crude_rate_ratio=w.crude.rate_ratio,
            crude_ci_low=w.crude.ci_low,
            crude_ci_high=w.crude.ci_high,
            crude_p_value=w.crude.p_value,
        )

    def _adherence_result(
        self,
        estimate: Estimate,
        q_value: float | None,
        verdict: Verdict,
        method: AdherenceMethod | None,
        overlaps: list[str],
        separate: list[str],
        warnings_: list[str],
        rows: BoolArray,
    ) -> AdherenceResult:
        table = self.table
        target = table.daily_target_minutes
        window_days = days_adherent = current = longest = 0
        if self.rs is not None and self.rs <= self.we:
            first = max(self.ws, self.rs)
            flags = self.adherent_cal[first - self.cal0 : self.we - self.cal0 + 1]
            window_days = len(flags)
            days_adherent = int(flags.sum())
            run = 0
            for flag in flags:
                run = run + 1 if flag else 0
                longest = max(longest, run)
            end = len(flags) - 1
            if table.window_end == table.today and not flags[end]:
                end -= 1
            while end >= 0 and flags[end]:
                current += 1
                end -= 1
        bands: list[DoseBand] = []
        if self.rs is not None:
            adh = self.adh7[rows]
            y = self.y[rows]
            for label, low, high in DOSE_BANDS:
                in_band = (adh >= low) & ((adh < high) if high < 1 else (adh <= high))
                days, events = int(in_band.sum()), int(y[in_band].sum())
                bands.append(DoseBand(band=label, days=days, events=events, rate=_rate(events, days)))
        if self.rs is None:
            summary = "No routine has started yet, so there is nothing to compare."
        elif verdict == "insufficient_data":
            summary = (
                "There is not enough data yet to relate your routine to your cramps "
                "(it needs enough weeks with and without it, and enough cramps)."
            )
        else:
            ratio = f"{_ratio_text(estimate.rate_ratio)}×" if estimate.rate_ratio is not None else "(not estimable)"
            how = "adjusted for the factors" if method == "adjusted_glm" else "not adjusted for the factors"
            meaning = {
                "cannot_separate": "it cannot be told apart from " + ", ".join(self._labels(separate)),
                "likely_increases": "fully adherent weeks are likely associated with more cramps",
                "likely_decreases": "fully adherent weeks are likely associated with fewer cramps",
                "no_large_effect": "the data speak against a large association either way",
                "inconclusive": "the data cannot tell yet",
                "insufficient_data": "",
            }[verdict]
            summary = (
                f"After a fully adherent week you logged {ratio} as many cramps as after a week without the "
                f"routine ({how}; {_interval_text(estimate)}): {meaning}. This is an association, not proof of cause."
            )
        return AdherenceResult(
            daily_target_minutes=target,
            days_adherent=days_adherent,
            adherence_rate=_rate(days_adherent, window_days),
            current_streak_days=current,
            longest_streak_days=longest,
            window_days=window_days,
            rate_ratio_full_vs_none=estimate.rate_ratio,
            ci_low=estimate.ci_low,
            ci_high=estimate.ci_high,
            p_value=estimate.p_value,
            q_value=q_value,
            verdict=verdict,
            dose_response=bands,
            method=method,
            overlaps_with=overlaps,
            cannot_separate_from=separate,
            warnings=warnings_,
            summary=summary,
        )

    def _labels(self, keys: Sequence[str]) -> list[str]:
        return [
            "your routine"
            if key == ADHERENCE_KEY
            else in_sentence(self.table.factor_info.get(key, FactorInfo(key, key, "other")).label)
            for key in keys
        ]

    # trend ---------------------------------------------------------------------------------

    def _trend(self) -> TrendResult:
        caveats = [
            "Routines are often started when cramps peak; cramps then tend to ease on their own "
            "(regression to the mean), which makes any routine look helpful.",
            "Anything else that changed around the routine start (co-interventions: medication, "
            "shoes, activity, season) is mixed into this before/after comparison.",
        ]
        if self.rs is None:
            caveats.append("No routine has started yet, so there is no before/after comparison.")
            return TrendResult(
                routine_start=None,
                days_before=0,
                days_after=0,
                rate_before=None,
                rate_after=None,
                level_change_rate_ratio=None,
                ci_low=None,
                ci_high=None,
                caveats=caveats,
            )
        rs = self.rs
        near = self._labels(
            sorted(
                key
                for key, first in self.table.first_present.items()
                if key in self.table.factors and abs(first.toordinal() - rs) <= CO_INTERVENTION_DAYS
            )
        )
        if near:
            caveats.append(
                f"Started within {CO_INTERVENTION_DAYS} days of the routine: {', '.join(near)}; "
                "their change cannot be told apart from the routine's in this comparison."
            )
        before = self.ords < rs
        after = self.ords >= rs + WASH_IN_DAYS
        days_before, days_after = int(before.sum()), int(after.sum())
        events_before, events_after = int(self.y[before].sum()), int(self.y[after].sum())
        estimate = Estimate.empty()
        if days_before < TREND_MIN_DAYS or days_after < TREND_MIN_DAYS:
            caveats.append(
                f"The level change needs at least {TREND_MIN_DAYS} logged days before the routine start and "
                f"{TREND_MIN_DAYS} after the {WASH_IN_DAYS}-day wash-in ({days_before} and {days_after} here)."
            )
        elif not self.sufficient:
            caveats.append("The diary has too few logged days or cramps for the level change.")
        elif events_before + events_after < EVENTS_PER_TERM * 4:
            caveats.append(
                f"The level change needs at least {EVENTS_PER_TERM * 4} cramps outside the wash-in "
                f"({events_before + events_after} here)."
            )
        else:
            rows = before | after
            t = (self.ords[rows] - (rs + WASH_IN_DAYS)) / 365.25
            post = after[rows].astype(np.float64)
            fit = fit_robust_poisson(
                self.y[rows], {"time": t, "post": post, "time_after": t * post}, ratio_columns=("post",)
            )
            if isinstance(fit, RobustFit):
                estimate = fit.estimate("post")
            else:
                caveats.append(f"The segmented regression could not be estimated ({fit.replace('_', ' ')}).")
        caveats.append(
            f"Days {_iso(rs)} to {_iso(rs + WASH_IN_DAYS - 1)} are a wash-in and are left out; "
            "the level change compares the rate after them with the rate the earlier trend predicts."
        )
        return TrendResult(
            routine_start=self.table.routine_start,
            days_before=days_before,
            days_after=days_after,
            rate_before=_rate(events_before, days_before),
            rate_after=_rate(events_after, days_after),
            level_change_rate_ratio=estimate.rate_ratio,
            ci_low=estimate.ci_low,
            ci_high=estimate.ci_high,
            caveats=caveats,
            p_value=estimate.p_value,
        )


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()
