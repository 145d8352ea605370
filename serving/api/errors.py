"""Every error the API returns has OpenAI's shape, ``{"error": {message, type, code}}``, so
OpenAI clients raise their usual exceptions with our message in them."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from maint.errors import MaintError
from serving.api.models import ErrorDetail, ErrorResponse
from serving.api.observe import note

logger = logging.getLogger("maint.api")

_TYPES = {401: "authentication_error", 404: "invalid_request_error", 503: "service_unavailable"}


class ApiError(MaintError):
    """An error meant for the client: status, message and a stable code."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        type: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(
            message=message,
            type=type or _TYPES.get(status, "invalid_request_error"),
            code=code,
            param=param,
        )
        self.headers = headers


def error_response(
    status: int, detail: ErrorDetail, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    note(request).error = exc.detail.code
    return error_response(exc.status, exc.detail, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
    detail = ErrorDetail(
        message=str(exc.detail),
        type=_TYPES.get(exc.status_code, "invalid_request_error"),
        code=codes.get(exc.status_code, f"http_{exc.status_code}"),
    )
    return error_response(exc.status_code, detail, getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Where and what, never the input itself (it may be a whole pasted manual).
    parts = [
        f"{'.'.join(str(x) for x in err.get('loc', ()) if x != 'body') or 'body'}: {err['msg']}"
        for err in exc.errors()
    ]
    first = exc.errors()[0].get("loc", ()) if exc.errors() else ()
    detail = ErrorDetail(
        message="invalid request: " + "; ".join(parts),
        type="invalid_request_error",
        code="invalid_request",
        param=".".join(str(x) for x in first if x != "body") or None,
    )
    return error_response(422, detail)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    detail = ErrorDetail(
        message="internal error; the server log has the details",
        type="server_error",
        code="internal_error",
    )
    return error_response(500, detail)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI entries for the error statuses a route may answer with."""
    return {status: {"model": ErrorResponse} for status in statuses}
