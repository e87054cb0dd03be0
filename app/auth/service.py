"""Login, refresh-token rotation and logout. Each public function is one use case with one commit."""

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from app.auth import repository
from app.auth.models import RefreshToken
from app.auth.schemas import TokenPair
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import TooManyRequests, Unauthorized
from app.core.security import PasswordHasher, create_access_token, digest, new_opaque_token
from app.users import repository as users
from app.users.models import User

INVALID_LOGIN = "Incorrect email or password."
INVALID_REFRESH = "The refresh token is not valid."


def login(session: Session, settings: Settings, email: str, password: str) -> TokenPair:
    now = utcnow()
    email_key = digest(email.strip().lower())
    _refuse_when_throttled(session, settings, email_key, now)
    user = users.get_by_email(session, email.strip().lower())
    if not PasswordHasher(settings).verify(password, user.password_hash if user else None) or user is None:
        window_start = now - timedelta(minutes=settings.login_window_minutes)
        repository.purge_failures(session, before=window_start)
        repository.add_failure(session, email_key, now)
        session.commit()
        raise Unauthorized(INVALID_LOGIN)
    repository.clear_failures(session, email_key)
    pair = _issue_pair(session, settings, user, family_id=uuid.uuid4(), now=now)
    session.commit()
    return pair


def _refuse_when_throttled(session: Session, settings: Settings, email_key: str, now: datetime) -> None:
    window = timedelta(minutes=settings.login_window_minutes)
    failures = repository.recent_failures(session, email_key, now - window, settings.login_max_failures)
    if len(failures) >= settings.login_max_failures:
        # The oldest of the last N failures leaves the window first; then one more try is allowed.
        retry_after = failures[-1] + window - now
        raise TooManyRequests(
            "Too many failed logins for this account; try again later.",
            retry_after_seconds=int(retry_after.total_seconds()) + 1,
        )


def refresh(session: Session, settings: Settings, token: str) -> TokenPair:
    now = utcnow()
    stored = repository.get_refresh_token(session, digest(token))
    if stored is None or stored.revoked_at is not None:
        raise Unauthorized(INVALID_REFRESH)
    if stored.used_at is not None or not repository.mark_used(session, stored.id, now):
        # A used token presented again: someone else may hold a copy. End the whole login.
        repository.revoke_family(session, stored.family_id, now)
        session.commit()
        raise Unauthorized(INVALID_REFRESH)
    user = users.get_by_id(session, stored.user_id)
    if user is None or stored.expires_at <= now or stored.token_version != user.token_version:
        session.rollback()
        raise Unauthorized(INVALID_REFRESH)
    pair = _issue_pair(session, settings, user, family_id=stored.family_id, now=now)
    session.commit()
    return pair


def logout(session: Session, user: User, token: str) -> None:
    repository.revoke_token(session, digest(token), user.id, utcnow())
    session.commit()


def _issue_pair(session: Session, settings: Settings, user: User, family_id: uuid.UUID, now: datetime) -> TokenPair:
    access, expires_in = create_access_token(settings, user.id, user.token_version, now)
    refresh_token = new_opaque_token()
    repository.add_refresh_token(
        session,
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_digest=digest(refresh_token),
            token_version=user.token_version,
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        ),
    )
    return TokenPair(access_token=access, refresh_token=refresh_token, expires_in=expires_in)
