"""The hybrid retriever: vector + keyword (+ graph), fused, cut to a context budget.

``rag`` mode uses vector and keyword search; ``hybrid`` adds graph lookups and hands the
generator the graph's facts as structured lines. Every stage is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from maint.embed import Embedder
from maint.identifiers import asks_for_identifier, contains_compacted
from maint.settings import Settings
from retrieval.base import Fact, Hit
from retrieval.fusion import rrf
from retrieval.graph_facts import GraphLookup, GraphRetriever
from retrieval.keyword import KeywordRetriever
from retrieval.query import identifier_candidates
from retrieval.store import ChunkStore
from retrieval.vector import VectorRetriever


@dataclass
class Retrieval:
    """What retrieval found for one question, and how long each stage took."""

    query: str
    hits: list[Hit]  # the context, best first, within the budget
    facts: list[Fact]  # graph facts whose chunks are in the context
    by_retriever: dict[str, list[Hit]]
    fused: list[Hit]  # every candidate, fused, best first: ``hits`` is its head within budget
    timings: dict[str, float] = field(default_factory=dict)  # seconds
    best_similarity: float = 0.0  # of the best vector hit
    identifier_found: bool = False  # a part number of the question is in the context
    linked: GraphLookup | None = None
    embedding: np.ndarray | None = None  # the question's, for scoring answer units

    def relevant(self, min_similarity: float) -> bool:
        """Worth answering from: close in meaning, or the asked-for part number is there."""
        return self.best_similarity >= min_similarity or self.identifier_found


class HybridRetriever:
    def __init__(
        self,
        settings: Settings,
        pg: ChunkStore,
        embedder: Embedder,
        graph: GraphRetriever | None = None,
    ):
        self.settings = settings
        self.embedder = embedder
        self.vector = VectorRetriever(pg, embedder, settings.hnsw_ef_search)
        ef = settings.hnsw_ef_search
        self.vector_units = VectorRetriever(pg, embedder, ef, over="units")
        self.vector_parts = VectorRetriever(pg, embedder, ef, over="part_rows")
        self.keyword = KeywordRetriever(pg)
        self.keyword_units = KeywordRetriever(pg, over="units")
        self.keyword_parts = KeywordRetriever(pg, over="part_rows")
        self.graph = graph
        self.weights = {
            "vector": settings.weight_vector,
            "keyword": settings.weight_keyword,
            "vector_units": settings.weight_units,
            "keyword_units": settings.weight_units,
            "vector_part_rows": settings.weight_units,
            "keyword_part_rows": settings.weight_units,
            "graph": settings.weight_graph,
        }

    def retrieve(self, query: str, use_graph: bool = True) -> Retrieval:
        s = self.settings
        n = s.retrieve_candidates
        timings: dict[str, float] = {}
        ranked: dict[str, list[Hit]] = {}

        def timed(name: str, search: Callable[[], list[Hit]]) -> None:
            t0 = time.perf_counter()
            ranked[name] = search()
            timings[name] = time.perf_counter() - t0

        t0 = time.perf_counter()
        embedding = self.embedder.embed([query])[0]
        timings["embed"] = time.perf_counter() - t0
        timed("vector", lambda: self.vector.search(embedding, n))
        timed("vector_units", lambda: self.vector_units.search(embedding, n))
        timed("keyword", lambda: self.keyword.retrieve(query, n))
        timed("keyword_units", lambda: self.keyword_units.retrieve(query, n))
        if asks_for_identifier(query):  # a stock or part number is asked: parts lists answer
            timed("vector_part_rows", lambda: self.vector_parts.search(embedding, n))
            timed("keyword_part_rows", lambda: self.keyword_parts.retrieve(query, n))
        lookup = None
        if use_graph and self.graph is not None:
            t0 = time.perf_counter()
            lookup = self.graph.lookup(query)
            ranked["graph"] = self.graph.hits(lookup, n)
            timings["graph"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        fused = rrf(ranked, self.weights, s.rrf_k)
        context = budget(fused, s.context_chunks, s.context_tokens)
        facts = lookup.context_facts([h.chunk_id for h in context]) if lookup else []
        ids = identifier_candidates(query)
        timings["fusion"] = time.perf_counter() - t0
        vec = ranked.get("vector") or []
        return Retrieval(
            query=query,
            hits=context,
            facts=facts,
            by_retriever=ranked,
            fused=fused,
            timings=timings,
            best_similarity=vec[0].score if vec else 0.0,
            identifier_found=any(contains_compacted(h.text, i) for i in ids for h in context),
            linked=lookup,
            embedding=embedding,
        )


def budget(hits: list[Hit], max_chunks: int, max_tokens: int) -> list[Hit]:
    """The best hits that fit: at most ``max_chunks`` and ``max_tokens`` (the first always)."""
    out: list[Hit] = []
    used = 0
    for h in hits:
        if len(out) >= max_chunks:
            break
        if out and used + h.tokens > max_tokens:
            continue
        out.append(h)
        used += h.tokens
    return out
