"""docs/graph.md tells the truth about the graph maint builds.

- Its node and relation tables are compared with the graph the sample manuals produce on the
  embedded FalkorDB: every label, property and relation there is documented, and nothing
  documented is missing.
- Every Cypher query on the page runs on the embedded FalkorDB with its example parameters
  and returns rows, except those marked ``neo4j-only`` (skipped here with the doc's reason;
  ``tests/test_production_stack.py`` runs all of them on Neo4j 5).

Query convention (see the page): each query is a fenced ``cypher`` block under a heading; a
first comment line ``// :params {part: 'WP2207A'}`` gives example parameters in Neo4j
Browser's ``:params`` syntax (a map literal that YAML reads too), and a comment line
``// neo4j-only: REASON`` marks a query FalkorDB cannot run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GRAPH_MD = ROOT / "docs" / "graph.md"

_PARAMS = re.compile(r"^//\s*:params\s+(\{.*\})\s*$")
_NEO4J_ONLY = re.compile(r"^//\s*neo4j-only:\s*(.+)$")
_PARAM_USE = re.compile(r"\$([A-Za-z_]\w*)")
_TICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class DocQuery:
    title: str
    text: str  # the block as a reader pastes it, comments included
    params: dict[str, Any] = field(default_factory=dict)
    neo4j_only: str | None = None  # why FalkorDB cannot run it

    @property
    def statement(self) -> str:
        """The block without its trailing ';' (Browser splits statements on it; a driver
        sends one statement)."""
        return self.text.strip().rstrip(";").rstrip()


def doc_queries(path: Path = GRAPH_MD) -> list[DocQuery]:
    """Every ```cypher block of the page, with the heading above it and its parameters."""
    queries: list[DocQuery] = []
    heading = ""
    block: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if block is not None:
            if line.strip() == "```":
                queries.append(_query(heading, block))
                block = None
            else:
                block.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.strip() == "```cypher":
            block = []
    if block is not None:
        raise ValueError(f"{path}: unterminated ```cypher block under {heading!r}")
    return queries


def _query(heading: str, lines: list[str]) -> DocQuery:
    params: dict[str, Any] = {}
    neo4j_only = None
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("//"):
            break  # parameters and markers come first
        if m := _PARAMS.match(stripped):
            loaded = yaml.safe_load(m.group(1))
            if not isinstance(loaded, dict):
                raise ValueError(f"{heading!r}: ':params' is not a map: {m.group(1)}")
            params = loaded
        elif m := _NEO4J_ONLY.match(stripped):
            neo4j_only = m.group(1).strip()
    return DocQuery(heading, "\n".join(lines), params, neo4j_only)


def _section(title: str, path: Path = GRAPH_MD) -> list[str]:
    """The lines under one heading, up to the next heading."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip("#").strip() == title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start + 1 : end]


def _table_rows(title: str) -> list[list[str]]:
    """Cells of the table under a heading, header and separator left out."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in _section(title)
        if line.strip().startswith("|")
    ]
    return rows[2:]


def documented_nodes() -> dict[str, set[str]]:
    """label -> its documented properties (the key included), from the Nodes table."""
    nodes: dict[str, set[str]] = {}
    for label_cell, key_cell, props_cell, _scope in _table_rows("Nodes"):
        (label,) = _TICKED.findall(label_cell)
        key = _TICKED.findall(key_cell)[0]
        props = {p for p in _TICKED.findall(props_cell) if re.fullmatch(r"[a-z_][a-z0-9_]*", p)}
        nodes[label] = {key, *props}
    return nodes


def documented_relations() -> tuple[set[tuple[str, str, str]], dict[str, set[str]]]:
    """(from, type, to) triples and type -> properties, from the Relations table."""
    triples: set[tuple[str, str, str]] = set()
    props: dict[str, set[str]] = {}
    for type_cell, from_cell, to_cell, props_cell in _table_rows("Relations"):
        (rel,) = _TICKED.findall(type_cell)
        triples |= {
            (src, rel, dst)
            for src in _TICKED.findall(from_cell)
            for dst in _TICKED.findall(to_cell)
        }
        props[rel] = set(_TICKED.findall(props_cell))
    return triples, props


QUERIES = doc_queries()


# -- the page itself (no store needed) -------------------------------------------------------
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


# -- against the graph of the sample manuals ---------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("q", QUERIES, ids=[q.title for q in QUERIES])
def test_query_returns_rows_on_the_sample_corpus(corpus, q: DocQuery):
    if q.neo4j_only:
        pytest.skip(f"neo4j-only: {q.neo4j_only}")
    rows = corpus.graph.run(q.statement, q.params)
    assert rows, f"{q.title!r} returned nothing on the sample manuals"


@pytest.mark.slow
def test_node_table_matches_the_graph(corpus):
    rows = corpus.graph.run(
        "MATCH (n) UNWIND keys(n) AS k RETURN labels(n)[0] AS label, collect(DISTINCT k) AS keys"
    )
    actual = {r["label"]: set(r["keys"]) for r in rows}
    assert documented_nodes() == actual


@pytest.mark.slow
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
