"""Every query on share codes, links and the access log, and the one access rule: which clients a
therapist may read. Every therapist query selects its clients through `readable_links`."""

import datetime as dt
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Subquery,
    and_,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    tuple_,
    union_all,
    update,
)
from sqlalchemy import (
    select as sa_select,
)
from sqlmodel import Session, col, select

from app.core.pagination import PageRequest
from app.episodes.models import Episode
from app.factors.models import CheckIn, Exposure
from app.release.models import ReleaseSession
from app.routine.models import DEFAULT_DAILY_TARGET_MINUTES, Routine
from app.sharing.models import AccessLogEntry, RedemptionFailure, ShareCode, TherapistLink
from app.users.models import User


def readable_links(therapist_id: uuid.UUID) -> Subquery:
    """(client_id, linked_at) of the clients actively linked to this therapist. Read on every
    request, so a revoked link or a deleted account takes effect on the therapist's very next one."""
    return (
        select(col(TherapistLink.client_id).label("client_id"), col(TherapistLink.created_at).label("linked_at"))
        .where(col(TherapistLink.therapist_id) == therapist_id, col(TherapistLink.revoked_at).is_(None))
        .subquery("readable")
    )


def readable_client(session: Session, therapist_id: uuid.UUID, client_id: uuid.UUID) -> User | None:
    readable = readable_links(therapist_id)
    statement = select(User).join(readable, readable.c.client_id == col(User.id)).where(col(User.id) == client_id)
    return session.exec(statement).first()


# --- share codes ---


def add_code(session: Session, code: ShareCode) -> None:
    session.add(code)


def codes_made_since(session: Session, client_id: uuid.UUID, since: datetime) -> list[datetime]:
    statement = (
        select(col(ShareCode.created_at))
        .where(col(ShareCode.client_id) == client_id, col(ShareCode.created_at) > since)
        .order_by(col(ShareCode.created_at))
    )
    return list(session.exec(statement).all())


def find_code(session: Session, code_digest: str) -> ShareCode | None:
    return session.exec(select(ShareCode).where(col(ShareCode.code_digest) == code_digest)).first()


def use_code(session: Session, code_id: uuid.UUID, now: datetime) -> bool:
    """Conditional update, so two therapists redeeming one code at once cannot both succeed."""
    result = session.execute(
        update(ShareCode)
        .where(col(ShareCode.id) == code_id, col(ShareCode.used_at).is_(None), col(ShareCode.expires_at) > now)
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def failures_since(session: Session, therapist_id: uuid.UUID, since: datetime) -> list[datetime]:
    statement = (
        select(col(RedemptionFailure.failed_at))
        .where(col(RedemptionFailure.therapist_id) == therapist_id, col(RedemptionFailure.failed_at) > since)
        .order_by(col(RedemptionFailure.failed_at))
    )
    return list(session.exec(statement).all())


def add_failure(session: Session, therapist_id: uuid.UUID, now: datetime) -> None:
    session.add(RedemptionFailure(therapist_id=therapist_id, failed_at=now))


# --- links ---


def active_link(session: Session, client_id: uuid.UUID, therapist_id: uuid.UUID) -> TherapistLink | None:
    statement = select(TherapistLink).where(
        col(TherapistLink.client_id) == client_id,
        col(TherapistLink.therapist_id) == therapist_id,
        col(TherapistLink.revoked_at).is_(None),
    )
    return session.exec(statement).first()


def add_link(session: Session, link: TherapistLink) -> None:
    session.add(link)


def client_link(
    session: Session, client_id: uuid.UUID, link_id: uuid.UUID, *, lock: bool = False
) -> TherapistLink | None:
    statement = select(TherapistLink).where(col(TherapistLink.id) == link_id, col(TherapistLink.client_id) == client_id)
    if lock:
        statement = statement.with_for_update()
    return session.exec(statement).first()


def client_links(session: Session, client_id: uuid.UUID) -> list[tuple[TherapistLink, User]]:
    """Newest first, revoked ones included: the client's record of whom they shared with."""
    statement = (
        select(TherapistLink, User)
        .join(User, col(User.id) == col(TherapistLink.therapist_id))
        .where(col(TherapistLink.client_id) == client_id)
        .order_by(col(TherapistLink.created_at).desc(), col(TherapistLink.id).desc())
    )
    return [(link, therapist) for link, therapist in session.exec(statement).all()]


# --- the access log ---


def log_access(session: Session, entries: list[dict[str, Any]]) -> None:
    """One multi-row INSERT without ORM objects: the dashboard logs a read for every client."""
    if entries:
        session.execute(insert(AccessLogEntry), entries)


def access_log_page(session: Session, client_id: uuid.UUID, page: PageRequest) -> list[AccessLogEntry]:
    conditions = [col(AccessLogEntry.client_id) == client_id]
    if page.after is not None:
        conditions.append(tuple_(col(AccessLogEntry.at), col(AccessLogEntry.id)) < tuple_(page.after.at, page.after.id))
    statement = (
        select(AccessLogEntry)
        .where(*conditions)
        .order_by(col(AccessLogEntry.at).desc(), col(AccessLogEntry.id).desc())
        .limit(page.limit + 1)
    )
    return list(session.exec(statement).all())


# --- the dashboard's figures ---


@dataclass(frozen=True)
class ZoneWindows:
    """The diary-day windows of every client in one time zone: they share 'today'."""

    timezone: str
    today: dt.date

    def starting(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days - 1)


def readable_timezones(session: Session, therapist_id: uuid.UUID) -> list[str]:
    readable = readable_links(therapist_id)
    statement = select(col(User.timezone)).join(readable, readable.c.client_id == col(User.id)).distinct()
    return list(session.exec(statement).all())


def client_figures(session: Session, therapist_id: uuid.UUID, zones: list[ZoneWindows]) -> list[dict[str, Any]]:
    """One row of figures per readable client, in two statements whatever the number of clients:
    the clients with their windows, then their logged days summed per client over those windows.
    Two, because joining the clients to their days (both computed) would make SQLite compare
    every client with every day: it cannot index either side of that join."""
    if not zones:
        return []
    readable = readable_links(therapist_id)
    windows = _zone_windows(zones)
    figures = {
        row["client_id"]: row
        for row in session.execute(
            _day_totals(readable, windows, since=min(zone.starting(2 * SUMMARY_DAYS) for zone in zones))
        ).mappings()
    }
    return [
        {**client, **figures.get(client["client_id"], NO_LOGGED_DAYS)}
        for client in session.execute(_clients(readable, windows)).mappings()
    ]


def _day_totals(readable: Subquery, windows: Subquery, since: dt.date) -> Select[*tuple[Any, ...]]:
    """Per client with a logged day since `since`: its figures over its own windows. Driven by the
    days, which reach their client's time zone and routine through primary keys."""
    days = _logged_days(readable, since)

    def between(first: ColumnElement[dt.date], *more: ColumnElement[bool]) -> ColumnElement[bool]:
        return and_(days.c.day >= first, days.c.day <= windows.c.today, *more)

    def count_days(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(case((condition, days.c.day)).distinct())

    def total(condition: ColumnElement[bool], column: ColumnElement[int]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, column), else_=0)), 0)

    target = func.coalesce(col(Routine.daily_target_minutes), DEFAULT_DAILY_TARGET_MINUTES)
    # A day with the target's minutes has a release session, so it is on or after the first one:
    # only an explicit `started_on` can make an adherent day fall before the routine's start.
    adherent = and_(
        days.c.minutes >= target, or_(col(Routine.started_on).is_(None), days.c.day >= col(Routine.started_on))
    )
    previous = and_(days.c.day >= windows.c.start_prev_30, days.c.day < windows.c.start_30)
    return (
        sa_select(
            days.c.client_id,
            count_days(between(windows.c.start_7)).label("days_logged_7d"),
            count_days(between(windows.c.start_30)).label("days_logged_30d"),
            count_days(previous).label("days_logged_prev_30d"),
            total(between(windows.c.start_7), days.c.episodes).label("episodes_7d"),
            total(between(windows.c.start_30), days.c.episodes).label("episodes_30d"),
            total(previous, days.c.episodes).label("episodes_prev_30d"),
            total(between(windows.c.start_30), days.c.severity_sum).label("severity_sum_30d"),
            func.max(case((between(windows.c.start_7), days.c.max_severity))).label("max_severity_7d"),
            # Only the release sessions' row of a day has minutes, so these count each day once.
            total(between(windows.c.start_14, adherent), literal_column("1")).label("adherent_days_14d"),
            total(between(windows.c.start_30, adherent), literal_column("1")).label("adherent_days_30d"),
        )
        .select_from(days)
        .join(User, col(User.id) == days.c.client_id)
        .join(windows, windows.c.timezone == col(User.timezone))
        .outerjoin(Routine, col(Routine.user_id) == days.c.client_id)
        .group_by(days.c.client_id)
    )


NO_LOGGED_DAYS: dict[str, Any] = {
    "days_logged_7d": 0,
    "days_logged_30d": 0,
    "days_logged_prev_30d": 0,
    "episodes_7d": 0,
    "episodes_30d": 0,
    "episodes_prev_30d": 0,
    "severity_sum_30d": 0,
    "max_severity_7d": None,
    "adherent_days_14d": 0,
    "adherent_days_30d": 0,
}


SUMMARY_DAYS = 30


def _zone_windows(zones: list[ZoneWindows]) -> Subquery:
    rows = [
        sa_select(
            literal(zone.timezone, String()).label("timezone"),
            literal(zone.today, Date()).label("today"),
            literal(zone.starting(7), Date()).label("start_7"),
            literal(zone.starting(14), Date()).label("start_14"),
            literal(zone.starting(SUMMARY_DAYS), Date()).label("start_30"),
            literal(zone.starting(2 * SUMMARY_DAYS), Date()).label("start_prev_30"),
        )
        for zone in zones
    ]
    return union_all(*rows).subquery("zones")


def _clients(readable: Subquery, windows: Subquery) -> Select[*tuple[Any, ...]]:
    """One row per readable client with its windows, routine and latest record."""
    first_release = (
        sa_select(func.min(col(ReleaseSession.diary_date)))
        .where(col(ReleaseSession.user_id) == col(User.id), col(ReleaseSession.deleted_at).is_(None))
        .scalar_subquery()
    )
    latest = [
        sa_select(func.max(col(model.created_at)))
        .where(col(model.user_id) == col(User.id), col(model.deleted_at).is_(None))
        .scalar_subquery()
        .label(f"last_{name}_at")
        for name, model in DIARY_TABLES.items()
    ]
    return (
        sa_select(
            col(User.id).label("client_id"),
            col(User.display_name),
            readable.c.linked_at,
            *windows.c,
            func.coalesce(col(Routine.started_on), first_release).label("routine_start"),
            func.coalesce(col(Routine.daily_target_minutes), DEFAULT_DAILY_TARGET_MINUTES).label("target"),
            *latest,
        )
        .join(readable, readable.c.client_id == col(User.id))
        .join(windows, windows.c.timezone == col(User.timezone))
        .outerjoin(Routine, col(Routine.user_id) == col(User.id))
    )


DIARY_TABLES: dict[str, Any] = {
    "episode": Episode,
    "release_session": ReleaseSession,
    "exposure": Exposure,
    "checkin": CheckIn,
}


def _logged_days(readable: Subquery, since: dt.date) -> Subquery:
    """(client_id, day, episodes, severity_sum, max_severity, minutes) of the readable clients since
    `since`: one row per table and logged day, so a day may have up to three rows. Not grouped
    by day again: that sort costs more than everything else, and the figures do without it."""
    clients = sa_select(readable.c.client_id)
    zero: ColumnElement[int] = literal_column("0")
    episodes: Select[*tuple[Any, ...]] = (
        sa_select(
            col(Episode.user_id).label("client_id"),
            col(Episode.diary_date).label("day"),
            func.count().label("episodes"),
            func.sum(col(Episode.severity)).label("severity_sum"),
            func.max(col(Episode.severity)).label("max_severity"),
            zero.label("minutes"),
        )
        .where(col(Episode.user_id).in_(clients), col(Episode.deleted_at).is_(None), col(Episode.diary_date) >= since)
        .group_by(col(Episode.user_id), col(Episode.diary_date))
    )
    releases = (
        sa_select(
            col(ReleaseSession.user_id),
            col(ReleaseSession.diary_date),
            zero,
            zero,
            zero,
            func.sum(col(ReleaseSession.duration_minutes)),
        )
        .where(
            col(ReleaseSession.user_id).in_(clients),
            col(ReleaseSession.deleted_at).is_(None),
            col(ReleaseSession.diary_date) >= since,
        )
        .group_by(col(ReleaseSession.user_id), col(ReleaseSession.diary_date))
    )
    checkins = sa_select(col(CheckIn.user_id), col(CheckIn.date), zero, zero, zero, zero).where(
        col(CheckIn.user_id).in_(clients), col(CheckIn.deleted_at).is_(None), col(CheckIn.date) >= since
    )
    return union_all(episodes, releases, checkins).subquery("days")
