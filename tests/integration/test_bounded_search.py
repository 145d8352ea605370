"""Keyword search that reads a bounded number of postings per word, the migration that made
it possible, and the graph's fact index that is read once per catalog version."""

from __future__ import annotations

import pytest

from eval.dataset import load
from retrieval import pgstore
from retrieval.graph_facts import GraphRetriever
from retrieval.pgstore import PgStore
from tests.helpers import ROOT, SAMPLES

DEV = ROOT / "data" / "eval" / "dev.jsonl"
QUESTIONS = [i.question for i in load(DEV)][:30]


def _search(pg, over: str = "chunks") -> dict[str, list[tuple[tuple, float]]]:
    """Per question: ((chunk, unit), score) of the 10 best; over units, a chunk comes with its
    best unit found (``unit``), whose score that is."""
    return {
        q: [
            ((r["chunk_id"], r["unit"]), round(float(r["score"]), 4))
            for r in pg.keyword_search(q, [], 10, over)
        ]
        for q in QUESTIONS
    }


@pytest.mark.parametrize("over", ["chunks", "units"])
def test_cut_postings_still_count_in_the_score(corpus, monkeypatch, over):
    """With 10 postings read per word, every chunk (or unit) returned gets its whole BM25 score
    (the cut words' weights are added back by key), and the best chunk is mostly still found."""
    full = _search(corpus.pg, over)
    monkeypatch.setattr(pgstore, "PER_TERM", 10)
    bounded = _search(corpus.pg, over)
    compared = same_top = 0
    for q, rows in bounded.items():
        scores = dict(full[q])
        for key, score in rows:
            if key in scores:
                compared += 1
                assert score == pytest.approx(scores[key], abs=1e-3), (q, key)
        same_top += bool(rows and full[q] and rows[0][0] == full[q][0][0])
    assert compared > 50
    assert same_top >= 0.6 * len(QUESTIONS)


def test_small_corpora_read_every_posting(corpus):
    """No word of the sample corpus is in more than PER_TERM rows: its ranking is plain BM25."""
    top = corpus.pg.conn.execute(
        "SELECT max(n) AS n FROM (SELECT count(*) AS n FROM chunk_terms GROUP BY term) x"
    ).fetchone()["n"]
    assert top <= pgstore.PER_TERM


def test_migration_6_keeps_every_posting_and_ranking(scratch, embedder):
    """A database from before migration 6 (no lengths or impacts on postings) is rebuilt on
    connect with the same postings, and keyword search ranks as before."""
    scratch.ingest(SAMPLES / "p200-centrifugal-pump.pdf", SAMPLES / "sb-2024-07-p200-impeller.txt")
    pg = scratch.pg
    before = _search(pg), _search(pg, "units")
    postings = pg.conn.execute("SELECT count(*) AS n FROM chunk_terms").fetchone()["n"]
    pg.conn.execute("ALTER TABLE chunk_terms DROP COLUMN impact, DROP COLUMN dl")  # as in 5
    pg.conn.execute(
        "ALTER TABLE unit_terms DROP COLUMN impact, DROP COLUMN dl, DROP COLUMN part_row"
    )
    pg.conn.execute("DELETE FROM schema_migrations WHERE version = 6")
    again = PgStore(pg.url, pg.dim)
    try:
        lengths = again.conn.execute(
            "SELECT count(*) AS n, count(*) FILTER (WHERE t.dl = c.term_count) AS same"
            " FROM chunk_terms t JOIN chunks c ON c.id = t.chunk_id"
        ).fetchone()
        assert lengths["n"] == postings and lengths["same"] == postings
        assert (_search(again), _search(again, "units")) == before
    finally:
        again.close()


def test_graph_fact_index_follows_the_catalog(scratch):
    """Facts are read from the graph once per catalog version: a manual ingested after a
    question was answered is in the next answer, and a deleted one is gone from it."""
    graph = GraphRetriever(scratch.graph, scratch.pg)
    question = "What is the oil capacity of the DG-450?"
    assert graph.lookup(question).facts == []
    scratch.ingest(SAMPLES / "dg450-diesel-genset.pdf")
    found = graph.lookup(question)
    assert any("DG-450" in f.text and f.kind == "spec" for f, _ in found.facts)
    assert (
        graph.lookup(question).facts
        == GraphRetriever(scratch.graph, scratch.pg).lookup(question).facts
    )  # the cached index scores as a fresh read does
    doc = scratch.pg.list_documents()[0]
    scratch.graph.delete_document(doc.id)
    scratch.pg.delete_document(doc.id)
    assert graph.lookup(question).facts == []
