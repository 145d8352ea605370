"""What the document, job, chunk and graph endpoints read and change: a PostgreSQL connection
of their own, the graph store and the ingestion jobs.

The answer worker's connection is not shared across threads, and a listing must not wait
behind a question being answered, so these endpoints get their own connection, used by one
request at a time (a lock) on the thread pool. Like the answer path, it is reopened when it
broke, and while PostgreSQL is down these endpoints answer 503. The graph client (redis-py or
the neo4j driver) is thread-safe and reconnects by itself; the one the answer path opened is
used, and while there is none, graph endpoints answer 503 and document endpoints say what
they could not show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import psycopg
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from graph.base import GraphStore
from infra.services import open_pgstore
from maint.settings import Settings
from retrieval.pgstore import PgStore
from retrieval.store import StoreError
from serving.api.backends import Backends, connect_only, short
from serving.api.errors import ApiError
from serving.api.jobs import IngestJobs

T = TypeVar("T")


class Catalog:
    def __init__(self, settings: Settings, backends: Backends, jobs: IngestJobs):
        self.settings = settings
        self.addresses = connect_only(settings)
        self.backends = backends
        self.jobs = jobs
        self._pg: PgStore | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._pg is not None:
                self._pg.close()
                self._pg = None

    @contextmanager
    def _store(self) -> Iterator[PgStore]:
        """The connection, opened (again) if needed; 503 while PostgreSQL is down."""
        with self._lock:
            if self._pg is not None and (self._pg.conn.closed or self._pg.conn.broken):
                self._pg.close()
                self._pg = None
            try:
                if self._pg is None:
                    self._pg = open_pgstore(self.addresses)
                yield self._pg
            except (StoreError, psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if self._pg is not None and (self._pg.conn.closed or self._pg.conn.broken):
                    self._pg.close()
                    self._pg = None
                raise ApiError(
                    503,
                    f"PostgreSQL is unreachable ({short(exc)}); this resumes by itself once it "
                    "is back (GET /ready shows the stores' state)",
                    "store_unavailable",
                    headers={"Retry-After": "5"},
                ) from None

    async def with_pg(self, fn: Callable[[PgStore], T]) -> T:
        """``fn(pg)`` on the thread pool, holding the connection."""

        def call() -> T:
            with self._store() as pg:
                return fn(pg)

        return await run_in_threadpool(call)

    def graph(self) -> GraphStore | None:
        return self.backends.graph

    def require_graph(self) -> GraphStore:
        graph = self.graph()
        if graph is None:
            raise ApiError(
                503,
                f"the graph store is unreachable ({self.backends.graph_error}); graph "
                "endpoints resume by themselves once it is back (GET /ready)",
                "graph_unavailable",
                headers={"Retry-After": "5"},
            )
        return graph


def catalog(request: Request) -> Catalog:
    return request.app.state.catalog


CatalogDep = Annotated[Catalog, Depends(catalog)]
