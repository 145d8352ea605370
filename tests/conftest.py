"""Shared fixtures: real embedded PostgreSQL+pgvector and FalkorDB, the real embedding model.

Two workspaces (two data dirs, so two independent pairs of servers):
- ``corpus``: the sample manuals ingested once per session, for read-only tests;
- ``scratch``: emptied before each test that uses it, for tests that write.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from graph.base import GraphStore
from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres
from infra.services import open_graph, open_pgstore
from ingestion.pipeline import Ingestor, IngestSummary
from maint.embed import SentenceTransformerEmbedder
from maint.process import setup
from maint.settings import Settings
from retrieval.pgstore import PgStore

setup()  # what the `maint` entry point does first: OpenMP wait policy, quiet loggers
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples" / "manuals"
EXPECTED = ROOT / "data" / "samples" / "expected"


def expected(name: str) -> dict:
    return json.loads((EXPECTED / f"{name}.json").read_text())


@dataclass
class Workspace:
    settings: Settings
    pg: PgStore
    graph: GraphStore
    embedder: SentenceTransformerEmbedder

    def ingestor(self) -> Ingestor:
        return Ingestor(self.settings, self.pg, self.graph, self.embedder)

    def ingest(self, *paths: Path) -> IngestSummary:
        return self.ingestor().ingest(list(paths))

    def wipe(self) -> None:
        self.pg.conn.execute("DELETE FROM documents")
        self.graph.run("MATCH (n) DETACH DELETE n")

    def state(self) -> dict:
        """Everything a reader could see, for before/after comparisons."""
        docs = sorted((d.id, d.sha256, d.chunks) for d in self.pg.list_documents())
        return {
            "pg": self.pg.counts(),
            "docs": docs,
            "pending": len(self.pg.pending_documents()),
            "graph": self.graph.stats(),
            "graph_docs": sorted(self.graph.document_ids()),
        }


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One converted copy of the bundled generator for the whole session (it takes ~20 s)."""
    return tmp_path_factory.mktemp("models")


def _workspace(path: Path, embedder, model_cache: Path) -> Iterator[Workspace]:
    settings = Settings(data_dir=path, model_cache_dir=model_cache)
    pg = open_pgstore(settings)
    graph = open_graph(settings)
    try:
        yield Workspace(settings, pg, graph, embedder)
    finally:
        graph.close()
        pg.close()
        EmbeddedFalkorDB(path).stop()
        EmbeddedPostgres(path).stop()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, embedder, model_cache) -> Iterator[Workspace]:
    for ws in _workspace(tmp_path_factory.mktemp("corpus"), embedder, model_cache):
        summary = ws.ingest(SAMPLES)
        assert not summary.failed, summary.to_dict()
        ws.summary = summary  # type: ignore[attr-defined]
        yield ws


@pytest.fixture(scope="session")
def _scratch(tmp_path_factory, embedder, model_cache) -> Iterator[Workspace]:
    yield from _workspace(tmp_path_factory.mktemp("scratch"), embedder, model_cache)


@pytest.fixture
def scratch(_scratch: Workspace) -> Workspace:
    _scratch.wipe()
    return _scratch
