"""The hybrid retriever: vector + keyword (+ graph), fused, cut to a context budget.

``rag`` mode uses vector and keyword search; ``hybrid`` adds graph lookups and hands the
generator the graph's facts as structured lines. Every stage is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


# The keyword searches, each run beside the embedding in a thread on a connection of its
# own. On 2 cores at 100k chunks, one search a thread measured fastest (fused p95 40-70 ms
# against 43-73 with two searches on one thread, 65-98 all in turn, in the same runs).
KEYWORD_SEARCHES = ("keyword", "keyword_units", "keyword_part_rows")


class HybridRetriever:
    def __init__(
        self,
        settings: Settings,
        pg: ChunkStore,
        embedder: Embedder,
        graph: GraphRetriever | None = None,
        beside: bool = True,
    ):
        """``beside``: keyword searches run on connections of their own while this thread
        embeds (False: one after another on ``pg``'s, as a baseline)."""
        self.settings = settings
        self.embedder = embedder
        self.vector = VectorRetriever(pg, embedder, settings.hnsw_ef_search)
        ef = settings.hnsw_ef_search
        self.vector_units = VectorRetriever(pg, embedder, ef, over="units")
        self.vector_parts = VectorRetriever(pg, embedder, ef, over="part_rows")
        self.pg = pg
        self.keywords = keyword_retrievers(pg)
        self._side: dict[str, KeywordRetriever] = {}
        self.lanes = KEYWORD_SEARCHES if beside else ()  # the searches with threads of their own
        self._pool = ThreadPoolExecutor(max(1, len(self.lanes)), thread_name_prefix="maint-keyword")
        self.graph = graph
        # in the order fused: the first retriever to find a chunk gives its hit's fields
        self.weights = {
            "vector": settings.weight_vector,
            "vector_units": settings.weight_units,
            "keyword": settings.weight_keyword,
            "keyword_units": settings.weight_units,
            "vector_part_rows": settings.weight_units,
            "keyword_part_rows": settings.weight_units,
            "graph": settings.weight_graph,
        }

    def _beside(self) -> dict[str, KeywordRetriever] | None:
        """Each keyword search on a handle on the store of its own; None when the store has
        no other handles (or ``beside`` is off): the searches then run in turn."""
        stores = [self.pg.searcher(slot) for slot in range(len(self.lanes))]
        if not stores or any(store is None for store in stores):
            return None
        for name, store in zip(self.lanes, stores, strict=True):
            if name not in self._side or self._side[name].pg is not store:  # (re)connected
                self._side[name] = keyword_retrievers(store)[name]
        return self._side

    def retrieve(self, query: str, use_graph: bool = True) -> Retrieval:
        s = self.settings
        n = s.retrieve_candidates
        started = time.perf_counter()
        timings: dict[str, float] = {}  # per stage; stages overlap: "total" is the wall time
        ranked: dict[str, list[Hit]] = {}
        parts = asks_for_identifier(query)  # a stock or part number is asked: parts lists answer

        def timed(name: str, search: Callable[[], list[Hit]]) -> None:
            t0 = time.perf_counter()
            ranked[name] = search()
            timings[name] = time.perf_counter() - t0

        def keyword_search(r: KeywordRetriever) -> None:
            timed(r.name, lambda: r.retrieve(query, n))

        # Keyword searches need no embedding: on connections of their own they run in the
        # database while this thread embeds the question and searches vectors.
        names = [k for k in KEYWORD_SEARCHES if parts or k != "keyword_part_rows"]
        side = self._beside()
        beside = [self._pool.submit(keyword_search, side[k]) for k in names] if side else []
        t0 = time.perf_counter()
        embedding = self.embedder.embed([query])[0]
        timings["embed"] = time.perf_counter() - t0
        timed("vector", lambda: self.vector.search(embedding, n))
        timed("vector_units", lambda: self.vector_units.search(embedding, n))
        if parts:
            timed("vector_part_rows", lambda: self.vector_parts.search(embedding, n))
        if side is None:
            for k in names:
                keyword_search(self.keywords[k])
        lookup = None
        if use_graph and self.graph is not None:
            t0 = time.perf_counter()
            lookup = self.graph.lookup(query)
            ranked["graph"] = self.graph.hits(lookup, n)
            timings["graph"] = time.perf_counter() - t0
        if beside:
            t0 = time.perf_counter()
            for future in beside:
                future.result()
            timings["keyword_wait"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ranked = {name: ranked[name] for name in self.weights if name in ranked}  # fixed order
        fused = rrf(ranked, self.weights, s.rrf_k)
        context = budget(fused, s.context_chunks, s.context_tokens)
        facts = lookup.context_facts([h.chunk_id for h in context]) if lookup else []
        ids = identifier_candidates(query)
        timings["fusion"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - started
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


def keyword_retrievers(pg: ChunkStore) -> dict[str, KeywordRetriever]:
    """Keyword search over chunks, over search units, over parts-list rows, by name."""
    found = [KeywordRetriever(pg, over) for over in ("chunks", "units", "part_rows")]
    return {r.name: r for r in found}


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
