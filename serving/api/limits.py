"""The request body limit (``MAX_REQUEST_KB``), answered in the API's error shape.

FastAPI's own ``max_body_size`` answers 413 in plain text; this one gives the same
``{"error": ...}`` body as every other error. A body announced too large by Content-Length is
refused before it is read; a chunked one as soon as the bytes read pass the limit.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.errors import error_response
from serving.api.models import ErrorDetail


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.message = f"request body over {max_bytes // 1024} KB (MAINT_MAX_REQUEST_KB)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            detail = ErrorDetail(
                message=self.message, type="invalid_request_error", code="request_too_large"
            )
            await error_response(413, detail)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # the error handlers render it
                    raise HTTPException(413, self.message)
            return message

        await self.app(scope, limited_receive, send)
