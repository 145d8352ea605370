"""The HTTP API (``maint serve``): OpenAI-compatible chat, structured queries, health, metrics.

``create_app(settings)`` builds the FastAPI app. Its lifespan opens the stores (starting the
embedded servers, as every maint command does), loads the embedder and the model once, and
builds the ``Answerer`` they serve; the endpoints get those through dependencies
(``serving.api.deps``). Where things live:

- ``chat``: /v1/models, /v1/chat/completions (and the streaming policy);
- ``query``: /v1/query;  ``ops``: /health, /ready, /metrics;
- ``answer``: the path every question takes; ``queue``: the bounded answer queue;
- ``backends``: stores and models, reconnection; ``auth``: API keys;
- ``observe``: the per-request JSON log line; ``metrics``; ``errors``;
  ``limits``: the request body limit; ``models``: every body on the wire.

No /docs page: Swagger UI would load its scripts from a CDN, which an air-gapped plant cannot
reach; the schema is at /openapi.json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from ingestion.embed import Embedder
from maint import __version__
from maint.settings import Settings
from serving.answer import GeneratorPool
from serving.api import chat, ops, query
from serving.api.backends import Backends
from serving.api.deps import ServingState
from serving.api.errors import install_error_handlers
from serving.api.limits import BodyLimit
from serving.api.metrics import ApiMetrics
from serving.api.observe import RequestObserver
from serving.api.queue import AnswerQueue, CancellablePool

DESCRIPTION = """Grounded answers from the plant's manuals, with citations, graph facts and
a guard that checks every part number and value against the sources.

`POST /v1/chat/completions` is OpenAI-compatible: the model name picks the mode
(`maint-hybrid`, `maint-rag`, `maint-ft`) and the field `maint` carries citations, facts and
the verdict. `POST /v1/query` returns the structured answer. With `MAINT_API_KEYS` set, send
`Authorization: Bearer KEY`."""


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
        try:
            yield
        finally:
            queue.close()
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
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_kb * 1024)
    # Added last, so outermost: it also logs and counts what the inner layers refuse.
    app.add_middleware(RequestObserver, metrics=metrics, log_questions=settings.log_questions)
    install_error_handlers(app)
    for module in (chat, query, ops):
        app.include_router(module.router)
    return app
