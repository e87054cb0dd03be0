"""Trends per day, week (starting Monday) or month, with every period of the window listed."""

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlmodel import Session

from app.core.errors import Unprocessable
from app.diary import service as diary
from app.routine import service as routines
from app.trends.schemas import Granularity, TrendPoint, Trends

MAX_WINDOW_DAYS = 3660


def period_start(day: dt.date, granularity: Granularity) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def resolve_window(
    session: Session, owner_id: uuid.UUID, today: dt.date, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    """Defaults: from the first logged day (or today) to today. A default start never makes the
    window too long: a diary longer than the limit defaults to its last MAX_WINDOW_DAYS days; only
    an explicit `from` that far back is refused."""
    if start is None:
        end = end or today
        first = diary.span(session, owner_id)[0] or today
        start = min(max(first, end - dt.timedelta(days=MAX_WINDOW_DAYS - 1)), end)
    end = end or max(today, start)
    if (end - start).days >= MAX_WINDOW_DAYS:
        raise Unprocessable("from", f"the window may span at most {MAX_WINDOW_DAYS} days")
    return start, end


def trends(
    session: Session,
    owner_id: uuid.UUID,
    timezone: str,
    granularity: Granularity,
    start: dt.date | None,
    end: dt.date | None,
) -> Trends:
    today = diary.local_today(timezone)
    start, end = resolve_window(session, owner_id, today, start, end)
    days = diary.daily(session, owner_id, start, end)
    routine = routines.effective(session, owner_id)
    periods: dict[dt.date, list[dt.date]] = {}
    for day in diary.days_between(start, end) if start <= end else []:
        periods.setdefault(period_start(day, granularity), []).append(day)
    points = [_point(first, members, days, routine, today) for first, members in periods.items()]
    return Trends(granularity=granularity, points=points)


def _point(
    first: dt.date,
    members: Iterable[dt.date],
    days: dict[dt.date, diary.Day],
    routine: routines.EffectiveRoutine,
    today: dt.date,
) -> TrendPoint:
    entries = [days[day] for day in members if day in days]
    episodes = sum(entry.episodes for entry in entries)
    severity = sum(entry.severity_sum for entry in entries)
    routine_days = [day for day in members if routine.start is not None and routine.start <= day <= today]
    adherent = sum(
        1 for day in routine_days if day in days and days[day].release_minutes >= routine.daily_target_minutes
    )
    return TrendPoint(
        period_start=first,
        days_logged=sum(1 for entry in entries if entry.logged),
        episodes=episodes,
        mean_severity=round(severity / episodes, 3) if episodes else None,
        adherence_rate=round(adherent / len(routine_days), 4) if routine_days else None,
        release_minutes=sum(entry.release_minutes for entry in entries),
    )
