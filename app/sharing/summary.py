"""The therapist dashboard's ClientSummary: figures per client from one SQL statement, then the
trend and the alerts from those figures, by the rules documented on the schema."""

import datetime as dt
import uuid
from typing import Any

from sqlmodel import Session

from app.diary.service import local_today
from app.sharing import repository
from app.sharing.repository import ZoneWindows
from app.sharing.schemas import Alert, ClientSort, ClientSummary, Trend

RISING_RATIO = 1.5
RISING_MIN_EPISODES = 4
SEVERE = 8
LOW_ADHERENCE = 0.5
TREND_MIN_DAYS_LOGGED = 7


def client_summaries(session: Session, therapist_id: uuid.UUID, sort: ClientSort) -> list[ClientSummary]:
    zones = [ZoneWindows(zone, local_today(zone)) for zone in repository.readable_timezones(session, therapist_id)]
    summaries = [_summary(row) for row in repository.client_figures(session, therapist_id, zones)]
    return sort_summaries(summaries, sort)


def _summary(row: dict[str, Any]) -> ClientSummary:
    today: dt.date = row["today"]
    episodes_30d, episodes_prev = int(row["episodes_30d"]), int(row["episodes_prev_30d"])
    adherence_30d = _adherence(row["adherent_days_30d"], row["routine_start"], row["start_30"], today)
    adherence_14d = _adherence(row["adherent_days_14d"], row["routine_start"], row["start_14"], today)
    latest = [row[f"last_{name}_at"] for name in repository.DIARY_TABLES]
    summary = ClientSummary(
        client_id=row["client_id"],
        display_name=row["display_name"],
        linked_at=row["linked_at"],
        last_entry_at=max((at for at in latest if at is not None), default=None),
        days_logged_30d=int(row["days_logged_30d"]),
        episodes_7d=int(row["episodes_7d"]),
        episodes_30d=episodes_30d,
        episodes_prev_30d=episodes_prev,
        rate_change_30d=round(episodes_30d / episodes_prev, 3) if episodes_prev else None,
        mean_severity_30d=round(int(row["severity_sum_30d"]) / episodes_30d, 2) if episodes_30d else None,
        adherence_30d=adherence_30d,
        trend=_trend(episodes_30d, episodes_prev, int(row["days_logged_30d"]), int(row["days_logged_prev_30d"])),
        alerts=[],
    )
    summary.alerts = _alerts(summary, row["max_severity_7d"], int(row["days_logged_7d"]), adherence_14d)
    return summary


def _adherence(
    adherent_days: int, routine_start: dt.date | None, window_start: dt.date, today: dt.date
) -> float | None:
    """Adherent share of the window's days from the routine's start on; null before it starts."""
    if routine_start is None or routine_start > today:
        return None
    days = (today - max(routine_start, window_start)).days + 1
    return round(int(adherent_days) / days, 4)


def _rising(episodes_30d: int, episodes_prev: int) -> bool:
    return episodes_30d >= RISING_MIN_EPISODES and episodes_30d >= RISING_RATIO * episodes_prev


def _trend(episodes_30d: int, episodes_prev: int, days_logged_30d: int, days_logged_prev: int) -> Trend:
    if min(days_logged_30d, days_logged_prev) < TREND_MIN_DAYS_LOGGED:
        return "insufficient_data"
    if _rising(episodes_30d, episodes_prev):
        return "rising"
    if _rising(episodes_prev, episodes_30d):
        return "falling"
    return "stable"


def _alerts(
    summary: ClientSummary, max_severity_7d: int | None, days_logged_7d: int, adherence_14d: float | None
) -> list[Alert]:
    alerts: list[Alert] = []
    if _rising(summary.episodes_30d, summary.episodes_prev_30d):
        alerts.append("cramps_rising")
    if max_severity_7d is not None and max_severity_7d >= SEVERE:
        alerts.append("severe_episode")
    if adherence_14d is not None and adherence_14d < LOW_ADHERENCE:
        alerts.append("low_adherence")
    if days_logged_7d == 0:
        alerts.append("not_logging")
    return alerts


def sort_summaries(summaries: list[ClientSummary], sort: ClientSort) -> list[ClientSummary]:
    """`-field` sorts descending; clients without the figure come last either way; ties by name."""
    field = sort.removeprefix("-")
    by_name = sorted(summaries, key=lambda s: ((s.display_name or "").casefold(), str(s.client_id)))
    present = [s for s in by_name if getattr(s, field) is not None]
    absent = [s for s in by_name if getattr(s, field) is None]
    key: Any = (
        (lambda s: (getattr(s, field) or "").casefold()) if field == "display_name" else (lambda s: getattr(s, field))
    )
    return sorted(present, key=key, reverse=sort.startswith("-")) + absent
