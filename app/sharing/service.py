"""Consent use cases: share codes, links, revocation and the access log."""

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.db import utcnow
from app.core.errors import NotFound, TooManyRequests
from app.core.pagination import PageRequest, Position, encode_cursor
from app.sharing import repository
from app.sharing.models import AccessLogEntry, ShareCode, TherapistLink
from app.sharing.schemas import (
    CODE_ALPHABET,
    CODE_LENGTH,
    AccessAction,
    ClientInfo,
    LinkPublic,
    ShareCodePublic,
    TherapistInfo,
    TherapistLinkPublic,
)
from app.users.models import User

CODE_LIFETIME = timedelta(days=7)
CODES_PER_WINDOW, CODE_WINDOW = 10, timedelta(hours=1)
FAILURES_PER_WINDOW, FAILURE_WINDOW = 10, timedelta(minutes=15)


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").encode()).hexdigest()


def _new_code() -> str:
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(symbols[index : index + 4] for index in range(0, CODE_LENGTH, 4))


def _refuse_over(limit: int, window: timedelta, recent: list[datetime], now: datetime, detail: str) -> None:
    """`recent` oldest first; once the oldest leaves the window, one more is allowed."""
    if len(recent) >= limit:
        retry_after = recent[-limit] + window - now
        raise TooManyRequests(detail, retry_after_seconds=int(retry_after.total_seconds()) + 1)


def make_code(session: Session, client: User) -> ShareCodePublic:
    now = utcnow()
    recent = repository.codes_made_since(session, client.id, now - CODE_WINDOW)
    _refuse_over(CODES_PER_WINDOW, CODE_WINDOW, recent, now, "Too many share codes made; try again later.")
    code = _new_code()
    expires_at = now + CODE_LIFETIME
    repository.add_code(
        session, ShareCode(client_id=client.id, code_digest=_digest(code), created_at=now, expires_at=expires_at)
    )
    session.commit()
    return ShareCodePublic(code=code, expires_at=expires_at)


def redeem(session: Session, therapist: User, code: str) -> tuple[TherapistLinkPublic, bool]:
    """Links the code's client to the therapist. Returns the link and whether it is new; a
    therapist already linked to that client gets the existing link (and the code is used up)."""
    now = utcnow()
    recent = repository.failures_since(session, therapist.id, now - FAILURE_WINDOW)
    _refuse_over(FAILURES_PER_WINDOW, FAILURE_WINDOW, recent, now, "Too many failed codes; try again later.")
    stored = repository.find_code(session, _digest(code))
    if stored is None or not repository.use_code(session, stored.id, now):
        repository.add_failure(session, therapist.id, now)
        session.commit()
        raise NotFound("No such code, or it was used or has expired.")
    link, is_new = _link(session, stored.client_id, therapist.id, now)
    if is_new:
        record_access(session, therapist, [stored.client_id], "link_created", "link", now)
    session.commit()
    client = session.get(User, stored.client_id)
    assert client is not None  # the code's foreign key cascades with the client
    return _therapist_view(link, client), is_new


def _link(session: Session, client_id: uuid.UUID, therapist_id: uuid.UUID, now: datetime) -> tuple[TherapistLink, bool]:
    existing = repository.active_link(session, client_id, therapist_id)
    if existing is not None:
        return existing, False
    link = TherapistLink(client_id=client_id, therapist_id=therapist_id, created_at=now)
    try:
        with session.begin_nested():
            repository.add_link(session, link)
    except IntegrityError:
        # Two codes of one client redeemed by one therapist at once: the other request linked them.
        existing = repository.active_link(session, client_id, therapist_id)
        if existing is None:
            raise
        return existing, False
    return link, True


def links(session: Session, client: User) -> list[LinkPublic]:
    return [_client_view(link, therapist) for link, therapist in repository.client_links(session, client.id)]


def revoke(session: Session, client: User, link_id: uuid.UUID) -> None:
    """Idempotent: revoking a revoked link changes nothing."""
    link = repository.client_link(session, client.id, link_id, lock=True)
    if link is None:
        raise NotFound("No such link.")
    if link.revoked_at is not None:
        return
    now = utcnow()
    link.revoked_at = now
    session.add(link)
    therapist = session.get(User, link.therapist_id)
    assert therapist is not None  # the link's foreign key cascades with the therapist
    record_access(session, therapist, [client.id], "link_revoked", "link", now)
    session.commit()


def record_access(
    session: Session,
    therapist: User,
    client_ids: Iterable[uuid.UUID],
    action: AccessAction,
    resource: str,
    at: datetime | None = None,
) -> None:
    """Adds entries to the clients' access logs; the caller's commit writes them with its use case."""
    at = at or utcnow()
    name = therapist.display_name or therapist.email
    entries = [
        {
            "id": uuid.uuid4(),
            "client_id": client_id,
            "therapist_id": therapist.id,
            "therapist_name": name,
            "action": action,
            "resource": resource,
            "at": at,
        }
        for client_id in client_ids
    ]
    repository.log_access(session, entries)


def access_log(session: Session, client: User, page: PageRequest) -> tuple[list[AccessLogEntry], str | None]:
    entries = repository.access_log_page(session, client.id, page)
    if len(entries) <= page.limit:
        return entries, None
    entries = entries[: page.limit]
    return entries, encode_cursor(Position(at=entries[-1].at, id=entries[-1].id))


def _client_view(link: TherapistLink, therapist: User) -> LinkPublic:
    return LinkPublic(
        id=link.id,
        therapist=TherapistInfo(id=therapist.id, display_name=therapist.display_name, email=therapist.email),
        status="active" if link.revoked_at is None else "revoked",
        created_at=link.created_at,
        revoked_at=link.revoked_at,
    )


def _therapist_view(link: TherapistLink, client: User) -> TherapistLinkPublic:
    return TherapistLinkPublic(
        id=link.id,
        client=ClientInfo(id=client.id, display_name=client.display_name),
        status="active" if link.revoked_at is None else "revoked",
        created_at=link.created_at,
    )


def log_read(session: Session, therapist: User, client_ids: Iterable[uuid.UUID], resource: str) -> None:
    """Ends a therapist's successful read: the access log entries are its only write."""
    record_access(session, therapist, client_ids, "read", resource)
    session.commit()


def log_export(session: Session, therapist: User, client_id: uuid.UUID, resource: str) -> None:
    """Ends a therapist's successful export; called by the stream once every row was read."""
    record_access(session, therapist, [client_id], "export", resource)
    session.commit()
