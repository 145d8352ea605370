"""Keyword retrieval: BM25 in PostgreSQL, plus exact part numbers however spelled.

Embeddings blur ``WP-2207-A`` and ``WP-2207-B`` together; a technician asking for one must
get the chunk with that one, so identifiers are matched letters-and-digits only.
"""

from __future__ import annotations

from retrieval.base import Hit
from retrieval.query import identifier_candidates
from retrieval.store import ChunkStore, SearchOver


class KeywordRetriever:
    """BM25 over chunks; over units, chunks by their best-scoring search unit."""

    def __init__(self, pg: ChunkStore, over: SearchOver = "chunks"):
        self.pg = pg
        self.over = over
        self.name = "keyword" if over == "chunks" else f"keyword_{over}"

    def retrieve(self, query: str, k: int) -> list[Hit]:
        rows = self.pg.keyword_search(query, identifier_candidates(query), k, over=self.over)
        return [Hit.from_row(r, self.name) for r in rows]
