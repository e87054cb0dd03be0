"""Passwords, access tokens and opaque secrets. The only module that imports jose or pwdlib."""

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from jose import jwt
from jose.exceptions import JOSEError
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import Settings

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
_REQUIRED_CLAIMS = ("exp", "iat", "sub", "jti")


class InvalidToken(Exception):
    """Any reason a bearer token is not acceptable; always rendered as the same 401."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    token_version: int
    expires_at: int


@lru_cache
def _password_hasher(time_cost: int, memory_kib: int) -> PasswordHash:
    return PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))


@lru_cache
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _password_hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._cost = (settings.argon2_time_cost, settings.argon2_memory_kib)

    def hash(self, password: str) -> str:
        return _password_hasher(*self._cost).hash(password)

    def verify(self, password: str, stored_hash: str | None) -> bool:
        """Verifies against a dummy hash when there is no account, so timing reveals nothing."""
        hasher = _password_hasher(*self._cost)
        if stored_hash is None:
            hasher.verify(password, _dummy_hash(*self._cost))
            return False
        try:
            return hasher.verify(password, stored_hash)
        except Exception:  # a corrupt stored hash must read as a wrong password, not a 500
            return False


def create_access_token(settings: Settings, user_id: uuid.UUID, token_version: int, now: datetime) -> tuple[str, int]:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": ACCESS_TOKEN_TYPE,
        "ver": token_version,
    }
    token = jwt.encode(claims, settings.signing_key(), algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    claims = _verified_claims(settings.signing_key(), token)
    # A cached verification holds only until the token's own expiry, checked here on every use.
    if claims.expires_at <= time.time():
        raise InvalidToken()
    return claims


# Verifying a signature and parsing the claims costs about as much as the rest of a small request;
# an app sees the same few tokens over and over. Keyed by the whole token (a forged or altered one
# is a different key) and the signing key. Only successes are cached: exceptions are not. What can
# change while a token is valid (password, role, deletion) is read from the database on each
# request anyway (app.auth.dependencies.current_user).
@lru_cache(maxsize=4096)
def _verified_claims(signing_key: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            options={f"require_{claim}": True for claim in _REQUIRED_CLAIMS},
        )
    except (JOSEError, ValueError, TypeError, KeyError, UnicodeError) as exc:
        # jose raises several JOSEError subclasses (and the odd ValueError on garbage input);
        # each of them means the same thing to the caller.
        raise InvalidToken() from exc
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken()
    version, subject, expires = claims.get("ver"), claims.get("sub"), claims.get("exp")
    if not isinstance(version, int) or not isinstance(subject, str) or not isinstance(expires, int):
        raise InvalidToken()
    try:
        user_id = uuid.UUID(subject)
    except ValueError as exc:
        raise InvalidToken() from exc
    return AccessClaims(user_id=user_id, token_version=version, expires_at=expires)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """A stable hash for looking up secrets (refresh tokens, share codes) without storing them."""
    return hashlib.sha256(value.encode()).hexdigest()


def sign(settings: Settings, purpose: str, message: str) -> str:
    """A URL-safe HMAC-SHA256 tag (128 bits) of `message` under the app's key, bound to `purpose`
    so a tag made for one kind of value is never accepted for another."""
    key = hashlib.sha256(f"{purpose}:{settings.signing_key()}".encode()).digest()
    tag = hmac.new(key, message.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode()


def verify(settings: Settings, purpose: str, message: str, tag: str) -> bool:
    return hmac.compare_digest(sign(settings, purpose, message), tag)
