from typing import Annotated

from fastapi import Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import service
from app.auth.dependencies import CurrentUser, SettingsDep
from app.auth.schemas import RefreshRequest, TokenPair
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.routing import Router
from app.users import service as users
from app.users.schemas import UserPublic, UserRegister

public_router = Router(prefix="/auth", tags=["auth"])
router = Router(prefix="/auth", tags=["auth"])


@public_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=problem_responses(400, 409, 413, 422),
)
def register(payload: UserRegister, session: SessionDep, settings: SettingsDep) -> UserPublic:
    return UserPublic.model_validate(users.register(session, settings, payload))


@public_router.post("/token", response_model=TokenPair, responses=problem_responses(400, 401, 413, 422, 429))
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """OAuth2 password flow: `username` is the email. 10 failed attempts for one email within
    15 minutes answer 429 with `Retry-After`."""
    return service.login(session, settings, form.username, form.password)


@public_router.post("/refresh", response_model=TokenPair, responses=problem_responses(400, 401, 413, 422))
def refresh(payload: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Rotates the refresh token. Presenting a used one again ends every token of that login."""
    return service.refresh(session, settings, payload.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(400, 401, 413, 422))
def logout(payload: RefreshRequest, user: CurrentUser, session: SessionDep) -> Response:
    service.logout(session, user, payload.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
