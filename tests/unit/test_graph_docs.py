"""docs/graph.md itself: it holds the queries a reader needs, each declares exactly the
parameters it uses, and the page's query convention is read as documented (no store needed;
``tests/integration/test_graph_docs.py`` runs the queries on the sample corpus)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import QUERIES, DocQuery, doc_queries

_PARAM_USE = re.compile(r"\$([A-Za-z_]\w*)")


def test_the_page_holds_the_queries_the_issue_asks_for():
    titles = [q.title for q in QUERIES]
    assert len(titles) == len(set(titles)), "two queries under one heading"
    assert len(QUERIES) >= 12
    for wanted in (
        "Every procedure that uses a given part",
        "All torque specs of one machine",
        "Warnings attached to a procedure",
        "Parts shared across machines",
    ):
        assert any(t.startswith(wanted) for t in titles), f"no query titled {wanted!r}"


@pytest.mark.parametrize("q", QUERIES, ids=[q.title for q in QUERIES])
def test_each_query_declares_exactly_the_parameters_it_uses(q: DocQuery):
    used = set(_PARAM_USE.findall(q.text))
    assert used == set(q.params), f"uses {sorted(used)}, :params gives {sorted(q.params)}"
    assert q.statement and not q.statement.endswith(";")
    assert q.neo4j_only is None or len(q.neo4j_only) > 10  # a reason, not just the tag


def test_the_parser_reads_params_and_markers(tmp_path):
    page = tmp_path / "g.md"
    page.write_text(
        "## A\n\n```cypher\n// neo4j-only: needs shortestPath in MATCH\n"
        "// :params {part: 'WP2207A', n: 3}\nMATCH (p:Part {key: $part}) RETURN p LIMIT $n;\n"
        "```\n\n### B\n```cypher\nRETURN 1;\n```\n",
        encoding="utf-8",
    )
    a, b = doc_queries(page)
    assert (a.title, a.params, a.neo4j_only) == (
        "A",
        {"part": "WP2207A", "n": 3},
        "needs shortestPath in MATCH",
    )
    assert a.statement.endswith("LIMIT $n")
    assert (b.title, b.params, b.neo4j_only, b.statement) == ("B", {}, None, "RETURN 1")
