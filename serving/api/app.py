"""The HTTP API (``maint serve``): OpenAI-compatible chat, structured queries, health, metrics.

``create_app(settings)`` builds the FastAPI app. Its lifespan opens the stores (starting the
embedded servers, as every maint command does), loads the embedder and the model once, and
builds the ``Answerer`` they serve; the endpoints get those through dependencies
(``serving.api.deps``). Where things live:

- ``chat``: /v1/models, /v1/chat/completions (and the streaming policy);
- ``query``: /v1/query;  ``ops``: /health, /ready, /metrics;
- ``documents``: /v1/documents (upload, list, show, delete), /v1/jobs, /v1/chunks;
  ``uploads``: file names and limits; ``jobs``: background ingestion; ``catalog``: what
  those endpoints read and change;
- ``entities``: /v1/graph/entities;  ``pages``: the chat page (/) and the graph page (/graph);
- ``answer``: the path every question takes; ``queue``: the bounded answer queue;
- ``backends``: stores and models, reconnection; ``auth``: API keys;
- ``observe``: the per-request JSON log line; ``metrics``; ``errors``;
  ``limits``: the request body limit; ``models``: every body on the wire.

No /docs page: Swagger UI would load its scripts from a CDN, which an air-gapped plant cannot
reach; the schema is at /openapi.json.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from maint import __version__
from maint.embed import Embedder, embedder_for
from maint.settings import Settings
from serving.answering.answer import GeneratorPool
from serving.api import chat, documents, entities, ops, pages, query
from serving.api.backends import Backends, connect_only
from serving.api.catalog import Catalog
from serving.api.deps import ServingState
from serving.api.errors import install_error_handlers
from serving.api.jobs import IngestJobs
from serving.api.limits import BodyLimit
from serving.api.metrics import ApiMetrics
from serving.api.observe import RequestObserver
from serving.api.queue import AnswerQueue, CancellablePool

DESCRIPTION = """Grounded answers from the plant's manuals, with citations, graph facts and
a guard that checks every part number and value against the sources.

`POST /v1/chat/completions` is OpenAI-compatible: the model name picks the mode
(`maint-hybrid`, `maint-rag`, `maint-ft`) and the field `maint` carries citations, facts and
the verdict. `POST /v1/query` returns the structured answer. `POST /v1/documents` uploads
manuals for ingestion (follow `GET /v1/jobs/{id}`); `GET /v1/graph/entities` searches the
knowledge graph. With `MAINT_API_KEYS` set, send `Authorization: Bearer KEY`. A browser finds
a chat page at `/` and a graph page at `/graph`."""


def create_app(
    settings: Settings,
    *,
    generators: GeneratorPool | None = None,
    embedder: Embedder | None = None,
) -> FastAPI:
    """The API on these settings. ``generators`` and ``embedder`` let a caller share models
    it has already loaded (tests); by default the app loads its own at start-up."""
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = CancellablePool(generators or GeneratorPool(settings))
        backends = Backends(settings, pool, embedder)
        queue = AnswerQueue(settings.max_queue)
        metrics.watch_queue(lambda: queue.in_flight)
        await run_in_threadpool(backends.start)
        app.state.maint = ServingState(settings, backends, queue, metrics)
        jobs = IngestJobs(connect_only(settings), lambda: _loaded(backends))
        app.state.catalog = Catalog(settings, backends, jobs)
        logging.getLogger("maint.api").info("ready")
        try:
            yield
        finally:
            queue.close()
            jobs.close()
            app.state.catalog.close()
            await run_in_threadpool(backends.close)

    app = FastAPI(
        title="maint",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    upload_limit = int(settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_request_kb * 1024,
        paths={
            "/v1/documents": (
                upload_limit,
                f"upload over {settings.max_upload_mb:g} MB in all (MAINT_MAX_UPLOAD_MB): "
                "send the files in several requests",
            )
        },
    )
    # Added last, so outermost: it also logs and counts what the inner layers refuse.
    app.add_middleware(RequestObserver, metrics=metrics, log_questions=settings.log_questions)
    install_error_handlers(app)
    for module in (chat, query, ops, documents, entities, pages):
        app.include_router(module.router)
    pages.mount_static(app)
    return app


def _loaded(backends: Backends) -> Embedder:
    """The embedder loaded at start-up, or loaded now if start-up could not."""
    if backends.embedder is None:
        backends.embedder = embedder_for(backends.settings, lazy=False)
    return backends.embedder
