"""maint's hybrid retriever as a LlamaIndex ``BaseRetriever``, for LlamaIndex query engines.

    from llama_index.core.query_engine import RetrieverQueryEngine
    engine = RetrieverQueryEngine.from_args(MaintRetriever(hybrid), llm=any_llamaindex_llm)

Each node is one chunk; its metadata carries the citation (document, page, section) and the
graph facts that led to it.
"""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from retrieval.base import Hit
from retrieval.hybrid import HybridRetriever


def to_node(hit: Hit) -> NodeWithScore:
    meta = {k: v for k, v in hit.citation().items() if v is not None}
    meta["facts"] = [f.text for f in hit.facts]
    node = TextNode(
        id_=hit.chunk_id,
        text=hit.text,
        metadata=meta,
        excluded_embed_metadata_keys=list(meta),
        excluded_llm_metadata_keys=["chunk_id", "document_id", "source_path", "facts"],
    )
    return NodeWithScore(node=node, score=hit.score)


class MaintRetriever(BaseRetriever):
    def __init__(self, hybrid: HybridRetriever, use_graph: bool = True):
        super().__init__()
        self._hybrid = hybrid
        self._use_graph = use_graph

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        found = self._hybrid.retrieve(query_bundle.query_str, use_graph=self._use_graph)
        return [to_node(h) for h in found.hits]
