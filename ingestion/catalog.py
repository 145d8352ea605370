"""The document catalog: what is ingested, as ``maint documents`` and the API's
``/v1/documents`` show and change it. Both go through here, so an id prefix means the same
document to both, and deleting removes the same things.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph import cypher
from graph.base import GraphStore
from ingestion.pipeline import remove_document
from maint.domain import DocumentRecord
from maint.errors import MaintError
from retrieval.store import ChunkStore


class DocumentNotFound(MaintError):
    """No complete document has this id or id prefix."""

    def __init__(self, doc_id: str):
        super().__init__(f"no document with id (or unique id prefix) {doc_id!r}")
        self.doc_id = doc_id


class AmbiguousDocumentId(MaintError):
    """The prefix matches several documents."""

    def __init__(self, doc_id: str, matches: int):
        super().__init__(f"{doc_id!r} is the prefix of {matches} document ids; give more of the id")
        self.doc_id = doc_id
        self.matches = matches


def fact_counts(graph: GraphStore, doc_id: str) -> dict[str, int]:
    """Graph nodes read from a document, per label (sorted by label)."""
    counts: dict[str, int] = {}
    for r in graph.run(cypher.NODES_OF_DOCUMENT, {"doc": doc_id}):
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    return dict(sorted(counts.items()))


@dataclass
class DocumentCatalog:
    """Documents by id or unique id prefix; ``graph`` for fact counts and deletion."""

    pg: ChunkStore
    graph: GraphStore | None = None

    def list(self) -> list[DocumentRecord]:
        return self.pg.list_documents()

    def resolve(self, doc_id: str) -> DocumentRecord:
        """The complete document whose id is, or starts with, ``doc_id`` (any case)."""
        wanted = doc_id.lower()
        found = [d for d in self.pg.list_documents() if d.id.startswith(wanted)]
        exact = [d for d in found if d.id == wanted]
        if exact:
            return exact[0]
        if not found:
            raise DocumentNotFound(doc_id)
        if len(found) > 1:
            raise AmbiguousDocumentId(doc_id, len(found))
        return found[0]

    def chunks(self, doc_id: str) -> list[dict]:
        return self.pg.chunks(doc_id)

    def fact_counts(self, doc_id: str) -> dict[str, int]:
        return fact_counts(self._graph(), doc_id)

    def delete(self, doc_id: str) -> bool:
        """Its chunks, and the graph facts only it supported."""
        return remove_document(self.pg, self._graph(), doc_id)

    def _graph(self) -> GraphStore:
        if self.graph is None:
            raise ValueError("this DocumentCatalog was opened without the graph store")
        return self.graph
