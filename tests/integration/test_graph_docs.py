"""docs/graph.md tells the truth about the graph maint builds (the page itself is checked in
``tests/unit/test_graph_docs.py``).

- Its node and relation tables are compared with the graph the sample manuals produce on the
  embedded FalkorDB: every label, property and relation there is documented, and nothing
  documented is missing.
- Every Cypher query on the page runs on the embedded FalkorDB with its example parameters
  and returns rows, except those marked ``neo4j-only`` (skipped here with the doc's reason;
  ``tests/integration/test_production_stack.py`` runs all of them on Neo4j 5).

The page's query convention is read by ``tests.helpers.doc_queries``.
"""

from __future__ import annotations

import pytest

from tests.helpers import QUERIES, DocQuery, documented_nodes, documented_relations


# -- against the graph of the sample manuals ---------------------------------------------------
@pytest.mark.parametrize("q", QUERIES, ids=[q.title for q in QUERIES])
def test_query_returns_rows_on_the_sample_corpus(corpus, q: DocQuery):
    if q.neo4j_only:
        pytest.skip(f"neo4j-only: {q.neo4j_only}")
    rows = corpus.graph.run(q.statement, q.params)
    assert rows, f"{q.title!r} returned nothing on the sample manuals"


def test_node_table_matches_the_graph(corpus):
    rows = corpus.graph.run(
        "MATCH (n) UNWIND keys(n) AS k RETURN labels(n)[0] AS label, collect(DISTINCT k) AS keys"
    )
    actual = {r["label"]: set(r["keys"]) for r in rows}
    assert documented_nodes() == actual


def test_relation_table_matches_the_graph(corpus):
    triples, props = documented_relations()
    rows = corpus.graph.run(
        "MATCH (a)-[r]->(b) RETURN DISTINCT labels(a)[0] AS a, type(r) AS t, labels(b)[0] AS b"
    )
    actual = {(r["a"], r["t"], r["b"]) for r in rows}
    assert actual <= triples, f"undocumented relations: {sorted(actual - triples)}"
    assert {t for _, t, _ in actual} == {t for _, t, _ in triples}
    rows = corpus.graph.run(
        "MATCH ()-[r]->() UNWIND keys(r) AS k RETURN type(r) AS t, collect(DISTINCT k) AS keys"
    )
    actual_props = {t: set() for t in props} | {r["t"]: set(r["keys"]) for r in rows}
    assert actual_props == props
