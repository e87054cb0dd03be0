import uuid

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.users.models import User


def get_by_id(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def get_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def bump_token_version(session: Session, user_id: uuid.UUID) -> None:
    session.execute(update(User).where(col(User.id) == user_id).values(token_version=User.token_version + 1))


def delete_user(session: Session, user_id: uuid.UUID) -> None:
    """Every table that holds a user's data references users.id with ON DELETE CASCADE."""
    session.execute(delete(User).where(col(User.id) == user_id))
