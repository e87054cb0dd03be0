"""Who is calling: the one place a bearer token becomes a User."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.security import InvalidToken, decode_access_token
from app.users import repository as users
from app.users.models import User

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# The dependencies below that do no I/O are `async def`: FastAPI runs plain `def` dependencies in
# the thread pool, and each hop there costs more than the work itself.
async def get_settings_from_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]


def current_user(session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(bearer)]) -> User:
    if not token:
        raise Unauthorized("Missing bearer token.")
    try:
        claims = decode_access_token(settings, token)
    except InvalidToken:
        raise Unauthorized("Invalid or expired token.") from None
    # The account is read on every request, so a deleted account, a changed password (token
    # version) or a changed role takes effect at once rather than when the token expires.
    user = users.get_by_id(session, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise Unauthorized("Invalid or expired token.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def current_client(user: CurrentUser) -> User:
    if user.role != "client":
        raise Forbidden("This endpoint is for clients.")
    return user


CurrentClient = Annotated[User, Depends(current_client)]


async def current_therapist(user: CurrentUser) -> User:
    if user.role != "therapist":
        raise Forbidden("This endpoint is for therapists.")
    return user


CurrentTherapist = Annotated[User, Depends(current_therapist)]
