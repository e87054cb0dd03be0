"""The factor catalogue, exposures over date ranges, and daily check-ins."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.changes import stamp as stamp_change
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from app.core.pagination import PageRequest
from app.core.records import DateWindow, RecordService, content_digest, etag, matches
from app.factors import repository
from app.factors.catalogue import BUILTIN_FACTORS
from app.factors.models import CheckIn, CustomFactor, Exposure
from app.factors.schemas import (
    CheckInPublic,
    CheckInPut,
    ExposureCreate,
    ExposurePublic,
    ExposureUpdate,
    FactorCreate,
    FactorPublic,
)

# --- catalogue -----------------------------------------------------------------------------------


def catalogue(session: Session, owner_id: uuid.UUID) -> list[FactorPublic]:
    builtin = [
        FactorPublic(key=key, label=label, category=category, builtin=True)
        for key, (label, category) in BUILTIN_FACTORS.items()
    ]
    custom = [
        FactorPublic(key=f.key, label=f.label, category=f.category, builtin=False)
        for f in sorted(repository.custom_factors(session, owner_id), key=lambda f: f.key)
    ]
    return builtin + custom


def catalogue_keys(session: Session, owner_id: uuid.UUID) -> set[str]:
    return set(BUILTIN_FACTORS) | {f.key for f in repository.custom_factors(session, owner_id)}


def add_factor(session: Session, owner_id: uuid.UUID, payload: FactorCreate) -> FactorPublic:
    if payload.key in catalogue_keys(session, owner_id):
        raise Conflict("This key is already in your catalogue.")
    now = utcnow()
    factor = CustomFactor(
        user_id=owner_id,
        key=payload.key,
        label=payload.label,
        category=payload.category,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            repository.add_custom_factor(session, factor)
    except IntegrityError:
        raise Conflict("This key is already in your catalogue.") from None
    stamp_change(session, owner_id, factor)
    session.commit()
    return FactorPublic(key=factor.key, label=factor.label, category=payload.category, builtin=False)


def add_or_replay_factor(session: Session, owner_id: uuid.UUID, payload: FactorCreate) -> tuple[FactorPublic, bool]:
    """For the sync batch: the same factor sent again (a replayed queue) is answered with the stored
    one (False: not new) instead of 409; a different factor under a taken key is still 409."""
    stored = repository.custom_factor(session, owner_id, payload.key)
    if stored is not None and (stored.label, stored.category) == (payload.label, payload.category):
        return public_factor(stored), False
    return add_factor(session, owner_id, payload), True


def public_factor(factor: CustomFactor) -> FactorPublic:
    return FactorPublic.model_validate(
        {"key": factor.key, "label": factor.label, "category": factor.category, "builtin": False}
    )


def _require_in_catalogue(session: Session, owner_id: uuid.UUID, keys: list[str], field: str) -> None:
    require_known(catalogue_keys(session, owner_id), keys, field)


def require_known(known: set[str], keys: list[str], field: str) -> None:
    """Every key must be in the catalogue `known` (the caller's `catalogue_keys`)."""
    for index, key in enumerate(keys):
        if key not in known:
            path = f"{field}[{index}]" if field == "factors" else field
            raise Unprocessable(path, f"'{key}' is not in your factor catalogue")


# --- exposures -----------------------------------------------------------------------------------


def _check_range(exposure: Exposure) -> None:
    if exposure.end_date is not None and exposure.end_date < exposure.start_date:
        raise Unprocessable("end_date", "must not be before start_date")


def _render_exposure(exposure: Exposure) -> dict[str, Any]:
    return ExposurePublic.model_validate(exposure).model_dump(mode="json")


exposure_records = RecordService(
    repository.exposures, time_attribute="start_date", derive=_check_range, render=_render_exposure
)


def create_exposure(session: Session, owner_id: uuid.UUID, payload: ExposureCreate) -> tuple[Exposure, bool]:
    _require_in_catalogue(session, owner_id, [payload.factor], "factor")
    return exposure_records.create(session, owner_id, payload.id, payload.model_dump(exclude={"id"}))


def get_exposure(session: Session, owner_id: uuid.UUID, exposure_id: uuid.UUID) -> Exposure:
    return exposure_records.get(session, owner_id, exposure_id)


def list_exposures(
    session: Session, owner_id: uuid.UUID, page: PageRequest, factor: str | None, active_on: dt.date | None
) -> tuple[list[RowMapping], str | None]:
    return exposure_records.list(session, owner_id, page, repository.exposure_filters(factor, active_on))


def update_exposure(
    session: Session, owner_id: uuid.UUID, exposure_id: uuid.UUID, payload: ExposureUpdate, if_match: str | None
) -> Exposure:
    changes = payload.model_dump(exclude_unset=True)
    if "factor" in changes:
        _require_in_catalogue(session, owner_id, [changes["factor"]], "factor")
    return exposure_records.update(session, owner_id, exposure_id, changes, if_match)


def delete_exposure(session: Session, owner_id: uuid.UUID, exposure_id: uuid.UUID, if_match: str | None) -> None:
    exposure_records.delete(session, owner_id, exposure_id, if_match)


# --- check-ins -----------------------------------------------------------------------------------


def _render_checkin(checkin: CheckIn) -> dict[str, Any]:
    return CheckInPublic.model_validate(checkin).model_dump(mode="json")


checkin_records = RecordService(
    repository.checkins, time_attribute="date", derive=lambda _: None, render=_render_checkin
)


def put_checkin(
    session: Session, owner_id: uuid.UUID, day: dt.date, payload: CheckInPut, if_match: str | None
) -> tuple[CheckIn, bool]:
    """Replaces the day's check-in; True when the day had none (201)."""
    require_checkin_day(day)
    _require_in_catalogue(session, owner_id, payload.factors, "factors")
    existing = repository.checkin_on(session, owner_id, day, lock=True)
    live = existing if existing is not None and existing.deleted_at is None else None
    if if_match is not None and (live is None or not matches(if_match, live.version)):
        raise PreconditionFailed(
            "The check-in has changed." if live else "There is no check-in for this day.",
            headers={"ETag": etag(live.version)} if live else {},
            body={"record": _render_checkin(live) if live else None},
        )
    now = utcnow()
    fields = payload.model_dump()
    if live is not None and (live.factors, live.notes) == (fields["factors"], fields["notes"]):
        return live, False  # the same check-in again (a replay): nothing changes, not even the version
    if existing is None:
        checkin = CheckIn(
            **fields, user_id=owner_id, date=day, create_digest=content_digest(fields), created_at=now, updated_at=now
        )
        try:
            with session.begin_nested():
                session.add(checkin)
            stamp_change(session, owner_id, checkin)
            session.commit()
            return checkin, True
        except IntegrityError:  # another request created the day's check-in first: replace it
            existing = repository.checkin_on(session, owner_id, day, lock=True)
            if existing is None:
                raise
    is_new = existing.deleted_at is not None
    existing.factors, existing.notes = fields["factors"], fields["notes"]
    existing.deleted_at = None
    existing.version += 1
    existing.updated_at = now
    if is_new:
        existing.created_at = now
    stamp_change(session, owner_id, existing)
    session.commit()
    return existing, is_new


def require_checkin_day(day: dt.date) -> None:
    if day > utcnow().date() + dt.timedelta(days=1):  # a day ahead of UTC is still today somewhere
        raise Unprocessable("date", "must not be in the future")


def get_checkin(session: Session, owner_id: uuid.UUID, day: dt.date) -> CheckIn:
    checkin = repository.checkin_on(session, owner_id, day)
    if checkin is None or checkin.deleted_at is not None:
        raise NotFound("No check-in for this day.")
    return checkin


def list_checkins(
    session: Session, owner_id: uuid.UUID, window: DateWindow, page: PageRequest
) -> tuple[list[RowMapping], str | None]:
    return checkin_records.list(session, owner_id, page, window.conditions(col(CheckIn.date)))


def delete_checkin(session: Session, owner_id: uuid.UUID, day: dt.date, if_match: str | None) -> None:
    checkin_records.delete(session, owner_id, get_checkin(session, owner_id, day).id, if_match)
