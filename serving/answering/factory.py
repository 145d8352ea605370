"""One way to open an answerer: the stores, the embedder, the graph retriever and the
generator pool, wired the same for ``maint ask``, ``maint eval``, the API and the benchmarks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from graph.base import GraphStore
from infra.services import stores
from maint.embed import Embedder, embedder_for
from maint.settings import Settings
from retrieval.graph_facts import GraphRetriever
from retrieval.store import ChunkStore
from serving.answering.answer import Answerer, GeneratorPool


def build_answerer(
    settings: Settings,
    pg: ChunkStore,
    graph: GraphStore | None,
    embedder: Embedder | None = None,
    generators: GeneratorPool | None = None,
) -> Answerer:
    """An ``Answerer`` on stores the caller holds open (the API reconnects its own). Without
    a graph it answers from vector and keyword search; the embedder loads on first use and
    the models on first question unless the caller passes loaded ones."""
    retriever = GraphRetriever(graph, pg) if graph is not None else None
    return Answerer(settings, pg, embedder or embedder_for(settings), retriever, generators)


@contextlib.contextmanager
def open_answerer(
    settings: Settings,
    embedder: Embedder | None = None,
    generators: GeneratorPool | None = None,
) -> Iterator[Answerer]:
    """Open the stores (starting the embedded servers when none are configured), yield an
    ``Answerer`` on them, and close them on exit."""
    with stores(settings) as (pg, graph):
        yield build_answerer(settings, pg, graph, embedder, generators)
