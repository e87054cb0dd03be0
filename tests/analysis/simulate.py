"""A seeded diary simulator with known truth, for validating the analysis engine.

`simulate_diary(seed)` writes one user's diary the way the method page describes the hard cases:

* cramps per day ~ Poisson(base_rate x flare_t x effects), where `flare_t` is a gamma AR(1) latent
  process with mean 1 (flare_t = rho flare_{t-1} + (1 - rho) G_t, G_t ~ Gamma(shape, 1/shape)):
  counts are overdispersed and neighbouring days are correlated (bad weeks);
* `statin` multiplies the rate (x2 by default) from a random date on, until the end;
* a self-release routine starts on a random date; the user is adherent in sticky spells (a
  two-state Markov chain) and the rate is multiplied by adherence_effect ** (share of adherent
  days among the previous 7 calendar days), so full adherence halves it by default;
* three factors that do nothing, with different time shapes: `high_heels` (daily random),
  `orthotics` (alternating multi-week blocks) and `electrolyte_drink` (one sustained range);
* a share of the days (5 % by default) is not logged at all: no check-in, and the cramps and
  release sessions of that day are not in the diary either.

The same seed always gives the same diary (numpy's PCG64). The table starts at the window start
(no lookback rows), like a request for the whole diary. Other code (demo data, benchmarks) may
import this module; it depends only on numpy and the engine's `DiaryTable`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from app.analysis.engine import DiaryTable, FactorInfo

SIM_END = date(2026, 6, 30)
TRUE_EFFECT_FACTOR = "statin"
NULL_FACTORS = ("electrolyte_drink", "high_heels", "orthotics")
FACTOR_SHAPES = {
    "statin": "from_date_on",
    "high_heels": "daily_random",
    "orthotics": "multi_week_blocks",
    "electrolyte_drink": "sustained_range",
}
FACTOR_INFO = {
    "statin": FactorInfo(key="statin", label="Statin", category="medication"),
    "high_heels": FactorInfo(key="high_heels", label="High heels", category="footwear"),
    "orthotics": FactorInfo(key="orthotics", label="Orthotics", category="footwear"),
    "electrolyte_drink": FactorInfo(key="electrolyte_drink", label="Electrolyte drink", category="remedy"),
}
DEFAULT_EFFECTS = {"statin": 2.0, "high_heels": 1.0, "orthotics": 1.0, "electrolyte_drink": 1.0}


@dataclass(frozen=True)
class SimulationTruth:
    rate_ratios: dict[str, float]  # factor key -> true rate ratio (1.0: does nothing)
    adherence_rate_ratio: float | None  # full vs no adherence over the previous 7 days; None: no routine
    base_rate: float
    effect_start: date  # first day of the true-effect factor
    routine_start: date | None
    adherence_7d: npt.NDArray[np.float64]  # true share over the previous 7 calendar days, per calendar day


@dataclass(frozen=True)
class SimulatedDiary:
    table: DiaryTable
    truth: SimulationTruth


def _presence(shape: str, days: int, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    present = np.zeros(days, dtype=bool)
    if shape == "from_date_on":
        present[int(rng.integers(int(0.15 * days), int(0.85 * days)) + 1) :] = True
    elif shape == "daily_random":
        present = rng.random(days) < rng.uniform(0.2, 0.5)
    elif shape == "multi_week_blocks":
        state, day = bool(rng.random() < 0.5), 0
        while day < days:
            length = int(rng.integers(14, 43))
            present[day : day + length] = state
            state, day = not state, day + length
    elif shape == "sustained_range":
        start = int(rng.integers(int(0.1 * days), int(0.6 * days) + 1))
        present[start : start + int(rng.integers(int(0.15 * days), int(0.35 * days) + 1))] = True
    else:
        raise ValueError(f"unknown factor shape {shape!r}")
    return present


def _flares(days: int, ar: float, shape: float, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Gamma AR(1) latent process with mean 1 (after a burn-in)."""
    burn_in = 60
    shocks = rng.gamma(shape, 1 / shape, size=days + burn_in)
    level = np.empty(days + burn_in)
    level[0] = shocks[0]
    for t in range(1, days + burn_in):
        level[t] = ar * level[t - 1] + (1 - ar) * shocks[t]
    return level[burn_in:]


def simulate_diary(
    seed: int,
    days: int = 365,
    effects: Mapping[str, float] | None = None,
    *,
    adherence_effect: float | None = 0.5,
    missing_share: float = 0.05,
    base_rate: float = 0.4,
    flare_ar: float = 0.7,
    flare_shape: float = 0.6,
    daily_target_minutes: int = 5,
    extra_null_factors: int = 0,
    end: date = SIM_END,
) -> SimulatedDiary:
    """One simulated user. `effects` overrides true rate ratios by factor key (see DEFAULT_EFFECTS);
    `adherence_effect` is the rate ratio of full vs no adherence (None: the user has no routine).
    `extra_null_factors` adds that many more do-nothing factors (`null_01`, ...; shapes cycling
    through the four), drawn from a separate stream so the rest of the diary does not change."""
    if days < 20:
        raise ValueError("simulate at least 20 days")
    rng = np.random.default_rng(seed)
    ratios = {**DEFAULT_EFFECTS, **(effects or {})}
    unknown = set(ratios) - set(FACTOR_SHAPES)
    if unknown:
        raise ValueError(f"no simulated factor {sorted(unknown)}")
    first = end - timedelta(days=days - 1)
    calendar = [first + timedelta(days=i) for i in range(days)]

    presence = {key: _presence(FACTOR_SHAPES[key], days, rng) for key in sorted(FACTOR_SHAPES)}
    info = dict(FACTOR_INFO)
    extra_rng = np.random.default_rng([seed, 1])
    shapes = sorted(set(FACTOR_SHAPES.values()))
    for i in range(1, extra_null_factors + 1):
        key = f"null_{i:02d}"
        presence[key] = _presence(shapes[i % len(shapes)], days, extra_rng)
        info[key] = FactorInfo(key=key, label=f"Null factor {i}", category="other")
        ratios[key] = 1.0

    adherent = np.zeros(days, dtype=bool)
    routine_index: int | None = None
    if adherence_effect is not None:
        routine_index = int(rng.integers(int(0.3 * days), int(0.7 * days) + 1))
        keep, start = rng.uniform(0.75, 0.95), rng.uniform(0.15, 0.5)
        state = True
        for t in range(routine_index, days):
            adherent[t] = state
            state = bool(rng.random() < (keep if state else start))
    previous = np.concatenate([[0], np.cumsum(adherent)])
    index = np.arange(days)
    adherence_7d = (previous[index] - previous[np.maximum(index - 7, 0)]) / 7.0

    log_rate = np.log(base_rate) + np.log(_flares(days, flare_ar, flare_shape, rng))
    for key in FACTOR_SHAPES:
        log_rate += np.log(ratios[key]) * presence[key]
    if adherence_effect is not None:
        log_rate += np.log(adherence_effect) * adherence_7d
    events = rng.poisson(np.exp(log_rate)).astype(np.int64)
    severities = rng.integers(1, 11, size=int(events.sum()))
    severity_sum = np.bincount(np.repeat(index, events), weights=severities, minlength=days).astype(np.int64)

    minutes = np.zeros(days, dtype=np.int64)
    if routine_index is not None:
        after = index >= routine_index
        extra = rng.integers(0, 16, size=days)
        short = np.where(rng.random(days) < 0.5, 0, rng.integers(1, max(daily_target_minutes, 2), size=days))
        minutes = np.where(adherent, daily_target_minutes + extra, np.where(after, short, 0)).astype(np.int64)

    logged = rng.random(days) >= missing_share
    rows = np.flatnonzero(logged)
    first_present = {key: calendar[int(np.argmax(present))] for key, present in presence.items() if bool(present.any())}
    table = DiaryTable(
        window_start=first,
        window_end=end,
        today=end,
        days=[calendar[i] for i in rows],
        events=events[rows],
        severity_sum=severity_sum[rows],
        release_minutes=minutes[rows],
        factors={key: present[rows] for key, present in presence.items()},
        factor_info={key: info[key] for key in presence},
        first_present=first_present,
        routine_start=calendar[routine_index] if routine_index is not None else None,
        daily_target_minutes=daily_target_minutes,
    )
    effect_present = presence[TRUE_EFFECT_FACTOR]
    truth = SimulationTruth(
        rate_ratios=dict(sorted(ratios.items())),
        adherence_rate_ratio=adherence_effect,
        base_rate=base_rate,
        effect_start=calendar[int(np.argmax(effect_present))],
        routine_start=table.routine_start,
        adherence_7d=adherence_7d,
    )
    return SimulatedDiary(table=table, truth=truth)
