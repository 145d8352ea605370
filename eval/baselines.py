"""Retrieval baselines, measured in the same run as maint's retrievers, on the same chunks.

Every retriever ranks the workspace's chunks (or pages) for each answerable question; a rank
counts when the passage holds the question's gold evidence (``eval.retrieval.Gold``).

- ``bm25``: BM25 (bm25s, English stopwords) over the chunk texts: the classic keyword
  baseline.
- ``llamaindex``: LlamaIndex's plain ``VectorStoreIndex`` retriever over the same chunks with
  the same embedder (``serving.answering.llamaindex.MaintEmbedding``): what a default LlamaIndex RAG
  pipeline would retrieve.
- ``bm25-pages``, ``dense-pages``: BM25 and the embedder over whole pages (the text of every
  chunk on a page, joined) instead of chunks: the baselines that need no chunking at all.
- ``dense``, ``keyword``, ``graph``: maint's single retrievers (pgvector HNSW; Postgres
  full-text with exact part-number matching; graph lookups).
- ``fused``: maint's hybrid retriever (reciprocal-rank fusion of the three), as answers use it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eval.dataset import EvalItem
from eval.retrieval import Gold, Passage, gold_rank, mrr, recall_at
from maint.embed import Embedder
from retrieval.hybrid import HybridRetriever
from retrieval.store import ChunkStore

DEPTH = 20  # ranks kept per retriever: recall@20 is the deepest figure reported
RETRIEVERS = (
    "bm25-pages",
    "dense-pages",
    "bm25",
    "llamaindex",
    "dense",
    "keyword",
    "graph",
    "fused",
)


@dataclass
class Chunks:
    """The workspace's chunks, as the baselines index them."""

    ids: list[str]
    passages: list[Passage]

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.passages]

    @classmethod
    def of(cls, pg: ChunkStore) -> Chunks:
        ids, passages = [], []
        for doc in pg.list_documents():
            for row in pg.chunks(doc.id):
                ids.append(row["id"])
                passages.append(
                    Passage(row["text"], doc.source_path, row["page_start"], row["page_end"])
                )
        return cls(ids, passages)

    def holding(self, gold: Gold) -> list[str]:
        """Ids of the chunks that hold the gold evidence (the gold context ids)."""
        return [i for i, p in zip(self.ids, self.passages, strict=True) if gold.held_by(p)]

    def pages(self) -> list[Passage]:
        """Whole pages: the text of every chunk on a page, in chunk order, one passage a page
        (a chunk over several pages counts on each)."""
        texts: dict[tuple[str, int], list[str]] = defaultdict(list)
        for p in self.passages:
            if p.page_start is None:
                continue
            for page in range(p.page_start, (p.page_end or p.page_start) + 1):
                texts[p.source, page].append(p.text)
        return [Passage("\n".join(t), source, page, page) for (source, page), t in texts.items()]


class Bm25:
    def __init__(self, passages: Sequence[Passage]):
        import bm25s

        self._bm25s = bm25s
        self.passages = list(passages)
        self.index = bm25s.BM25()
        self.index.index(self._tokens([p.text for p in self.passages]), show_progress=False)

    def _tokens(self, texts: list[str]):
        return self._bm25s.tokenize(texts, stopwords="en", show_progress=False)

    def search(self, question: str, k: int = DEPTH) -> list[Passage]:
        found, scores = self.index.retrieve(
            self._tokens([question]), k=min(k, len(self.passages)), show_progress=False
        )
        return [self.passages[i] for i, s in zip(found[0], scores[0], strict=True) if s > 0]


class DenseExact:
    """The embedder over the passages, exact cosine search (no index: baselines are small)."""

    def __init__(self, passages: Sequence[Passage], embedder: Embedder):
        self.passages = list(passages)
        self.embedder = embedder
        self.vectors = np.asarray(embedder.embed([p.text for p in self.passages]))

    def search(self, question: str, k: int = DEPTH) -> list[Passage]:
        query = np.asarray(self.embedder.embed([question]))[0]
        order = np.argsort(-(self.vectors @ query))[:k]
        return [self.passages[i] for i in order]


class LlamaIndexVectors:
    def __init__(self, chunks: Chunks, embedder: Embedder):
        from llama_index.core import VectorStoreIndex
        from llama_index.core.schema import TextNode

        from serving.answering.llamaindex import MaintEmbedding

        pairs = list(zip(chunks.ids, chunks.passages, strict=True))
        nodes = [TextNode(id_=i, text=p.text) for i, p in pairs]
        index = VectorStoreIndex(nodes, embed_model=MaintEmbedding(embedder), show_progress=False)
        self.retriever = index.as_retriever(similarity_top_k=DEPTH)
        self.by_id = dict(pairs)

    def search(self, question: str) -> list[Passage]:
        return [self.by_id[n.node.node_id] for n in self.retriever.retrieve(question)]


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


@dataclass
class RetrievalScores:
    """Every retriever's recall and MRR, and the rank each gave each question's evidence."""

    table: dict[str, dict[str, float | int]]
    ranks: dict[str, dict[str, int | None]]  # question id -> retriever -> rank (None: missed)


def retrieval_baselines(
    hybrid: HybridRetriever,
    chunks: Chunks,
    embedder: Embedder,
    items: Sequence[EvalItem],
    progress: Callable[[], None] | None = None,
) -> RetrievalScores:
    """Recall@5, recall@20 and MRR of every retriever on the items with evidence."""
    pages = chunks.pages()
    baselines = {
        "bm25-pages": Bm25(pages).search,
        "dense-pages": DenseExact(pages, embedder).search,
        "bm25": Bm25(chunks.passages).search,
        "llamaindex": LlamaIndexVectors(chunks, embedder).search,
    }
    ranks: dict[str, list[int | None]] = {name: [] for name in RETRIEVERS}
    per_question: dict[str, dict[str, int | None]] = {}
    for item in items:
        if progress:
            progress()
        if not (item.answerable and (item.evidence or item.gold.by_page)):
            continue
        gold = item.gold
        for name, search in baselines.items():
            ranks[name].append(gold_rank(search(item.question), gold))
        found = hybrid.retrieve(item.question)
        ours = {
            "dense": found.by_retriever.get("vector", []),
            "keyword": found.by_retriever.get("keyword", []),
            "graph": found.by_retriever.get("graph", []),
            "fused": found.fused,
        }
        for name, hits in ours.items():
            passages = [Passage(h.text, h.source_path, h.page_start, h.page_end) for h in hits]
            ranks[name].append(gold_rank(passages[:DEPTH], gold))
        per_question[item.id] = {name: r[-1] for name, r in ranks.items()}
    return RetrievalScores(rank_table(ranks), per_question)
