"""The property graph: one interface (``GraphStore``), FalkorDB and Neo4j 5 adapters."""

from graph.base import GraphError, GraphStore

__all__ = ["GraphError", "GraphStore"]
