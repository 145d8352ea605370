"""One JSON log line and the request metrics per HTTP request, written when its response ends.

The line holds method, path, status, answer mode and timings in milliseconds (total, queue
wait, and each answer stage). The question is left out unless ``log_questions`` is set: what
a technician asks can name people, incidents or sites, and INFO logs travel far.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.metrics import ApiMetrics

access_log = logging.getLogger("maint.api.access")
_SCOPE_KEY = "maint.request"


@dataclass
class RequestNote:
    """What the endpoints tell the log line about a request."""

    mode: str | None = None
    question: str | None = None
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


def note(request: Request) -> RequestNote:
    found = request.scope.get(_SCOPE_KEY)
    if not isinstance(found, RequestNote):
        found = request.scope[_SCOPE_KEY] = RequestNote()
    return found


class RequestObserver:
    """Pure ASGI middleware: it sees the end of streamed responses, which a
    ``BaseHTTPMiddleware`` would not."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, log_questions: bool = False):
        self.app = app
        self.metrics = metrics
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_note = scope[_SCOPE_KEY] = RequestNote()
        started = time.perf_counter()
        status = 500  # unless a response starts
        completed = False

        async def observed_send(message: Message) -> None:
            nonlocal status, completed
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                completed = True
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            mode = request_note.mode or "none"
            self.metrics.observe_request(endpoint, scope["method"], mode, status, seconds)
            fields: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "mode": request_note.mode,
                "ms": round(seconds * 1000, 1),
                **{f"{k}_ms": v for k, v in request_note.timings_ms.items()},
            }
            if request_note.error:
                fields["error"] = request_note.error
            if not completed:
                fields["incomplete"] = True  # the client went away, or the app failed
            if self.log_questions and request_note.question is not None:
                fields["question"] = request_note.question
            access_log.info("request", extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging() -> None:
    """JSON lines on stderr: maint's own records at INFO, everything else from WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("maint").setLevel(logging.INFO)
