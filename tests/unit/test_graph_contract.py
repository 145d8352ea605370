"""An unreachable graph store is a clear error, whichever engine."""

from __future__ import annotations

import pytest

from maint.settings import Settings


def test_unreachable_falkordb_is_a_clear_error(tmp_path):
    from graph.base import GraphError
    from graph.falkordb_store import FalkorDBGraphStore

    with pytest.raises(GraphError, match="cannot reach FalkorDB"):
        FalkorDBGraphStore(f"unix://{tmp_path}/nothing.sock")


def test_unreachable_neo4j_is_a_clear_error(monkeypatch):
    from graph.base import GraphError
    from infra.services import open_graph

    settings = Settings(graph_uri="bolt://127.0.0.1:1", graph_password="x")
    with pytest.raises(GraphError, match="cannot reach Neo4j"):
        open_graph(settings)
