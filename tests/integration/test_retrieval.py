"""Retrievers on the real stores (the sample corpus ingested once), fusion, and linking."""

from __future__ import annotations

import pytest

from eval.baselines import Chunks, retrieval_baselines
from eval.dataset import load
from retrieval.graph_facts import GraphRetriever
from retrieval.hybrid import HybridRetriever
from retrieval.keyword import KeywordRetriever
from retrieval.pgstore import PgStore
from retrieval.vector import VectorRetriever
from tests.helpers import ROOT

DEV = ROOT / "data" / "eval" / "dev.jsonl"


@pytest.fixture(scope="module")
def hybrid(corpus) -> HybridRetriever:
    return HybridRetriever(
        corpus.settings, corpus.pg, corpus.embedder, GraphRetriever(corpus.graph, corpus.pg)
    )


def test_vector_finds_a_paraphrase(corpus):
    hits = VectorRetriever(corpus.pg, corpus.embedder).retrieve(
        "how tight should the nut holding the impeller be", 5
    )
    assert len(hits) == 5
    assert any("impeller nut" in h.text.lower() and "N·m" in h.text for h in hits)
    assert hits[0].score >= hits[-1].score
    assert all(h.document and h.page_start for h in hits)  # provenance for citations


@pytest.mark.parametrize(
    "spelling", ["WP-2207-B", "WP-2207 B", "WP2207B", "wp-2207-b", "wp 2207 b"]
)
def test_keyword_matches_messy_part_numbers(corpus, spelling):
    hits = KeywordRetriever(corpus.pg).retrieve(f"lock washer {spelling}", 3)
    assert hits and all("WP-2207-B" in h.text for h in hits)


@pytest.mark.parametrize("question", ["0", "?", "'", "the", "it's O'Brien's \\ WP-2207-A's nut"])
def test_keyword_search_takes_any_text(corpus, question):
    """Found by schemathesis: a question without searchable words made an empty tsquery,
    which PostgreSQL rejects, and the API answered 500."""
    hits = KeywordRetriever(corpus.pg).retrieve(question, 5)
    assert isinstance(hits, list)
    if "WP-2207-A" in question:
        assert hits and "WP-2207-A" in hits[0].text


def test_keyword_full_text(corpus):
    hits = KeywordRetriever(corpus.pg).retrieve("wet stacking light load", 5)
    assert any("wet stacking" in h.text for h in hits)


def test_keyword_ranks_by_bm25_rare_words_first(corpus):
    """BM25: a chunk holding the question's rare words outranks one repeating a common word;
    PostgreSQL's ts_rank ranked them the other way round on the real manuals."""
    hits = KeywordRetriever(corpus.pg).retrieve("the generator wet stacking", 5)
    assert hits and "wet stacking" in hits[0].text.lower()
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_unit_search_finds_the_row_and_brings_its_chunk(corpus):
    """One parts-list row is found by its own words and returns its whole chunk, with the
    row that matched."""
    hits = KeywordRetriever(corpus.pg, over="part_rows").retrieve("lock washer part number", 3)
    assert hits and all(h.unit and _lines_in(h.unit, h.text) for h in hits)
    assert "washer" in hits[0].unit.lower()
    assert len({h.chunk_id for h in hits}) == len(hits)  # a chunk once, at its best row
    vec = VectorRetriever(corpus.pg, corpus.embedder, over="units").retrieve(
        "how tight should the nut holding the impeller be", 5
    )
    assert vec and all(h.unit and _lines_in(h.unit, h.text) for h in vec)


def test_graph_links_part_numbers_however_spelled(corpus):
    g = GraphRetriever(corpus.graph, corpus.pg)
    for spelling in ("WP-2207-B", "wp2207b", "WP 2207 B"):
        lookup = g.lookup(f"What does {spelling} replace?")
        assert lookup.parts == ["WP-2207-B"], spelling
        part = next(f for f, _ in lookup.facts if f.kind == "part")
        assert "supersedes WP-2207-A" in part.text


def test_graph_pulls_specs_of_the_named_machine(corpus):
    g = GraphRetriever(corpus.graph, corpus.pg)
    lookup = g.lookup("What torque does the impeller nut on the P-200 get?")
    assert lookup.equipment == ["P-200"]
    values = {f.value.split(" (")[0] for f, _ in lookup.facts if f.kind == "spec"}
    assert {"95 N·m", "110 N·m"} <= values  # the manual's and the bulletin's
    assert any(f.value == "95 N·m (70 lbf·ft)" for f, _ in lookup.facts)  # both units, one fact
    hits = g.hits(lookup, 5)
    assert hits and all(h.facts for h in hits)
    assert any("95 N·m" in h.text for h in hits)


def test_graph_procedure_carries_its_warnings(corpus):
    lookup = GraphRetriever(corpus.graph, corpus.pg).lookup(
        "How do I change the engine oil and oil filters on the DG-450?"
    )
    procs = [f for f, _ in lookup.facts if f.kind == "procedure"]
    assert procs and any("WARNING" in f.text for f in procs)


def test_hybrid_times_every_stage_and_flags_irrelevant_questions(hybrid):
    r = hybrid.retrieve("What torque does the impeller nut on the P-200 get?")
    # keyword searches ran on connections of their own while the question was embedded
    searches = {"embed", "vector", "keyword", "vector_units", "keyword_units", "keyword_wait"}
    assert set(r.timings) == searches | {"graph", "fusion", "total"}
    assert r.timings["total"] < sum(r.timings.values()) - r.timings["total"]
    assert sum(h.tokens for h in r.hits[1:]) + r.hits[0].tokens <= max(
        hybrid.settings.context_tokens, r.hits[0].tokens
    )
    assert r.relevant(hybrid.settings.min_relevance)
    assert r.facts and all(
        f.kind == "part" or f.chunk_id in {h.chunk_id for h in r.hits} for f in r.facts
    )
    off_topic = hybrid.retrieve("Who won the football world cup in 1998?")
    assert not off_topic.relevant(hybrid.settings.min_relevance)
    assert hybrid.retrieve("What is the torque?", use_graph=False).timings.keys() == {
        *searches,
        "fusion",
        "total",
    }
    asks_part = hybrid.retrieve("What is the part number of the lock washer?", use_graph=False)
    assert {"vector_part_rows", "keyword_part_rows"} <= asks_part.timings.keys()


def test_searches_beside_rank_as_searches_in_turn(hybrid, corpus):
    """Keyword searches on the store's other connections, in threads, find what they find
    on its own connection one after another; the other connections close with the store."""
    serial = HybridRetriever(
        corpus.settings, corpus.pg, corpus.embedder, hybrid.graph, beside=False
    )
    part_rows = 0
    for item in load(DEV):
        a, b = hybrid.retrieve(item.question), serial.retrieve(item.question)
        part_rows += "keyword_part_rows" in a.timings
        assert "keyword_wait" in a.timings and "keyword_wait" not in b.timings
        assert [(h.chunk_id, round(h.score, 9)) for h in a.fused] == [
            (h.chunk_id, round(h.score, 9)) for h in b.fused
        ]
        assert a.facts == b.facts and a.by_retriever.keys() == b.by_retriever.keys()
    assert part_rows >= 3  # the lane searching parts-list rows ran too
    others = [corpus.pg.searcher(slot) for slot in range(len(hybrid.lanes))]
    assert len({id(corpus.pg.conn), *(id(o.conn) for o in others)}) == 1 + len(hybrid.lanes)
    # A search connection the server closed is replaced at the next ping, before a question
    first = others[0]
    pid = first.conn.execute("SELECT pg_backend_pid() AS p").fetchone()["p"]
    corpus.pg.conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    corpus.pg.ping()
    assert first.conn.closed and corpus.pg.searcher(0) is not first
    assert hybrid.retrieve("impeller nut torque").timings["keyword"] > 0
    temporary = PgStore(corpus.pg.url, corpus.pg.dim)
    side = temporary.searcher(0)
    temporary.close()
    assert side.conn.closed and temporary.conn.closed


def test_fusion_beats_every_single_retriever_and_the_baselines_on_the_dev_set(hybrid, corpus):
    items = load(DEV)
    table = retrieval_baselines(hybrid, Chunks.of(corpus.pg), corpus.embedder, items).table
    assert {m["questions"] for m in table.values()} == {sum(i.answerable for i in items)}
    recall = {name: m["recall@5"] for name, m in table.items()}
    assert recall["fused"] > max(recall["dense"], recall["keyword"], recall["graph"]), recall
    assert recall["fused"] > max(recall["bm25"], recall["llamaindex"]), recall
    assert recall["fused"] >= 0.8, recall


def test_llamaindex_query_engine_with_maint_retriever_and_llm(hybrid, corpus):
    from llama_index.core.query_engine import RetrieverQueryEngine

    from serving.answering.answer import GeneratorPool
    from serving.answering.llamaindex import MaintLLM, MaintRetriever

    llm = MaintLLM(GeneratorPool(corpus.settings).get(None), num_output=40)
    engine = RetrieverQueryEngine.from_args(MaintRetriever(hybrid), llm=llm)
    response = engine.query("What torque does the impeller nut on the P-200 get?")
    assert str(response).strip()  # SmolLM2 answered through LlamaIndex
    nodes = response.source_nodes
    assert nodes and all(n.node.metadata["document"] and n.node.metadata["pages"] for n in nodes)
    assert any("95 N·m" in n.node.get_content() for n in nodes)
    assert all(":" in n.node.node_id for n in nodes)  # our chunk ids, for citations


def _lines_in(unit: str, text: str) -> bool:
    """A row unit is its table's header line and its own line; both are in the chunk."""
    return all(line in text for line in unit.splitlines())


def _hnsw_scans(pg, index: str) -> int:
    pg.conn.execute("SELECT pg_stat_force_next_flush()")
    pg.conn.execute("SELECT 1")  # the flush happens when the backend goes idle after this
    pg.conn.execute("SELECT pg_stat_clear_snapshot()")
    return pg.conn.execute(
        "SELECT coalesce(sum(idx_scan), 0) AS n FROM pg_stat_user_indexes WHERE indexrelname = %s",
        (index,),
    ).fetchone()["n"]


def test_small_tables_are_searched_exactly(corpus, monkeypatch):
    """Up to EXACT_VECTOR_ROWS rows a vector search reads every row (HNSW lost the nearest
    units of some real-manual questions); past it, the HNSW graph."""
    from retrieval import pgstore

    pg = corpus.pg
    question = corpus.embedder.embed(["torque of the impeller nut"])[0]
    before = _hnsw_scans(pg, "units_embedding_hnsw")
    exact = pg.vector_search(question, 10, over="units")
    assert _hnsw_scans(pg, "units_embedding_hnsw") == before
    assert exact == pg.vector_search(question, 10, over="units", exact=True)
    monkeypatch.setattr(pgstore, "EXACT_VECTOR_ROWS", 0)
    pg.vector_search(question, 10, over="units")
    assert _hnsw_scans(pg, "units_embedding_hnsw") == before + 1
