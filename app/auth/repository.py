import uuid
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.auth.models import LoginFailure, RefreshToken


def add_refresh_token(session: Session, token: RefreshToken) -> None:
    session.add(token)


def get_refresh_token(session: Session, token_digest: str) -> RefreshToken | None:
    return session.exec(select(RefreshToken).where(RefreshToken.token_digest == token_digest)).first()


def mark_used(session: Session, token_id: uuid.UUID, now: datetime) -> bool:
    """Conditional update, so two concurrent refreshes with one token cannot both succeed."""
    result = session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.id) == token_id, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_family(session: Session, family_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def revoke_token(session: Session, token_digest: str, user_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.token_digest) == token_digest,
            col(RefreshToken.user_id) == user_id,
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )


def revoke_all_for_user(session: Session, user_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def recent_failures(session: Session, email_digest: str, since: datetime, limit: int) -> list[datetime]:
    """The newest `limit` failures since `since`, newest first."""
    statement = (
        select(LoginFailure.failed_at)
        .where(LoginFailure.email_digest == email_digest, col(LoginFailure.failed_at) > since)
        .order_by(col(LoginFailure.failed_at).desc())
        .limit(limit)
    )
    return list(session.exec(statement).all())


def add_failure(session: Session, email_digest: str, now: datetime) -> None:
    session.add(LoginFailure(email_digest=email_digest, failed_at=now))


def clear_failures(session: Session, email_digest: str) -> None:
    session.execute(delete(LoginFailure).where(col(LoginFailure.email_digest) == email_digest))


def purge_failures(session: Session, before: datetime) -> None:
    session.execute(delete(LoginFailure).where(col(LoginFailure.failed_at) <= before))
