"""The analysis engine on hand-built diary tables: degenerate diaries, the gates, overlap, warnings,
hand-checked numbers, JSON safety, determinism and speed."""

import json
import math
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats  # type: ignore[import-untyped]

from app.analysis.engine import (
    ANALYSIS_VERSION,
    DiaryTable,
    Estimate,
    FactorInfo,
    RobustFit,
    analyse,
    benjamini_hochberg,
    crude_comparison,
    fit_robust_poisson,
    hac_lags,
    min_detectable_rate_ratio,
    two_sided_binomial_p,
    verdict_for,
)
from app.analysis.schemas import AnalysisReport, FactorResult
from tests.analysis.simulate import simulate_diary

GENERATED_AT = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
START = date(2025, 1, 1)


def calendar_table(
    events: Sequence[int],
    *,
    logged: Sequence[bool] | None = None,
    factors: Mapping[str, Sequence[bool]] | None = None,
    release_minutes: Sequence[int] | None = None,
    routine_start: date | None = None,
    target: int = 5,
    start: date = START,
    window_start: date | None = None,
    today: date | None = None,
    first_present: Mapping[str, date] | None = None,
) -> DiaryTable:
    """A table from per-calendar-day lists starting at `start`; `logged` picks the rows that exist."""
    days = len(events)
    mask = np.array(logged if logged is not None else [True] * days, dtype=bool)
    rows = np.flatnonzero(mask)
    calendar = [start + timedelta(days=i) for i in range(days)]
    factor_columns = {key: np.array(column, dtype=bool) for key, column in (factors or {}).items()}
    firsts = dict(first_present or {})
    for key, column in factor_columns.items():
        if key not in firsts and column.any():
            firsts[key] = calendar[int(np.argmax(column))]
    end = calendar[-1] if calendar else start
    ev = np.array(events, dtype=np.int64)
    return DiaryTable(
        window_start=window_start or start,
        window_end=end,
        today=today or end,
        days=[calendar[i] for i in rows],
        events=ev[rows],
        severity_sum=(ev * 5)[rows],
        release_minutes=np.array(release_minutes if release_minutes is not None else [0] * days, dtype=np.int64)[rows],
        factors={key: column[rows] for key, column in factor_columns.items()},
        factor_info={
            key: FactorInfo(key=key, label=key.replace("_", " ").capitalize(), category="other")
            for key in factor_columns
        },
        first_present=firsts,
        routine_start=routine_start,
        daily_target_minutes=target,
    )


def poisson_events(days: int, rate: float, seed: int) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).poisson(rate, days)]


def factor(report: AnalysisReport, key: str) -> FactorResult:
    return next(f for f in report.factors if f.factor == key)


def as_json(report: AnalysisReport) -> str:
    """The response body; refuses NaN and infinity like a strict JSON parser would."""
    return json.dumps(report.model_dump(mode="json"), allow_nan=False, sort_keys=True)


def all_floats_finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(all_floats_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(all_floats_finite(v) for v in value)
    return True


# --- degenerate diaries and the gates ----------------------------------------------------------


def test_all_zero_diary_is_insufficient_but_descriptive() -> None:
    table = calendar_table([0] * 90, factors={"statin": [i >= 30 for i in range(90)]}, routine_start=START)
    report = analyse(table, generated_at=GENERATED_AT)
    assert report.status == "insufficient_data"
    assert report.reasons == ["too_few_events"]
    assert report.outcome.events == 0
    assert report.outcome.rate_per_day == 0.0  # a measured rate of zero, not a missing one
    assert report.outcome.mean_severity is None
    statin = factor(report, "statin")
    assert statin.verdict == "insufficient_data"
    assert (statin.rate_ratio, statin.ci_low, statin.ci_high, statin.p_value, statin.q_value) == (None,) * 5
    assert (statin.crude_rate_ratio, statin.crude_p_value) == (None, None)
    assert statin.method is None
    assert report.adherence.verdict == "insufficient_data"
    assert report.trend.level_change_rate_ratio is None
    as_json(report)


def test_empty_diary() -> None:
    report = analyse(calendar_table([0] * 30, logged=[False] * 30), generated_at=GENERATED_AT)
    assert report.status == "insufficient_data"
    assert set(report.reasons) == {"too_few_logged_days", "too_few_events"}
    assert (report.window.days_logged, report.window.days_missing) == (0, 30)
    assert report.outcome.rate_per_day is None
    assert report.outcome.rate_per_week is None
    assert report.factors == []
    as_json(report)


def test_fewer_than_28_logged_days_still_describes_them() -> None:
    report = analyse(
        calendar_table([1] * 27, factors={"high_heels": [True, False] * 13 + [True]}), generated_at=GENERATED_AT
    )
    assert report.status == "insufficient_data"
    assert report.reasons == ["too_few_logged_days"]
    assert (report.outcome.events, report.window.days_logged) == (27, 27)
    heels = factor(report, "high_heels")
    assert heels.verdict == "insufficient_data"
    assert (heels.exposed_days, heels.events_exposed, heels.rate_exposed) == (14, 14, 1.0)
    assert heels.rate_ratio is None
    assert heels.crude_rate_ratio == pytest.approx(1.0)  # the unadjusted description is still there


def test_ten_logged_days() -> None:
    logged = [i % 6 == 0 for i in range(60)]
    report = analyse(
        calendar_table([2] * 60, logged=logged, factors={"statin": [True] * 60}), generated_at=GENERATED_AT
    )
    assert sum(logged) == 10
    assert report.status == "insufficient_data"
    assert report.reasons == ["too_few_logged_days"]
    assert (report.window.days_in_range, report.window.days_logged, report.window.days_missing) == (60, 10, 50)
    assert report.outcome.events == 20
    assert report.outcome.rate_per_day == 2.0
    assert report.outcome.rate_per_week == 14.0
    assert report.outcome.mean_severity == 5.0
    assert factor(report, "statin").verdict == "insufficient_data"
    as_json(report)


def test_unlogged_days_are_missing_not_zero() -> None:
    """The same logged rows analysed in a window with many unlogged days give the same rates."""
    events = poisson_events(120, 0.6, seed=1)
    heels = [i % 3 == 0 for i in range(120)]
    dense = analyse(calendar_table(events, factors={"high_heels": heels}), generated_at=GENERATED_AT)
    # spread the same 120 logged rows over 240 calendar days: every other day is unlogged
    spread_events = [x for e in events for x in (e, 5)]  # the 5s fall on unlogged days and must not count
    spread_heels = [x for h in heels for x in (h, True)]
    spread_logged = [x for _ in events for x in (True, False)]
    sparse = analyse(
        calendar_table(spread_events, logged=spread_logged, factors={"high_heels": spread_heels}),
        generated_at=GENERATED_AT,
    )
    assert sparse.window.days_in_range == 240
    assert sparse.window.days_logged == 120
    assert sparse.window.days_missing == 120
    assert sparse.outcome == dense.outcome
    assert sparse.outcome.rate_per_day == pytest.approx(sum(events) / 120)
    a, b = factor(dense, "high_heels"), factor(sparse, "high_heels")
    assert (b.exposed_days, b.unexposed_days) == (40, 80)
    assert b.rate_exposed == a.rate_exposed
    assert b.rate_unexposed == a.rate_unexposed
    assert (b.crude_rate_ratio, b.crude_p_value) == (a.crude_rate_ratio, a.crude_p_value)


# --- factors: gates, overlap, degenerate counts -----------------------------------------------


def test_factor_with_nine_exposed_days_is_insufficient() -> None:
    heels = [i in {3, 17, 30, 44, 58, 71, 85, 99, 110} for i in range(120)]
    report = analyse(
        calendar_table(poisson_events(120, 0.5, seed=2), factors={"high_heels": heels}), generated_at=GENERATED_AT
    )
    assert report.status == "ok"
    heels_result = factor(report, "high_heels")
    assert heels_result.exposed_days == 9
    assert heels_result.verdict == "insufficient_data"
    assert "insufficient_exposed_days" in heels_result.warnings
    assert heels_result.rate_ratio is None
    assert heels_result.q_value is None
    assert "at least 14 logged days with it" in heels_result.summary


def test_factor_always_on_is_insufficient_and_flagged() -> None:
    report = analyse(
        calendar_table(poisson_events(100, 0.5, seed=3), factors={"orthotics": [True] * 100}), generated_at=GENERATED_AT
    )
    orthotics = factor(report, "orthotics")
    assert orthotics.verdict == "insufficient_data"
    assert orthotics.unexposed_days == 0
    assert {"exposure_almost_always_on", "insufficient_unexposed_days"} <= set(orthotics.warnings)
    assert orthotics.crude_rate_ratio is None
    assert orthotics.rate_unexposed is None
    as_json(report)


def test_factor_almost_always_on_warns_but_is_tested() -> None:
    on = [i >= 14 for i in range(300)]  # 286 of 300 days: 95.3 %
    report = analyse(
        calendar_table(poisson_events(300, 0.5, seed=4), factors={"orthotics": on}), generated_at=GENERATED_AT
    )
    orthotics = factor(report, "orthotics")
    assert "exposure_almost_always_on" in orthotics.warnings
    assert orthotics.verdict != "insufficient_data"


def test_factor_without_exposed_episodes() -> None:
    """40 exposed days without a cramp vs 20 cramps over 150 unexposed days (hand-checked below)."""
    rng = np.random.default_rng(5)
    exposed = [40 <= i < 80 for i in range(190)]
    unexposed_events = [1] * 20 + [0] * 130
    rng.shuffle(unexposed_events)
    it = iter(unexposed_events)
    events = [0 if e else next(it) for e in exposed]
    heels = [i % 2 == 0 for i in range(190)]
    report = analyse(
        calendar_table(events, factors={"warm_shower": exposed, "high_heels": heels}), generated_at=GENERATED_AT
    )
    shower = factor(report, "warm_shower")
    assert (shower.events_exposed, shower.exposed_days, shower.events_unexposed, shower.unexposed_days) == (
        0,
        40,
        20,
        150,
    )
    assert shower.method == "crude_exact"  # no finite adjusted estimate exists; it stays out of the model
    assert {"no_exposed_events", "few_events", "unadjusted_fallback"} <= set(shower.warnings)
    assert shower.rate_ratio is None  # a ratio of 0 is not an estimate
    assert shower.ci_low is None  # the interval reaches 0
    # Clopper-Pearson upper end for 0 of 20: 1 - 0.025^(1/20) = 0.168433; x 150/40 on the odds scale
    p_high = 1 - 0.025 ** (1 / 20)
    assert shower.ci_high == pytest.approx(p_high / (1 - p_high) * 150 / 40, rel=1e-9)
    assert shower.ci_high == pytest.approx(0.759561, rel=1e-5)
    assert shower.p_value == pytest.approx(stats.binomtest(0, 20, 40 / 190).pvalue, rel=1e-12)
    assert shower.rate_exposed == 0.0
    assert factor(report, "high_heels").method == "adjusted_glm"
    assert "no cramps" in shower.summary
    as_json(report)


def test_two_factors_starting_the_same_day_cannot_be_separated() -> None:
    events = poisson_events(150, 0.5, seed=6)
    same = [i >= 60 for i in range(150)]
    later = [i >= 75 for i in range(150)]  # phi with the pair: sqrt(75*60/(90*75))... about 0.82
    report = analyse(
        calendar_table(events, factors={"statin": same, "diuretic": same, "orthotics": later}),
        generated_at=GENERATED_AT,
    )
    statin, diuretic, orthotics = (factor(report, k) for k in ("statin", "diuretic", "orthotics"))
    assert statin.verdict == diuretic.verdict == "cannot_separate"
    assert statin.cannot_separate_from == ["diuretic"]
    assert diuretic.cannot_separate_from == ["statin"]
    assert (statin.rate_ratio, statin.ci_low, statin.q_value) == (
        diuretic.rate_ratio,
        diuretic.ci_low,
        diuretic.q_value,
    )
    assert "almost the same days as statin" in diuretic.summary
    assert orthotics.verdict != "cannot_separate"
    assert orthotics.cannot_separate_from == []
    assert orthotics.overlaps_with == ["diuretic", "statin"]
    assert statin.overlaps_with == ["orthotics"]


def test_too_few_events_for_the_model_falls_back_to_crude_for_every_factor() -> None:
    events = [1 if i % 5 == 0 else 0 for i in range(60)]  # 12 events < 5 x (3 + 1)
    factors = {
        "a": [i % 2 == 0 for i in range(60)],
        "b": [i % 3 == 0 for i in range(60)],
        "c": [i < 30 for i in range(60)],
    }
    report = analyse(calendar_table(events, factors=factors), generated_at=GENERATED_AT)
    assert report.status == "ok"
    assert "adjusted_model_unavailable_too_few_events" in report.reasons
    for result in report.factors:
        assert result.method == "crude_exact"
        assert "unadjusted_fallback" in result.warnings
        assert result.p_value == result.crude_p_value
        assert "Not adjusted" in result.summary


def test_singular_design_degrades_to_crude() -> None:
    """A = B or C (disjoint): |phi| stays at 0.5, but the design matrix is singular."""
    b = [i < 40 for i in range(120)]
    c = [40 <= i < 80 for i in range(120)]
    a = [x or y for x, y in zip(b, c, strict=True)]
    report = analyse(
        calendar_table(poisson_events(120, 0.8, seed=7), factors={"a": a, "b": b, "c": c}), generated_at=GENERATED_AT
    )
    assert "adjusted_model_unavailable_singular_design" in report.reasons
    assert {f.method for f in report.factors} == {"crude_exact"}
    assert {f.cannot_separate_from == [] for f in report.factors} == {True}
    as_json(report)


def test_reverse_causation_warning() -> None:
    base = [1 if i % 3 == 0 else 0 for i in range(140)]
    spike = [2 if 46 <= i < 60 else e for i, e in enumerate(base)]  # the 14 days before day 60
    remedy = [i >= 60 and i % 2 == 0 for i in range(140)]
    flagged = analyse(calendar_table(spike, factors={"mineral_supplement": remedy}), generated_at=GENERATED_AT)
    calm = analyse(calendar_table(base, factors={"mineral_supplement": remedy}), generated_at=GENERATED_AT)
    overall = sum(spike) / 140
    assert 1.5 * overall < 2.0
    assert "possible_reverse_causation" in factor(flagged, "mineral_supplement").warnings
    assert "possible_reverse_causation" not in factor(calm, "mineral_supplement").warnings


def test_reverse_causation_needs_the_days_before_first_presence() -> None:
    """First presence before the window: the 14 days before it are not in the table, so no check."""
    base = [3 if i < 14 else (1 if i % 3 == 0 else 0) for i in range(140)]
    remedy = [i % 2 == 0 for i in range(140)]
    table = calendar_table(
        base, factors={"mineral_supplement": remedy}, first_present={"mineral_supplement": date(2024, 6, 1)}
    )
    assert (
        "possible_reverse_causation"
        not in factor(analyse(table, generated_at=GENERATED_AT), "mineral_supplement").warnings
    )


# --- hand-checked numbers ---------------------------------------------------------------------


def test_crude_comparison_golden_numbers() -> None:
    """12 cramps over 40 exposed days vs 20 over 150 unexposed days.

    RR = (12/40) / (20/150) = 0.3 / 0.13333 = 2.25.
    Conditional on the 32 cramps, the exposed count is Binomial(32, p0 = 40/190 = 0.210526) under
    equal rates. P(X = 12) = 0.0151405; the two-sided exact p sums every outcome no more likely:
    P(X <= 1) + P(X >= 12) = 0.0295320.
    Clopper-Pearson for 12/32: pl = Beta(0.025; 12, 21) = 0.211000, pu = Beta(0.975; 13, 20) = 0.563078;
    on the rate-ratio scale p / (1 - p) x 150 / 40: 0.211000 / 0.789000 x 3.75 = 1.002854 and
    0.563078 / 0.436922 x 3.75 = 4.832759.
    """
    p0 = 40 / 190
    pmf = [math.comb(32, k) * p0**k * (1 - p0) ** (32 - k) for k in range(33)]
    by_hand = sum(p for p in pmf if p <= pmf[12] * (1 + 1e-7))
    assert by_hand == pytest.approx(sum(pmf[:2]) + sum(pmf[12:]))
    result = crude_comparison(12, 40, 20, 150)
    assert result.rate_ratio == pytest.approx(2.25)
    assert result.p_value == pytest.approx(by_hand, rel=1e-9)
    assert result.p_value == pytest.approx(0.0295320, abs=1e-7)
    pl, pu = stats.beta.ppf(0.025, 12, 21), stats.beta.ppf(0.975, 13, 20)
    assert result.ci_low == pytest.approx(pl / (1 - pl) * 150 / 40, rel=1e-9)
    assert result.ci_high == pytest.approx(pu / (1 - pu) * 150 / 40, rel=1e-9)
    assert result.ci_low == pytest.approx(1.002854, rel=1e-6)
    assert result.ci_high == pytest.approx(4.832759, rel=1e-6)
    scipy_ci = stats.binomtest(12, 32, p0).proportion_ci(0.95, method="exact")
    assert result.ci_low == pytest.approx(scipy_ci.low / (1 - scipy_ci.low) * 3.75, rel=1e-8)


@pytest.mark.parametrize("n", [1, 2, 7, 32, 101, 400])
@pytest.mark.parametrize("p", [0.01, 40 / 190, 0.25, 0.5, 0.73, 0.999])
def test_the_binomial_p_value_is_scipys(n: int, p: float) -> None:
    for k in range(n + 1):
        expected = stats.binomtest(k, n, p, alternative="two-sided").pvalue
        assert two_sided_binomial_p(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-300), (k, n, p)


@pytest.mark.parametrize(
    ("e1", "n1", "e0", "n0"),
    [(0, 40, 0, 150), (5, 40, 0, 150), (0, 0, 3, 10), (3, 10, 0, 0), (7, 7, 7, 7)],
)
def test_crude_comparison_never_returns_zero_or_infinity(e1: int, n1: int, e0: int, n0: int) -> None:
    result = crude_comparison(e1, n1, e0, n0)
    for value in (result.rate_ratio, result.ci_low, result.ci_high, result.p_value):
        assert value is None or (math.isfinite(value) and value > 0)


def test_crude_comparison_all_events_exposed() -> None:
    result = crude_comparison(5, 40, 0, 150)
    assert (result.rate_ratio, result.ci_high) == (None, None)  # infinite ratio and upper end: null
    p_low = 0.025 ** (1 / 5)  # Clopper-Pearson lower end for 5 of 5
    assert result.ci_low == pytest.approx(p_low / (1 - p_low) * 150 / 40, rel=1e-9)


def test_benjamini_hochberg_hand_example() -> None:
    """p = 0.01, 0.04, 0.03, 0.20 (m = 4). Sorted: 0.01, 0.03, 0.04, 0.20; p x m / rank:
    0.04, 0.06, 0.0533, 0.20; running minimum from the largest: 0.04, 0.0533, 0.0533, 0.20."""
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    assert q == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert benjamini_hochberg([]) == []
    assert benjamini_hochberg([0.9, 0.8]) == pytest.approx([0.9, 0.9])
    assert benjamini_hochberg([0.5]) == [0.5]


def test_q_values_in_a_report_are_bh_over_its_tests() -> None:
    report = analyse(simulate_diary(11).table, generated_at=GENERATED_AT)
    tested = [f for f in report.factors if f.p_value is not None]
    p_values = [f.p_value for f in tested] + [report.adherence.p_value]
    assert None not in p_values
    expected = benjamini_hochberg([p for p in p_values if p is not None])
    assert [f.q_value for f in tested] + [report.adherence.q_value] == pytest.approx(expected)


def test_robust_standard_errors_by_hand() -> None:
    """The SE is the larger of Newey-West HAC (Bartlett, n/(n-k) correction) and quasi-Poisson."""
    rng = np.random.default_rng(8)
    n = 300
    x = (np.arange(n) // 30 % 2).astype(np.float64)  # 30-day blocks
    latent = np.convolve(rng.gamma(0.5, 2.0, n + 6), np.ones(7) / 7, mode="valid")
    y = rng.poisson(0.5 * latent * np.exp(0.4 * x)).astype(np.int64)
    fit = fit_robust_poisson(y, {"x": x})
    assert isinstance(fit, RobustFit)
    lags = hac_lags(n)
    assert lags == 7
    assert fit.df == n // (lags + 1) - 2
    exog = np.column_stack([np.ones(n), x])
    mu = np.exp(exog @ fit.params)
    bread = np.linalg.inv(exog.T @ (mu[:, None] * exog))
    scores = exog * (y - mu)[:, None]
    meat = scores.T @ scores
    for j in range(1, lags + 1):
        gamma = scores[j:].T @ scores[:-j]
        meat += (1 - j / (lags + 1)) * (gamma + gamma.T)
    hac = np.diag(bread @ meat @ bread) * n / (n - 2)
    dispersion = float(np.sum((y - mu) ** 2 / mu) / (n - 2))
    quasi = dispersion * np.diag(bread)
    assert fit.dispersion == pytest.approx(dispersion, rel=1e-8)
    assert fit.se == pytest.approx(np.sqrt(np.maximum(hac, quasi)), rel=1e-6)
    estimate = fit.estimate("x")
    t = stats.t.ppf(0.975, fit.df)
    assert estimate.rate_ratio == pytest.approx(math.exp(fit.params[1]))
    assert estimate.ci_low == pytest.approx(math.exp(fit.params[1] - t * fit.se[1]))
    assert estimate.p_value == pytest.approx(2 * stats.t.sf(abs(fit.params[1] / fit.se[1]), fit.df))


def test_fit_failures_are_reasons_not_exceptions() -> None:
    y = np.zeros(100, dtype=np.int64)
    assert fit_robust_poisson(y, {"x": (np.arange(100) % 2).astype(np.float64)}) == "no_events"
    y[::3] = 1
    assert fit_robust_poisson(y, {"x": np.ones(100)}) == "singular_design"
    assert fit_robust_poisson(y[:20], {"x": (np.arange(20) % 2).astype(np.float64)}) == "too_few_days"
    separated = np.where(np.arange(100) < 50, 0, y)
    assert fit_robust_poisson(separated, {"x": (np.arange(100) < 50).astype(np.float64)}) in {
        "separation",
        "model_failed",
        "not_converged",
    }


def test_min_detectable_rate_ratio_solves_the_power_equation() -> None:
    rate, dispersion, n1, n0 = 0.4, 1.3, 60, 240
    rr = min_detectable_rate_ratio(rate, dispersion, n1, n0)
    assert rr is not None
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert math.log(rr) == pytest.approx(z * math.sqrt(dispersion * (1 / (rate * n1 * rr) + 1 / (rate * n0))), rel=1e-9)
    more_data = min_detectable_rate_ratio(rate, dispersion, 600, 2400)
    assert more_data is not None
    assert more_data < rr  # more data, smaller effects visible
    assert min_detectable_rate_ratio(0.0, 1.0, 60, 240) is None
    assert min_detectable_rate_ratio(0.4, 1.0, 0, 240) is None
    assert min_detectable_rate_ratio(0.001, 1.0, 2, 3) is None  # beyond x100: not estimable


def test_verdict_ladder() -> None:
    assert verdict_for(Estimate(2.0, 1.2, 3.3, 0.01), 0.05) == "likely_increases"
    assert verdict_for(Estimate(2.0, 1.2, 3.3, 0.01), 0.12) == "inconclusive"
    assert verdict_for(Estimate(0.5, 0.3, 0.8, 0.01), 0.05) == "likely_decreases"
    assert verdict_for(Estimate(None, None, 0.8, 0.01), 0.05) == "likely_decreases"  # lower end 0
    assert verdict_for(Estimate(1.0, 0.8, 1.3, 0.9), 0.9) == "no_large_effect"
    assert verdict_for(Estimate(1.0, 0.6, 1.3, 0.9), 0.9) == "inconclusive"
    assert verdict_for(Estimate(1.0, 0.8, None, 0.9), 0.9) == "inconclusive"
    assert verdict_for(Estimate(1.0, 0.8, 1.3, None), None) == "insufficient_data"


# --- adherence and trend ----------------------------------------------------------------------


def adherence_table(today_adherent: bool, window_end_is_today: bool = True) -> DiaryTable:
    #          Mar 1 .. Mar 4: before the routine (30 minutes on Mar 1 do not count)
    minutes = [30, 0, 0, 0]
    minutes += [5, 6, 10, 5, 9]  # Mar 5-9 adherent (5 days)
    minutes += [4]  # Mar 10: below the 5-minute target
    minutes += [5, 5, 5]  # Mar 11-13 adherent
    minutes += [0, 0, 0, 2, 0]  # Mar 14-18
    minutes += [7, 8 if today_adherent else 0]  # Mar 19, 20
    end = date(2025, 3, 20)
    table = calendar_table(
        [0] * 20, release_minutes=minutes, routine_start=date(2025, 3, 5), start=date(2025, 3, 1), today=end
    )
    if not window_end_is_today:
        return DiaryTable(**{**table.__dict__, "today": end + timedelta(days=3)})
    return table


def test_adherence_counts_and_streaks() -> None:
    report = analyse(adherence_table(today_adherent=True), generated_at=GENERATED_AT)
    adherence = report.adherence
    assert adherence.window_days == 16  # Mar 5..20
    assert adherence.days_adherent == 10
    assert adherence.adherence_rate == pytest.approx(10 / 16)
    assert adherence.longest_streak_days == 5
    assert adherence.current_streak_days == 2
    assert adherence.daily_target_minutes == 5


def test_current_streak_while_today_is_not_done_yet() -> None:
    waiting = analyse(adherence_table(today_adherent=False), generated_at=GENERATED_AT).adherence
    assert waiting.current_streak_days == 1  # counted up to yesterday
    broken = analyse(adherence_table(today_adherent=False, window_end_is_today=False), generated_at=GENERATED_AT)
    assert broken.adherence.current_streak_days == 0  # a past window ends on a non-adherent day


def test_no_routine() -> None:
    report = analyse(calendar_table(poisson_events(100, 0.5, seed=9)), generated_at=GENERATED_AT)
    adherence = report.adherence
    assert (adherence.window_days, adherence.days_adherent, adherence.current_streak_days) == (0, 0, 0)
    assert adherence.adherence_rate is None
    assert adherence.rate_ratio_full_vs_none is None
    assert adherence.verdict == "insufficient_data"
    assert adherence.dose_response == []
    trend = report.trend
    assert trend.routine_start is None
    assert trend.level_change_rate_ratio is None
    assert any("regression to the mean" in c for c in trend.caveats)
    assert any("co-interventions" in c for c in trend.caveats)


def reference_adherence_7d(table: DiaryTable) -> list[float | None]:
    """The definition, day by day: previous 7 calendar days; a day is known when logged or before the
    routine start; defined with >= 4 known days; the share of adherent among the known ones."""
    assert table.routine_start is not None
    rows = dict(zip(table.days, table.release_minutes, strict=True))
    values: list[float | None] = []
    for day in table.days:
        if day < table.window_start:
            continue
        known = adherent = 0
        for back in range(1, 8):
            previous = day - timedelta(days=back)
            if previous < table.routine_start:
                known += 1
            elif previous in rows:
                known += 1
                adherent += int(rows[previous] >= table.daily_target_minutes)
        values.append(adherent / known if known >= 4 else None)
    return values


def test_dose_response_uses_the_previous_seven_days() -> None:
    rng = np.random.default_rng(10)
    days = 200
    logged = list(rng.random(days) > 0.15)
    minutes = [int(m) for m in np.where(rng.random(days) < 0.6, 10, 0)]
    table = calendar_table(
        poisson_events(days, 0.5, seed=10),
        logged=logged,
        release_minutes=minutes,
        routine_start=START + timedelta(days=60),
        window_start=START + timedelta(days=14),
    )
    expected = reference_adherence_7d(table)
    report = analyse(table, generated_at=GENERATED_AT)
    bands = {band.band: band for band in report.adherence.dose_response}
    edges = {"0-25%": (0, 0.25), "25-50%": (0.25, 0.5), "50-75%": (0.5, 0.75), "75-100%": (0.75, 1.01)}
    events = [int(e) for d, e in zip(table.days, table.events, strict=True) if d >= table.window_start]
    for name, (low, high) in edges.items():
        in_band = [v is not None and low <= v < high for v in expected]
        assert bands[name].days == sum(in_band)
        assert bands[name].events == sum(e for e, b in zip(events, in_band, strict=True) if b)
    assert sum(b.days for b in bands.values()) == sum(v is not None for v in expected)


def test_trend_needs_fourteen_days_each_side() -> None:
    events = poisson_events(120, 0.6, seed=12)
    short = analyse(calendar_table(events, routine_start=START + timedelta(days=10)), generated_at=GENERATED_AT)
    assert short.trend.days_before == 10
    assert short.trend.level_change_rate_ratio is None
    assert any("at least 14 logged days" in c for c in short.trend.caveats)
    ok = analyse(calendar_table(events, routine_start=START + timedelta(days=50)), generated_at=GENERATED_AT)
    assert (ok.trend.days_before, ok.trend.days_after) == (50, 63)  # 7 wash-in days left out
    assert ok.trend.rate_before == pytest.approx(sum(events[:50]) / 50)
    assert ok.trend.rate_after == pytest.approx(sum(events[57:]) / 63)
    assert ok.trend.level_change_rate_ratio is not None
    assert ok.trend.ci_low is not None
    assert ok.trend.ci_high is not None
    assert ok.trend.ci_low < ok.trend.level_change_rate_ratio < ok.trend.ci_high


# --- the report as a whole --------------------------------------------------------------------


def test_window_alias_and_utc_timestamp() -> None:
    report = analyse(
        simulate_diary(1, days=90).table, generated_at=datetime(2026, 7, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    )
    body = json.loads(as_json(report))
    assert body["window"]["from"] == "2026-04-02"
    assert "from_" not in body["window"]
    assert body["generated_at"] == "2026-07-01T12:00:00Z"
    assert body["analysis_version"] == ANALYSIS_VERSION
    assert report.model_dump()["window"]["from"] == report.window.from_
    assert set(body["factors"][0]) >= {
        "factor", "label", "category", "exposed_days", "unexposed_days", "events_exposed", "events_unexposed",
        "rate_exposed", "rate_unexposed", "rate_ratio", "ci_low", "ci_high", "p_value", "q_value", "method",
        "verdict", "min_detectable_rate_ratio", "overlaps_with", "cannot_separate_from", "warnings", "summary",
    }  # fmt: skip
    assert body["settings"]["min_logged_days"] == 28
    assert analyse(simulate_diary(1, days=90).table, generated_at=datetime(2026, 7, 1, 12)).generated_at.tzinfo == UTC


def test_report_is_deterministic() -> None:
    table = simulate_diary(21, days=400, extra_null_factors=3).table
    first = analyse(table, generated_at=GENERATED_AT)
    second = analyse(table, generated_at=GENERATED_AT)
    assert as_json(first) == as_json(second)


def test_summaries_speak_of_association() -> None:
    report = analyse(simulate_diary(3).table, generated_at=GENERATED_AT)
    for result in report.factors:
        text = result.summary.lower()
        assert "cause" not in text.replace("not proof of cause", "")
        assert f"over {result.exposed_days} days" in text


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    days=st.integers(min_value=0, max_value=120),
    rate=st.sampled_from([0.0, 0.05, 0.3, 1.5]),
    missing=st.sampled_from([0.0, 0.3, 0.9]),
    shapes=st.lists(st.sampled_from(["never", "always", "half", "alternate", "late", "sparse"]), max_size=5),
    routine=st.one_of(st.none(), st.integers(min_value=0, max_value=130)),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_any_diary_gives_a_json_safe_report(
    days: int, rate: float, missing: float, shapes: list[str], routine: int | None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    patterns: dict[str, Callable[[int], bool]] = {
        "never": lambda i: False,
        "always": lambda i: True,
        "half": lambda i: i < days // 2,
        "alternate": lambda i: i % 2 == 0,
        "late": lambda i: i >= days - 10,
        "sparse": lambda i: i % 9 == 0,
    }
    table = calendar_table(
        [int(x) for x in rng.poisson(rate, days)] or [0],
        logged=list(rng.random(max(days, 1)) >= missing),
        factors={f"f{i}_{shape}": [patterns[shape](d) for d in range(max(days, 1))] for i, shape in enumerate(shapes)},
        release_minutes=[int(m) for m in rng.integers(0, 12, max(days, 1))],
        routine_start=START + timedelta(days=routine) if routine is not None else None,
    )
    report = analyse(table, generated_at=GENERATED_AT)
    body = report.model_dump(mode="json")
    json.dumps(body, allow_nan=False)
    assert all_floats_finite(body)
    for result in report.factors:
        for value in (result.rate_ratio, result.ci_low, result.ci_high, result.crude_rate_ratio):
            assert value is None or value > 0
        if result.ci_low is not None and result.ci_high is not None:
            assert result.ci_low <= result.ci_high
    assert report.window.days_in_range == report.window.days_logged + report.window.days_missing


def test_speed_730_days_12_factors() -> None:
    table = simulate_diary(7, days=730, extra_null_factors=8).table
    assert len(table.factors) == 12
    analyse(table, generated_at=GENERATED_AT)  # warm-up: imports, caches
    times = []
    for _ in range(21):
        start = time.perf_counter()
        report = analyse(table, generated_at=GENERATED_AT)
        times.append(time.perf_counter() - start)
    median_ms = statistics.median(times) * 1000
    print(
        f"\nanalyse(): 730 days x 12 factors, median {median_ms:.1f} ms over 21 runs (max {max(times) * 1000:.1f} ms)"
    )
    assert report.status == "ok"
    assert median_ms < 1000  # a soft bound: the target is a few tens of milliseconds, measured and printed above


def test_no_warning_escapes_and_the_filters_are_restored() -> None:
    filters_before = list(warnings.filters)
    b = [i < 40 for i in range(120)]
    c = [40 <= i < 80 for i in range(120)]
    degenerate = calendar_table(
        [0] * 40 + [1] * 80, factors={"a": [x or y for x, y in zip(b, c, strict=True)], "b": b, "c": c}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analyse(degenerate, generated_at=GENERATED_AT)
        analyse(calendar_table([0] * 60), generated_at=GENERATED_AT)
    assert caught == []
    assert warnings.filters == filters_before


def test_concurrent_analyses_match_sequential_ones() -> None:
    tables = [simulate_diary(seed, days=200).table for seed in range(8)]
    expected = [as_json(analyse(t, generated_at=GENERATED_AT)) for t in tables]
    filters_before = list(warnings.filters)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: as_json(analyse(t, generated_at=GENERATED_AT)), tables * 3))
    assert results == expected * 3
    assert warnings.filters == filters_before
