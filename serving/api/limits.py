"""The request body limit (``MAX_REQUEST_KB``), answered in the API's error shape.

FastAPI's own ``max_body_size`` answers 413 in plain text; this one gives the same
``{"error": ...}`` body as every other error. A body announced too large by Content-Length is
refused before it is read; a chunked one as soon as the bytes read pass the limit.

Uploads of manuals (``POST /v1/documents``) are megabytes where a question is kilobytes, so
paths may have a larger limit of their own (``MAX_UPLOAD_MB`` there); every other request
keeps the small one.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.errors import error_response
from serving.api.models import ErrorDetail


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int, paths: dict[str, tuple[int, str]] | None = None
    ):
        """``paths``: exact request paths with their own (max bytes, message)."""
        self.app = app
        self.default = (
            max_bytes,
            f"request body over {max_bytes // 1024} KB (MAINT_MAX_REQUEST_KB)",
        )
        self.paths = paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, refusal = self.paths.get(scope["path"].rstrip("/") or "/", self.default)
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            detail = ErrorDetail(
                message=refusal, type="invalid_request_error", code="request_too_large"
            )
            await error_response(413, detail)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:  # the error handlers render it
                    raise HTTPException(413, refusal)
            return message

        await self.app(scope, limited_receive, send)
