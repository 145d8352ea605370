"""Resolve settings to live stores: embedded servers on demand, or the configured externals."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlparse

from graph.base import GraphStore
from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres, ServiceStatus
from maint.settings import Settings
from retrieval.pgstore import PgStore


def embedded_services(settings: Settings) -> list[EmbeddedPostgres | EmbeddedFalkorDB]:
    """The embedded servers this configuration uses (none when both stores are external)."""
    services: list[EmbeddedPostgres | EmbeddedFalkorDB] = []
    if settings.embedded_postgres:
        services.append(EmbeddedPostgres(settings.data_dir))
    if settings.embedded_graph:
        services.append(EmbeddedFalkorDB(settings.data_dir))
    return services


def start_services(settings: Settings) -> list[ServiceStatus]:
    return [svc.start() for svc in embedded_services(settings)]


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return EmbeddedPostgres(settings.data_dir).start().address


def graph_uri(settings: Settings) -> str:
    if settings.graph_uri:
        return settings.graph_uri
    return EmbeddedFalkorDB(settings.data_dir).start().address


def open_pgstore(settings: Settings) -> PgStore:
    return PgStore(database_url(settings), settings.embedding_dim)


def open_graph(settings: Settings) -> GraphStore:
    uri = graph_uri(settings)
    if settings.graph_backend == "neo4j":
        from graph.neo4j_store import Neo4jGraphStore

        store: GraphStore = Neo4jGraphStore(
            uri, settings.graph_user, settings.graph_password, database=settings.graph_name
        )
    else:
        from graph.falkordb_store import FalkorDBGraphStore

        parsed = urlparse(uri)
        if parsed.scheme == "falkordb":  # falkordb://host:port is redis:// underneath
            uri = uri.replace("falkordb://", "redis://", 1)
        store = FalkorDBGraphStore(uri, settings.graph_name, settings.graph_password)
    store.ensure_schema()
    return store


@contextlib.contextmanager
def stores(settings: Settings) -> Iterator[tuple[PgStore, GraphStore]]:
    """Both stores, opened (and embedded servers started) on demand, closed on exit."""
    pg = open_pgstore(settings)
    try:
        graph = open_graph(settings)
        try:
            yield pg, graph
        finally:
            graph.close()
    finally:
        pg.close()
