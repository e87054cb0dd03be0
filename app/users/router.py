from fastapi import Response, status

from app.auth.dependencies import CurrentUser, SettingsDep
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.routing import Router
from app.users import service
from app.users.schemas import AccountDeletion, PasswordChange, UserPublic, UserUpdate

router = Router(prefix="/users/me", tags=["users"])

BODY_ERRORS = (400, 401, 413, 422)


@router.get("", response_model=UserPublic, responses=problem_responses(401))
def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch("", response_model=UserPublic, responses=problem_responses(*BODY_ERRORS))
def update_me(payload: UserUpdate, user: CurrentUser, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(service.update_profile(session, user, payload))


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(*BODY_ERRORS))
def change_password(payload: PasswordChange, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    """Every access and refresh token issued before stops working."""
    service.change_password(session, settings, user, payload.current_password, payload.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/delete", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(*BODY_ERRORS))
def delete_me(payload: AccountDeletion, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    """Erases the account and all of its data."""
    service.delete_account(session, settings, user, payload.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
