"""Dense retrieval: pgvector HNSW cosine search over chunk embeddings."""

from __future__ import annotations

from maint.embed import Embedder
from retrieval.base import Hit
from retrieval.store import ChunkStore


class VectorRetriever:
    name = "vector"

    def __init__(self, pg: ChunkStore, embedder: Embedder, ef_search: int = 40):
        self.pg = pg
        self.embedder = embedder
        self.ef_search = ef_search

    def retrieve(self, query: str, k: int) -> list[Hit]:
        embedding = self.embedder.embed([query])[0]
        rows = self.pg.vector_search(embedding, k, ef_search=self.ef_search)
        return [Hit.from_row(r, self.name) for r in rows]
