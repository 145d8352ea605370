"""Reciprocal rank fusion: ranks, not scores, so a cosine and a ts_rank can be combined."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from retrieval.base import Fact, Hit


def rrf(
    ranked: Mapping[str, Sequence[Hit]], weights: Mapping[str, float], k: int = 60
) -> list[Hit]:
    """Fuse ranked lists: score(chunk) = sum over retrievers of weight / (k + rank).

    A chunk found by several retrievers appears once, with every retriever's rank recorded
    and the graph facts of all of them."""
    fused: dict[str, Hit] = {}
    for name, hits in ranked.items():
        weight = weights.get(name, 1.0)
        for rank, h in enumerate(hits, start=1):
            contribution = weight / (k + rank)
            if h.chunk_id not in fused:
                fused[h.chunk_id] = replace(h, score=0.0, retriever="fused", facts=[], ranks={})
            f = fused[h.chunk_id]
            f.unit = f.unit or h.unit
            if name not in f.ranks:
                f.ranks[name] = rank
                f.score += contribution
            f.facts = _merge(f.facts, h.facts)
    return sorted(fused.values(), key=lambda h: (-h.score, h.chunk_id))


def _merge(a: list[Fact], b: list[Fact]) -> list[Fact]:
    return a + [f for f in b if f not in a]
