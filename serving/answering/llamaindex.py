"""maint inside LlamaIndex: the hybrid retriever as a ``BaseRetriever``, maint's
generator (local model or OpenAI-compatible endpoint) as a LlamaIndex LLM, and maint's
embedder as a LlamaIndex embedding model (what the eval's plain-LlamaIndex baseline uses).

    from llama_index.core.query_engine import RetrieverQueryEngine
    engine = RetrieverQueryEngine.from_args(MaintRetriever(hybrid), llm=MaintLLM(generator))

Each node is one chunk; its metadata carries the citation (document, page, section) and the
graph facts that led to it.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from maint.embed import Embedder
from retrieval.base import Hit
from retrieval.hybrid import HybridRetriever
from serving.answering.generate import Generator


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


class MaintLLM(CustomLLM):
    """A maint generator as a LlamaIndex completion LLM (the prompt is sent as one user turn)."""

    context_window: int = 8192
    num_output: int = 160
    _generator: Generator = PrivateAttr()

    def __init__(self, generator: Generator, **kwargs: Any):
        super().__init__(**kwargs)
        self._generator = generator

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            model_name=self._generator.name,
        )

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        gen = self._generator.generate([{"role": "user", "content": prompt}], self.num_output)
        return CompletionResponse(text=gen.text)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = ""
        for piece in self._generator.stream([{"role": "user", "content": prompt}], self.num_output):
            text += piece
            yield CompletionResponse(text=text, delta=piece)


class MaintEmbedding(BaseEmbedding):
    """maint's embedder (all-MiniLM-L6-v2 by default, local) for LlamaIndex indexes, so a
    LlamaIndex pipeline and maint search the same vectors. Queries and texts are embedded
    alike, as maint does."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any):
        super().__init__(model_name="maint-embedder", **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
