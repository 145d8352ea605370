"""Neo4j 5 adapter (production, Neo4j Browser), through the official driver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph import cypher
from graph.base import GraphError, GraphStore, Statement


class Neo4jGraphStore(GraphStore):
    backend = "neo4j"
    dialect = cypher.NEO4J

    def __init__(
        self, uri: str, user: str = "neo4j", password: str | None = None, database: str = "neo4j"
    ):
        import neo4j
        from neo4j.exceptions import Neo4jError, ServiceUnavailable

        self.uri = uri
        self.database = database
        self._errors = (Neo4jError, ServiceUnavailable)
        try:
            self.driver = neo4j.GraphDatabase.driver(uri, auth=(user, password or ""))
            self.driver.verify_connectivity()
        except (*self._errors, OSError, ValueError) as exc:
            raise GraphError(
                f"cannot reach Neo4j at {uri} ({exc}). Check MAINT_GRAPH_URI, MAINT_GRAPH_USER "
                "and MAINT_GRAPH_PASSWORD."
            ) from exc

    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        records, _, _ = self.driver.execute_query(query, params or {}, database_=self.database)
        return [r.data() for r in records]

    def run_all(self, statements: Sequence[Statement]) -> None:
        with self.driver.session(database=self.database) as session:
            session.execute_write(lambda tx: [tx.run(q, p).consume() for q, p in statements])

    def _create_unique(self, label: str, prop: str) -> None:
        self.run(self.dialect.unique_statement(label, prop))

    def close(self) -> None:
        self.driver.close()
