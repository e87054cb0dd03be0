"""Diary-day rules (contract §2) and time-zone names."""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

NIGHT_ENDS_HOUR = 12  # a sleep cramp before noon belongs to the evening the night began


@lru_cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(zone(timezone)).date()


def episode_diary_date(started_at: datetime, timezone: str, during_sleep: bool) -> date:
    local = started_at.astimezone(zone(timezone))
    if during_sleep and local.hour < NIGHT_ENDS_HOUR:
        return local.date() - timedelta(days=1)
    return local.date()
