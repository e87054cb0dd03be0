"""Validation of the method on simulated users with known truth (analysis-method.md, "How to know it
works"): 95 % intervals should cover the truth 90-99 % of the time, factors that do nothing should
get p < 0.05 at most about 7 % of the time, and wrong `likely_*` verdicts should stay near 10 % or
below. Fixed seeds, so the numbers below are the same on every run; `pytest -s` prints them.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from app.analysis.engine import analyse
from tests.analysis.simulate import NULL_FACTORS, TRUE_EFFECT_FACTOR, simulate_diary

GENERATED_AT = datetime(2026, 7, 1, tzinfo=UTC)
USERS = 400  # main scenario: one year of diary each
LONG_USERS = 150  # two years of diary each
NULL_USERS = 200  # nothing has an effect


@dataclass
class Measured:
    users: int = 0
    covered: dict[str, list[bool]] = field(default_factory=dict)  # factor or "adherence" -> CI contains truth
    null_significant: dict[str, list[bool]] = field(default_factory=dict)  # null factor -> p < 0.05
    wrong_share: list[float] = field(default_factory=list)  # per user: wrong likely_* / all likely_*
    any_wrong: list[bool] = field(default_factory=list)  # per user: at least one wrong likely_*
    wrong_of_all: list[float] = field(default_factory=list)  # per user: wrong likely_* / all verdicts
    detected: list[bool] = field(default_factory=list)  # true-effect factor got likely_increases
    adjusted: int = 0
    seconds: float = 0.0

    def coverage(self, key: str) -> float:
        return _mean(self.covered.get(key, []))

    def null_rate(self, keys: Iterable[str] | None = None) -> float:
        chosen = self.null_significant if keys is None else {k: self.null_significant.get(k, []) for k in keys}
        return _mean([x for values in chosen.values() for x in values])

    def describe(self, title: str) -> str:
        lines = [f"{title}: {self.users} simulated users, analyse() {1000 * self.seconds / self.users:.1f} ms/user"]
        for key, values in sorted(self.covered.items()):
            lines.append(f"  95% CI coverage  {key:18s} {_mean(values):.3f}  (n={len(values)})")
        for key, values in sorted(self.null_significant.items()):
            lines.append(f"  null p < 0.05    {key:18s} {_mean(values):.3f}  (n={len(values)})")
        total = sum(len(v) for v in self.null_significant.values())
        lines.append(f"  null p < 0.05    {'all null tests':18s} {self.null_rate():.3f}  (n={total})")
        lines.append(
            f"  wrong likely_* among a user's likely_* verdicts (mean over users) {_mean(self.wrong_share):.3f}"
        )
        lines.append(
            f"  wrong likely_* among all of a user's verdicts (mean over users)   {_mean(self.wrong_of_all):.3f}"
        )
        lines.append(f"  users with at least one wrong likely_*                            {_mean(self.any_wrong):.3f}")
        if self.detected:
            lines.append(
                f"  true effect found (likely_increases)                              {_mean(self.detected):.3f}"
            )
        lines.append(f"  factor results from the adjusted model: {self.adjusted}")
        return "\n".join(lines)


def _mean(values: list[bool] | list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _wrong(verdict: str, truth: float) -> bool:
    return (verdict == "likely_increases" and truth <= 1) or (verdict == "likely_decreases" and truth >= 1)


def measure(seeds: range, **simulation: Any) -> Measured:
    result = Measured()
    for seed in seeds:
        sim = simulate_diary(seed, **simulation)
        start = time.perf_counter()
        report = analyse(sim.table, generated_at=GENERATED_AT)
        result.seconds += time.perf_counter() - start
        result.users += 1
        verdicts: list[tuple[str, float]] = []
        for f in report.factors:
            truth = sim.truth.rate_ratios[f.factor]
            verdicts.append((f.verdict, truth))
            result.adjusted += f.method == "adjusted_glm"
            if f.verdict in {"cannot_separate", "insufficient_data"}:
                continue
            if f.ci_low is not None and f.ci_high is not None:
                result.covered.setdefault(f.factor, []).append(f.ci_low <= truth <= f.ci_high)
            if truth == 1.0 and f.p_value is not None:
                result.null_significant.setdefault(f.factor, []).append(f.p_value < 0.05)
            if f.factor == TRUE_EFFECT_FACTOR and truth != 1.0:
                result.detected.append(f.verdict == "likely_increases")
        adherence, adherence_truth = report.adherence, sim.truth.adherence_rate_ratio
        if adherence_truth is not None and adherence.verdict not in {"cannot_separate", "insufficient_data"}:
            verdicts.append((adherence.verdict, adherence_truth))
            if adherence.ci_low is not None and adherence.ci_high is not None:
                result.covered.setdefault("adherence", []).append(
                    adherence.ci_low <= adherence_truth <= adherence.ci_high
                )
            if adherence_truth == 1.0 and adherence.p_value is not None:
                result.null_significant.setdefault("adherence", []).append(adherence.p_value < 0.05)
        likely = [(v, t) for v, t in verdicts if v.startswith("likely_")]
        wrong = sum(_wrong(v, t) for v, t in likely)
        result.wrong_share.append(wrong / len(likely) if likely else 0.0)
        result.wrong_of_all.append(wrong / len(verdicts) if verdicts else 0.0)
        result.any_wrong.append(wrong > 0)
    return result


@pytest.fixture(scope="module")
def one_year() -> Measured:
    """A statin that doubles the rate from a random date on, a routine whose full adherence halves it,
    three do-nothing factors (daily random, multi-week blocks, one sustained range), gamma AR(1) flares,
    5 % of days unlogged."""
    measured = measure(range(USERS))
    print("\n" + measured.describe("one year"))
    return measured


@pytest.fixture(scope="module")
def two_years() -> Measured:
    measured = measure(range(10_000, 10_000 + LONG_USERS), days=730)
    print("\n" + measured.describe("two years"))
    return measured


@pytest.fixture(scope="module")
def nothing_works() -> Measured:
    measured = measure(range(20_000, 20_000 + NULL_USERS), effects={TRUE_EFFECT_FACTOR: 1.0}, adherence_effect=1.0)
    print("\n" + measured.describe("no effects at all"))
    return measured


def test_every_one_year_user_gets_an_adjusted_analysis(one_year: Measured) -> None:
    assert one_year.adjusted == one_year.users * 4


def test_intervals_cover_the_true_effects(one_year: Measured) -> None:
    for key in (TRUE_EFFECT_FACTOR, "adherence"):
        assert len(one_year.covered[key]) >= 0.95 * one_year.users
        assert 0.90 <= one_year.coverage(key) <= 0.99, key


def test_intervals_cover_the_null_factors(one_year: Measured) -> None:
    for key in NULL_FACTORS:
        assert 0.90 <= one_year.coverage(key) <= 0.99, key


def test_null_factors_are_rarely_significant(one_year: Measured) -> None:
    assert one_year.null_rate() <= 0.07
    for key in NULL_FACTORS:  # each time shape on its own (400 tests each: +-1.3 % standard error)
        assert one_year.null_rate([key]) <= 0.10, key


def test_wrong_likely_verdicts_stay_rare(one_year: Measured) -> None:
    assert _mean(one_year.wrong_share) <= 0.10
    assert _mean(one_year.detected) >= 0.4  # and the true effect is found often enough to matter


def test_two_years_of_diary(two_years: Measured) -> None:
    for key in (TRUE_EFFECT_FACTOR, "adherence"):
        assert 0.90 <= two_years.coverage(key) <= 0.99, key
    assert two_years.null_rate() <= 0.08
    assert _mean(two_years.wrong_share) <= 0.10


def test_when_nothing_works(nothing_works: Measured) -> None:
    assert nothing_works.null_rate() <= 0.07
    for key in (*NULL_FACTORS, TRUE_EFFECT_FACTOR, "adherence"):
        assert 0.90 <= nothing_works.coverage(key) <= 0.99, key


@pytest.mark.xfail(
    strict=True,
    reason="Known gap, measured: when nothing works, 13.5 % of these 200 users (14.1 % of 1000) get at least "
    "one likely_* verdict, against 10 % for BH at q < 0.10 with exact p-values. The p-values of persistent "
    "exposures (blocks, ranges, the routine) are slightly anti-conservative (p < 0.05 in 7-8 % instead of 5 %): "
    "the method's Newey-West window of 7 lags misses part of the long-run variance of the gamma AR(1) flares.",
)
def test_family_wise_error_when_nothing_works(nothing_works: Measured) -> None:
    assert _mean(nothing_works.any_wrong) <= 0.10


def test_the_simulator_is_seeded() -> None:
    a, b = simulate_diary(5), simulate_diary(5)
    assert a.table.days == b.table.days
    assert (a.table.events == b.table.events).all()
    assert a.truth.routine_start == b.truth.routine_start
    wider = simulate_diary(5, extra_null_factors=8)
    assert len(wider.table.factors) == 12
    assert (wider.table.events == a.table.events).all()  # extra factors come from their own stream
    assert 0.9 <= len(a.table.days) / 365 <= 0.99  # about 5 % of the days are not logged
    assert simulate_diary(6).table.days != a.table.days
