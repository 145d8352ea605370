"""The browser pages: ``/`` (chat for technicians) and ``/graph`` (a part's or equipment's
neighbourhood), plain HTML, CSS and JavaScript from ``serving/api/static`` (no build step).

The plant is air-gapped, so nothing is loaded from elsewhere, and the Content-Security-Policy
says so: a browser refuses any script, style, image or connection that is not this server's.
The pages hold no data and need no key; the API calls they make do, and the pages ask for
the key when the server answers 401 (kept in the browser's localStorage).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=_HEADERS)


@router.get("/")
def chat_page() -> FileResponse:
    return _page("index.html")


@router.get("/graph")
def graph_page() -> FileResponse:
    return _page("graph.html")


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
