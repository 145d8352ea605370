"""Dense retrieval: pgvector HNSW cosine search over chunk embeddings."""

from __future__ import annotations

from maint.embed import Embedder
from retrieval.base import Hit
from retrieval.store import ChunkStore, SearchOver


class VectorRetriever:
    """Chunks nearest the question; over units, chunks by their nearest search unit."""

    def __init__(
        self, pg: ChunkStore, embedder: Embedder, ef_search: int = 40, over: SearchOver = "chunks"
    ):
        self.pg = pg
        self.embedder = embedder
        self.ef_search = ef_search
        self.over = over
        self.name = "vector" if over == "chunks" else f"vector_{over}"

    def retrieve(self, query: str, k: int) -> list[Hit]:
        return self.search(self.embedder.embed([query])[0], k)

    def search(self, embedding, k: int) -> list[Hit]:
        """As ``retrieve``, for a question already embedded."""
        rows = self.pg.vector_search(embedding, k, ef_search=self.ef_search, over=self.over)
        return [Hit.from_row(r, self.name) for r in rows]
