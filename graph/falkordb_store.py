"""FalkorDB adapter (the embedded default), through FalkorDB's own client.

FalkorDB runs each query atomically but has no multi-statement transactions: a document's
statements run in order, and the ingestion pipeline's recovery step removes a document that a
crash left half-written (see ``ingestion.pipeline``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

from falkordb import FalkorDB
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from graph import cypher
from graph.base import EXPORT_PAGE, GraphError, GraphStore, Statement, exported_relation


def _plain(value: Any) -> Any:
    """FalkorDB returns Node/Edge objects and OrderedDicts; callers get plain data."""
    if hasattr(value, "properties") and hasattr(value, "labels"):
        return {"labels": list(value.labels), **value.properties}
    if hasattr(value, "properties") and hasattr(value, "relation"):
        return {"type": value.relation, **value.properties}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class FalkorDBGraphStore(GraphStore):
    backend = "falkordb"
    dialect = cypher.FALKORDB

    def __init__(self, uri: str, graph_name: str = "maint", password: str | None = None):
        self.uri = uri
        self.graph_name = graph_name
        parsed = urlparse(uri)
        try:
            if parsed.scheme == "unix":
                self.db = FalkorDB(unix_socket_path=parsed.path, password=password)
            else:
                self.db = FalkorDB(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or 6379,
                    password=parsed.password or password,
                    username=parsed.username or None,
                    ssl=parsed.scheme == "rediss",
                )
            self.graph = self.db.select_graph(graph_name)
            self.db.connection.ping()
        except (RedisError, OSError) as exc:
            raise GraphError(
                f"cannot reach FalkorDB at {uri} ({exc}). Check MAINT_GRAPH_URI, or unset it "
                "to use the embedded server (`maint services start`)."
            ) from exc

    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            result = self.graph.query(query, _without_nul(params or {}))
        except RedisConnectionError as exc:
            raise GraphError(f"FalkorDB at {self.uri} is not reachable: {exc}") from exc
        names = [h[1] if isinstance(h, list | tuple) else h for h in (result.header or [])]
        return [dict(zip(names, map(_plain, row), strict=False)) for row in result.result_set]

    def run_all(self, statements: Sequence[Statement]) -> None:
        for query, params in statements:
            self.run(query, params)

    def _create_unique(self, label: str, prop: str) -> None:
        self._create_index(label, prop)  # FalkorDB needs the exact-match index first
        command = self.dialect.unique_statement(label, prop).format(graph=self.graph_name)
        try:
            self.db.connection.execute_command(*command.split())
        except ResponseError as exc:
            if "already exists" not in str(exc).lower():
                raise

    def close(self) -> None:
        self.db.connection.close()

    # -- backup and restore -------------------------------------------------------------
    def _id_pages(self, page: int) -> Iterator[dict[str, int]]:
        top = self.run(cypher.FALKORDB_MAX_NODE_ID)[0]["max_id"]
        for start in range(0, -1 if top is None else int(top) + 1, page):
            yield {"start": start, "end": start + page}

    def export_nodes(self, page: int = EXPORT_PAGE) -> Iterator[dict[str, Any]]:
        """Every node in node-id order rather than key order: rows come back in that order
        (and retrieval keeps it among equal scores), so a restore into a new graph in this
        order answers every query with the same rows in the same order."""
        for bounds in self._id_pages(page):
            for r in self.run(cypher.FALKORDB_EXPORT_NODES, bounds):
                yield {"labels": list(r["labels"]), "props": r["props"]}

    def export_relationships(self, page: int = EXPORT_PAGE) -> Iterator[dict[str, Any]]:
        """Every relation, grouped by source node in node-id order (see ``export_nodes``)."""
        for bounds in self._id_pages(page):
            for r in self.run(cypher.FALKORDB_EXPORT_RELATIONSHIPS, bounds):
                yield exported_relation(r)

    def clear(self, batch: int = 10_000) -> int:
        """Delete the whole graph (GRAPH.DELETE; ``ensure_schema()`` recreates its indexes):
        a new graph numbers nodes from 0 again, where a graph emptied by DETACH DELETE
        hands out the freed ids in its own order (see ``export_nodes``)."""
        deleted = self.node_count()
        try:
            self.graph.delete()
        except ResponseError as exc:
            if "empty key" not in str(exc).lower():  # no graph yet: nothing to delete
                raise
        return deleted


def _without_nul(value: Any) -> Any:
    """Parameters without NUL characters. The client writes parameters into the query text,
    which the server reads as a C string: a NUL ends the query mid-way (a Cypher syntax error
    for any search box input holding one). No stored value contains NUL, so none is lost."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
