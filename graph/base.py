"""The graph store interface: one small ABC, two adapters (FalkorDB, Neo4j 5).

The write path is shared: it batches every label and relation type into UNWIND statements,
so a manual with a thousand facts is a few dozen round trips, whichever engine is behind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from graph import cypher
from maint.domain import (
    DOCUMENT_SCOPED_LABELS,
    SHARED_LABELS,
    Chunk,
    DocumentRecord,
    Facts,
)

BATCH = 500
Statement = tuple[str, dict[str, Any]]


class GraphError(RuntimeError):
    """The graph store is unreachable or refused a statement; the message says why."""


def _batches(rows: Sequence[dict], size: int = BATCH) -> Iterable[list[dict]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


class GraphStore(ABC):
    backend: str
    dialect: cypher.Dialect

    # -- what each adapter provides -------------------------------------------------------
    @abstractmethod
    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement; rows come back as dicts keyed by the RETURN names."""

    @abstractmethod
    def run_all(self, statements: Sequence[Statement]) -> None:
        """Run write statements in order: in one transaction where the engine has them."""

    @abstractmethod
    def _create_unique(self, label: str, prop: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- shared behaviour -----------------------------------------------------------------
    def ping(self) -> bool:
        try:
            self.run("RETURN 1 AS ok")
            return True
        except Exception:
            return False

    def ensure_schema(self) -> None:
        for label, prop in [("Document", "id"), ("Chunk", "id")] + [
            (label, "key") for label in (*SHARED_LABELS, *DOCUMENT_SCOPED_LABELS)
        ]:
            self._create_unique(label, prop)
        for label in ("Chunk", *DOCUMENT_SCOPED_LABELS):
            self._create_index(label, "document_id")

    def _create_index(self, label: str, prop: str) -> None:
        try:
            self.run(self.dialect.index_statement(label, prop))
        except Exception as exc:  # FalkorDB has no IF NOT EXISTS
            if "already indexed" not in str(exc):
                raise

    def write_document(self, doc: DocumentRecord, chunks: Sequence[Chunk], facts: Facts) -> None:
        """Write a document's chunks and facts (idempotent: MERGE by key)."""
        stmts: list[Statement] = [
            (
                cypher.MERGE_DOCUMENT,
                {
                    "id": doc.id,
                    "props": {
                        "title": doc.title,
                        "source_path": doc.source_path,
                        "sha256": doc.sha256,
                        "format": doc.format,
                        "pages": doc.pages,
                    },
                },
            )
        ]
        chunk_rows = [
            {
                "id": c.id,
                "document_id": doc.id,
                "props": {
                    "document_id": doc.id,
                    "ordinal": c.ordinal,
                    "section": c.section_path,
                    "page_start": c.page_start,
                    "page_end": c.page_end,
                },
            }
            for c in chunks
        ]
        stmts += [(cypher.MERGE_CHUNKS, {"rows": b}) for b in _batches(chunk_rows)]

        nodes_by_label: dict[str, list[dict]] = defaultdict(list)
        mentions_by_label: dict[str, list[dict]] = defaultdict(list)
        for node in facts.nodes:
            props = dict(node.props)
            if node.label in DOCUMENT_SCOPED_LABELS:
                props["document_id"] = doc.id
            nodes_by_label[node.label].append({"key": node.key, "props": props})
            mentions_by_label[node.label] += [
                {"key": node.key, "chunk": cid} for cid in node.chunk_ids
            ]
        for label, rows in nodes_by_label.items():
            stmts += [(cypher.merge_nodes(label), {"rows": b}) for b in _batches(rows)]
        for label, rows in mentions_by_label.items():
            stmts += [(cypher.link_mentions(label), {"rows": b}) for b in _batches(rows)]

        edges: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        for e in facts.edges:
            edges[(e.type, e.src_label, e.dst_label)].append(
                {"src": e.src_key, "dst": e.dst_key, "props": e.props}
            )
        for (rel, src, dst), rows in edges.items():
            query = cypher.merge_edges(rel, src, dst)
            stmts += [(query, {"rows": b, "doc": doc.id}) for b in _batches(rows)]
        self.run_all(stmts)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document's chunks, its own facts, and shared facts only it supported."""
        p = {"doc": doc_id}
        stmts: list[Statement] = [(cypher.delete_scoped(lb), p) for lb in DOCUMENT_SCOPED_LABELS]
        stmts += [
            (cypher.UNLINK_DOCUMENT_FROM_EDGES, p),
            (cypher.DELETE_UNSUPPORTED_EDGES, {}),
            (cypher.DELETE_CHUNKS, p),
            (cypher.DELETE_DOCUMENT, p),
        ]
        stmts += [(cypher.delete_orphans(lb), {}) for lb in SHARED_LABELS]
        self.run_all(stmts)

    def document_ids(self) -> set[str]:
        return {r["id"] for r in self.run(cypher.DOCUMENT_IDS)}

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            "nodes": {r["label"]: int(r["count"]) for r in self.run(cypher.LABEL_COUNTS)},
            "relations": {r["type"]: int(r["count"]) for r in self.run(cypher.REL_COUNTS)},
        }

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
