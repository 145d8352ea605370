"""The production path on the real engines of infra/compose.yaml, started by testcontainers:
PostgreSQL + pgvector (the compose file's `pgvector/pgvector` image) and Neo4j 5 (`neo4j:5`).

- the sample manuals are ingested with both stores external (as `maint` runs with
  MAINT_DATABASE_URL and MAINT_GRAPH_URI set) and hold exactly what the embedded stores hold;
- questions are answered from them by the real embedder and the bundled SmolLM2;
- every Cypher query of docs/graph.md runs on Neo4j and returns rows, the neo4j-only ones
  included.

They need a Docker engine: without one (as on CI here) every test of this module is skipped
with one reason. `pytest -m docker` selects them (with the Neo4j half of the graph contract).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from graph.base import GraphStore
from infra.services import open_graph, open_pgstore
from ingestion.pipeline import Ingestor, IngestSummary
from maint.embed import SentenceTransformerEmbedder
from maint.settings import Settings
from retrieval.graph_facts import GraphRetriever
from retrieval.keyword import KeywordRetriever
from retrieval.pgstore import PgStore
from serving.answering.answer import Answerer, GeneratorPool
from serving.answering.prompt import REFUSAL
from tests.helpers import QUERIES, ROOT, TORQUE_Q, DocQuery

SAMPLES = ROOT / "data" / "samples" / "manuals"
COMPOSE = ROOT / "infra" / "compose.yaml"
# The image the compose file deploys, so the test and the deployment cannot drift apart.
PG_IMAGE = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["postgres"]["image"]
NEO4J_IMAGE = "neo4j:5"


def docker_engine_missing() -> str | None:
    try:
        import docker

        docker.from_env().ping()
        return None
    except Exception as exc:  # no engine, no socket, no permission
        return (
            f"no Docker engine for testcontainers ({type(exc).__name__}): the production-stack "
            f"tests ({PG_IMAGE}, {NEO4J_IMAGE}) are skipped"
        )


# Checked once, at collection: a skip mark is applied before any fixture is set up, so no model
# is loaded and nothing is ingested where the containers cannot run.
ENGINE_MISSING = docker_engine_missing()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(ENGINE_MISSING is not None, reason=ENGINE_MISSING or ""),
]


def _container_classes():
    try:
        from testcontainers.community.neo4j import Neo4jContainer
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers before the community/ layout
        from testcontainers.neo4j import Neo4jContainer
        from testcontainers.postgres import PostgresContainer
    return PostgresContainer, Neo4jContainer


@dataclass
class Stack:
    settings: Settings
    pg: PgStore
    graph: GraphStore
    summary: IngestSummary


@pytest.fixture(scope="module")
def stack(tmp_path_factory, embedder: SentenceTransformerEmbedder, model_cache) -> Iterator[Stack]:
    postgres_container, neo4j_container = _container_classes()
    with (
        postgres_container(
            PG_IMAGE, username="maint", password="maint-test", dbname="maint", driver=None
        ) as pg_container,
        neo4j_container(NEO4J_IMAGE) as neo4j,
    ):
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("production"),
            model_cache_dir=model_cache,
            database_url=pg_container.get_connection_url(),
            graph_uri=neo4j.get_connection_url(),
            graph_user="neo4j",
            graph_password=neo4j.password,
            graph_name="neo4j",  # Community's one user database, as in infra/compose.yaml
        )
        pg = open_pgstore(settings)
        graph = open_graph(settings)
        try:
            summary = Ingestor(settings, pg, graph, embedder).ingest([SAMPLES])
            yield Stack(settings, pg, graph, summary)
        finally:
            graph.close()
            pg.close()


@pytest.fixture(scope="module")
def answerer(stack: Stack, embedder) -> Answerer:
    graph = GraphRetriever(stack.graph, stack.pg)
    return Answerer(stack.settings, stack.pg, embedder, graph, GeneratorPool(stack.settings))


def test_ingest_into_external_stores_matches_the_embedded_ones(stack: Stack, corpus):
    assert stack.settings.graph_backend == "neo4j" and not stack.settings.embedded_postgres
    assert not stack.summary.failed, stack.summary.to_dict()
    assert stack.pg.counts() == corpus.pg.counts()
    assert stack.graph.stats() == corpus.graph.stats()
    assert stack.graph.document_ids() == corpus.graph.document_ids()


def test_hybrid_answer_from_pgvector_and_neo4j(answerer: Answerer):
    a = answerer.ask(TORQUE_Q, mode="hybrid")
    assert a.answer and a.citations
    assert all(c.document and c.page and c.chunk_id for c in a.citations)
    assert any(f["kind"] == "spec" and "95 N·m" in f["text"] for f in a.facts)
    assert not any("graph store unavailable" in w for w in a.warnings)
    assert a.verified or a.fallback == "extractive"


def test_part_numbers_are_found_however_spelled(stack: Stack):
    """pg_trgm on the compacted column (PostgreSQL) and part keys (Neo4j), as on the
    embedded stores (tests/test_retrieval.py)."""
    hits = KeywordRetriever(stack.pg).retrieve("lock washer wp 2207 b", 3)
    assert hits and all("WP-2207-B" in h.text for h in hits)
    lookup = GraphRetriever(stack.graph, stack.pg).lookup("What does WP2207B replace?")
    assert lookup.parts == ["WP-2207-B"]
    part = next(f for f, _ in lookup.facts if f.kind == "part")
    assert "supersedes WP-2207-A" in part.text


def test_off_topic_question_is_refused(answerer: Answerer):
    a = answerer.ask("Who won the football world cup in 1998?", mode="hybrid")
    assert a.answer == REFUSAL and a.refused


@pytest.mark.parametrize("q", QUERIES, ids=[q.title for q in QUERIES])
def test_docs_query_returns_rows_on_neo4j(stack: Stack, q: DocQuery):
    rows = stack.graph.run(q.statement, q.params)
    assert rows, f"{q.title!r} returned nothing on Neo4j with the sample manuals"
