"""Account use cases; each ends in one commit."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.auth import repository as tokens
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, Unauthorized
from app.core.security import PasswordHasher
from app.users import repository
from app.users.models import User
from app.users.schemas import UserRegister, UserUpdate

EMAIL_TAKEN = "An account with this email already exists."


def register(session: Session, settings: Settings, payload: UserRegister) -> User:
    if repository.get_by_email(session, payload.email) is not None:
        raise Conflict(EMAIL_TAKEN)
    user = User(
        email=payload.email,
        password_hash=PasswordHasher(settings).hash(payload.password),
        display_name=payload.display_name,
        role=payload.role,
        timezone=payload.timezone,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # two registrations of one email at once
        session.rollback()
        raise Conflict(EMAIL_TAKEN) from None
    return user


def update_profile(session: Session, user: User, payload: UserUpdate) -> User:
    for name, value in payload.model_dump(exclude_unset=True).items():
        setattr(user, name, value)
    session.add(user)
    session.commit()
    return user


def change_password(session: Session, settings: Settings, user: User, current: str, new: str) -> None:
    hasher = PasswordHasher(settings)
    if not hasher.verify(current, user.password_hash):
        raise Unauthorized("The current password is wrong.")
    user.password_hash = hasher.hash(new)
    session.add(user)
    repository.bump_token_version(session, user.id)
    tokens.revoke_all_for_user(session, user.id, utcnow())
    session.commit()


def delete_account(session: Session, settings: Settings, user: User, password: str) -> None:
    if not PasswordHasher(settings).verify(password, user.password_hash):
        raise Unauthorized("The password is wrong.")
    repository.delete_user(session, user.id)
    session.commit()
