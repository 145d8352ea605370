"""Retrieval baselines, measured in the same run as maint's retrievers, on the same chunks.

Every retriever ranks the workspace's chunks for each answerable question; a rank counts
when the chunk holds the question's gold evidence (``eval.retrieval.evidence_rank``).

- ``bm25``: BM25 (bm25s, English stopwords) over the chunk texts: the classic keyword
  baseline.
- ``llamaindex``: LlamaIndex's plain ``VectorStoreIndex`` retriever over the same chunks with
  the same embedder (``serving.answering.llamaindex.MaintEmbedding``): what a default LlamaIndex RAG
  pipeline would retrieve.
- ``dense``, ``keyword``, ``graph``: maint's single retrievers (pgvector HNSW; Postgres
  full-text with exact part-number matching; graph lookups).
- ``fused``: maint's hybrid retriever (reciprocal-rank fusion of the three), as answers use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eval.dataset import EvalItem
from eval.retrieval import evidence_rank, mrr, recall_at
from maint.embed import Embedder
from retrieval.hybrid import HybridRetriever
from retrieval.store import ChunkStore

DEPTH = 20  # ranks kept per retriever: recall@20 is the deepest figure reported
RETRIEVERS = ("bm25", "llamaindex", "dense", "keyword", "graph", "fused")


@dataclass
class Chunks:
    """The workspace's chunks, as the baselines index them."""

    ids: list[str]
    texts: list[str]

    @classmethod
    def of(cls, pg: ChunkStore) -> Chunks:
        rows = [c for d in pg.list_documents() for c in pg.chunks(d.id)]
        return cls([r["id"] for r in rows], [r["text"] for r in rows])

    def holding(self, evidence: str) -> list[str]:
        """Ids of the chunks that contain ``evidence`` (the gold context ids)."""
        return [
            i for i, t in zip(self.ids, self.texts, strict=True) if evidence_rank([t], evidence)
        ]


class Bm25:
    def __init__(self, chunks: Chunks):
        import bm25s

        self._bm25s = bm25s
        self.texts = chunks.texts
        self.index = bm25s.BM25()
        self.index.index(self._tokens(chunks.texts), show_progress=False)

    def _tokens(self, texts: list[str]):
        return self._bm25s.tokenize(texts, stopwords="en", show_progress=False)

    def search(self, question: str, k: int = DEPTH) -> list[str]:
        found, scores = self.index.retrieve(
            self._tokens([question]), k=min(k, len(self.texts)), show_progress=False
        )
        return [self.texts[i] for i, s in zip(found[0], scores[0], strict=True) if s > 0]


class LlamaIndexVectors:
    def __init__(self, chunks: Chunks, embedder: Embedder):
        from llama_index.core import VectorStoreIndex
        from llama_index.core.schema import TextNode

        from serving.answering.llamaindex import MaintEmbedding

        nodes = [TextNode(id_=i, text=t) for i, t in zip(chunks.ids, chunks.texts, strict=True)]
        index = VectorStoreIndex(nodes, embed_model=MaintEmbedding(embedder), show_progress=False)
        self.retriever = index.as_retriever(similarity_top_k=DEPTH)

    def search(self, question: str) -> list[str]:
        return [n.node.get_content() for n in self.retriever.retrieve(question)]


def rank_table(ranks: dict[str, list[int | None]]) -> dict[str, dict[str, float | int]]:
    return {
        name: {
            "recall@5": recall_at(r, 5),
            "recall@20": recall_at(r, 20),
            "mrr": mrr(r),
            "questions": len(r),
        }
        for name, r in ranks.items()
    }


def retrieval_baselines(
    hybrid: HybridRetriever,
    chunks: Chunks,
    embedder: Embedder,
    items: Sequence[EvalItem],
    progress: Callable[[], None] | None = None,
) -> dict[str, dict[str, float | int]]:
    """Recall@5, recall@20 and MRR of every retriever on the items with evidence."""
    bm25, llama = Bm25(chunks), LlamaIndexVectors(chunks, embedder)
    ranks: dict[str, list[int | None]] = {name: [] for name in RETRIEVERS}
    for item in items:
        if progress:
            progress()
        if not (item.answerable and item.evidence):
            continue
        found = hybrid.retrieve(item.question)
        ours = {
            "dense": found.by_retriever.get("vector", []),
            "keyword": found.by_retriever.get("keyword", []),
            "graph": found.by_retriever.get("graph", []),
            "fused": found.fused,
        }
        ranks["bm25"].append(evidence_rank(bm25.search(item.question), item.evidence))
        ranks["llamaindex"].append(evidence_rank(llama.search(item.question), item.evidence))
        for name, hits in ours.items():
            ranks[name].append(evidence_rank([h.text for h in hits[:DEPTH]], item.evidence))
    return rank_table(ranks)
