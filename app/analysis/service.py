"""Builds the diary table the analysis engine reads: one row per logged day, from SQL per-day
aggregates, plus the factors present each day and the routine."""

import datetime as dt
import uuid

import numpy as np
from sqlmodel import Session

from app.analysis.engine import DiaryTable, FactorInfo, analyse
from app.analysis.schemas import AnalysisReport
from app.core.db import utcnow
from app.diary import service as diary
from app.factors import service as factors
from app.routine import service as routines
from app.trends.service import resolve_window

# The engine looks back two weeks before the window: the previous-7-days adherence covariate and
# the reverse-causation check both need the days just before it.
LOOKBACK_DAYS = 14


def report(
    session: Session, owner_id: uuid.UUID, timezone: str, start: dt.date | None, end: dt.date | None
) -> AnalysisReport:
    today = diary.local_today(timezone)
    start, end = resolve_window(session, owner_id, today, start, end)
    # Nothing after today is analysed; a window that ends before it starts is empty (no days).
    end = max(min(end, today), start - dt.timedelta(days=1))
    return analyse(build_table(session, owner_id, start, end, today), generated_at=utcnow())


def build_table(session: Session, owner_id: uuid.UUID, start: dt.date, end: dt.date, today: dt.date) -> DiaryTable:
    read_from = start - dt.timedelta(days=LOOKBACK_DAYS)
    days = diary.daily(session, owner_id, read_from, end, with_factors=True)
    logged = sorted(day for day, entry in days.items() if entry.logged)
    rows = [days[day] for day in logged]
    present = sorted({factor for row in rows for factor in row.factors})
    catalogue = {
        f.key: FactorInfo(key=f.key, label=f.label, category=f.category) for f in factors.catalogue(session, owner_id)
    }
    routine = routines.effective(session, owner_id)
    return DiaryTable(
        window_start=start,
        window_end=end,
        today=today,
        days=logged,
        events=np.array([row.episodes for row in rows], dtype=np.int64),
        severity_sum=np.array([row.severity_sum for row in rows], dtype=np.int64),
        release_minutes=np.array([row.release_minutes for row in rows], dtype=np.int64),
        factors={key: np.array([key in row.factors for row in rows], dtype=bool) for key in present},
        factor_info={key: catalogue.get(key, FactorInfo(key=key, label=key, category="other")) for key in present},
        first_present=diary.first_present(session, owner_id, days, read_from),
        routine_start=routine.start,
        daily_target_minutes=routine.daily_target_minutes,
    )
