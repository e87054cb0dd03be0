import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from app.core.types import InputModel, JsonSchemaExtra, Text, TimeZoneName, not_null, refuse_null

Role = Literal["client", "therapist"]

# Deliberately loose (local@domain, no spaces): the address is an identifier here, never mailed.
# The schema states the same pattern, so clients and generated tests agree with the server.
# An explicit class, because `\s` means different characters in different regex engines.
EMAIL_PATTERN = r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    # One account per mailbox, whatever the capitalisation it was typed with.
    return value.lower()


Email = Annotated[
    str,
    StringConstraints(strict=True, min_length=3, max_length=254),
    AfterValidator(_email),
    JsonSchemaExtra(pattern=EMAIL_PATTERN),
]
Password = Annotated[Text, StringConstraints(min_length=8, max_length=128)]
AnyPassword = Annotated[Text, StringConstraints(max_length=128)]
DisplayName = Annotated[Text, StringConstraints(max_length=100)]


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    role: Role
    timezone: str
    created_at: datetime


class UserRegister(InputModel):
    email: Email
    password: Password
    display_name: DisplayName | None = None
    role: Role = "client"
    timezone: TimeZoneName = "UTC"


class UserUpdate(InputModel):
    display_name: DisplayName | None = None
    timezone: TimeZoneName = not_null()

    _no_nulls = refuse_null("timezone")


class PasswordChange(InputModel):
    current_password: AnyPassword
    new_password: Password


class AccountDeletion(InputModel):
    password: AnyPassword
