"""The AppError hierarchy and the single handler that renders every error as RFC 9457 problem+json."""

import re
from http import HTTPStatus
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}
        # Extra members of the problem document (412 carries the current record).
        self.body = body or {}


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Not authenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(AppError):
    status, slug, title = 412, "precondition-failed", "The record has changed"


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Gone(AppError):
    status, slug, title = 410, "gone", "Gone"


class Unprocessable(AppError):
    """A value rule that the schema cannot express (e.g. it depends on the stored record)."""

    status, slug, title = 422, "validation-error", "Invalid request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.errors = [FieldError(field=field, message=message)]


class TooManyRequests(AppError):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_seconds))})


class ServiceUnavailable(AppError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


def problem_document(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    content: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or title or phrase,
    }
    if errors is not None:
        content["errors"] = [e.model_dump() for e in errors]
    if extra:
        content.update(extra)
    return content


def problem_response(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    content = problem_document(status, slug=slug, title=title, detail=detail, errors=errors, extra=extra)
    return JSONResponse(content, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def app_error_document(exc: AppError) -> dict[str, Any]:
    """The problem document an AppError renders as, for answers that embed one (sync batches)."""
    return problem_document(
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=getattr(exc, "errors", None),
        extra=exc.body,
    )


def validation_document(raw: list[Any], prefix: str = "") -> dict[str, Any]:
    """The 422 problem document of pydantic errors; `prefix` names where the validated value sits."""
    errors = [
        FieldError(
            field=prefix + _field_path(("body", *e["loc"])) if e["loc"] else prefix.rstrip(".") or "body",
            message=_validation_message(e),
        )
        for e in raw
    ]
    return problem_document(
        422,
        slug="validation-error",
        title="Invalid request",
        detail="; ".join(f"{e.field}: {e.message}" for e in errors),
        errors=errors,
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "relief", 2) -> "relief[2]"; query and path parameters keep their name.
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path", "header"} else list(loc)
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or str(loc[0] if loc else "body")


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "Invalid value"))
    return message.removeprefix("Value error, ")


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem_response(
            400, slug="malformed-json", title="Malformed JSON", detail="The body is not valid JSON."
        )
    errors = [FieldError(field=_field_path(tuple(e["loc"])), message=_validation_message(e)) for e in raw]
    return problem_response(
        422,
        slug="validation-error",
        title="Invalid request",
        detail="; ".join(f"{e.field}: {e.message}" for e in errors),
        errors=errors,
    )


async def _on_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=getattr(exc, "errors", None),
        headers=exc.headers,
        extra=exc.body,
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path answers. Starlette's own Allow names only the first route matching the
    path (each method is its own route here), so the paths of the app's OpenAPI document decide."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), {method.upper() for method in operations})
            for path, operations in request.app.openapi()["paths"].items()
        ]
        request.app.state.allowed_methods = table
    methods: set[str] = set()
    for pattern, verbs in table:
        if pattern.match(request.url.path):
            methods |= verbs
    return sorted(methods)


async def _on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database is unreachable or busy past every timeout: the request may succeed later.
    return problem_response(
        503,
        slug="service-unavailable",
        title="Service unavailable",
        detail="The database is not answering; try again shortly.",
        headers={"Retry-After": "5"},
    )


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(500, detail="An unexpected error occurred.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(AppError, _on_app_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(sqlalchemy.exc.OperationalError, _on_database_unavailable)
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unexpected_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem statuses a route can return."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
