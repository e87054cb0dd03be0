from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from app.core.types import InputModel, Text


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token kind, not a secret
    expires_in: int


class RefreshRequest(InputModel):
    refresh_token: Annotated[Text, StringConstraints(min_length=1, max_length=256)]
