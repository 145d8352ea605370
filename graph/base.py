"""The graph store interface: one small ABC, two adapters (FalkorDB, Neo4j 5).

The write path is shared: it batches every label and relation type into UNWIND statements,
so a manual with a thousand facts is a few dozen round trips, whichever engine is behind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from graph import cypher
from maint.domain import (
    DOCUMENT_SCOPED_LABELS,
    SHARED_LABELS,
    Chunk,
    DocumentRecord,
    Facts,
)
from maint.errors import MaintError

BATCH = 500
EXPORT_PAGE = 1000  # nodes per export page (backups)
Statement = tuple[str, dict[str, Any]]


class GraphError(MaintError):
    """The graph store is unreachable or refused a statement; the message says why."""


def _batches(rows: Sequence[dict], size: int = BATCH) -> Iterable[list[dict]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def key_property(label: str) -> str:
    """The property that identifies a node of ``label`` (see docs/graph.md): exports and
    imports address nodes by it, never by an engine's internal id."""
    return "id" if label in ("Document", "Chunk") else "key"


def exported_relation(row: dict[str, Any]) -> dict[str, Any]:
    """A relation row (``cypher._EDGE_COLUMNS``) with each end named by its key property."""
    ends = {}
    for end in ("src", "dst"):
        label = row[f"{end}_label"]
        key = row[f"{end}_id"] if key_property(label) == "id" else row[f"{end}_key"]
        if key is None:
            raise GraphError(
                f"a {row['type']} relation has a {label} node without its "
                f"{key_property(label)!r} property at one end; it cannot be exported"
            )
        ends[end] = (label, key)
    return {
        "type": row["type"],
        "src_label": ends["src"][0],
        "src_key": ends["src"][1],
        "dst_label": ends["dst"][0],
        "dst_key": ends["dst"][1],
        "props": row["props"],
    }


class GraphStore(ABC):
    backend: str
    dialect: cypher.Dialect

    # -- what each adapter provides -------------------------------------------------------
    @abstractmethod
    def run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement; rows come back as dicts keyed by the RETURN names."""

    @abstractmethod
    def run_all(self, statements: Sequence[Statement]) -> None:
        """Run write statements in order: in one transaction where the engine has them."""

    @abstractmethod
    def _create_unique(self, label: str, prop: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- shared behaviour -----------------------------------------------------------------
    def ping(self) -> bool:
        try:
            self.run("RETURN 1 AS ok")
            return True
        except Exception:
            return False

    def ensure_schema(self) -> None:
        for label, prop in [("Document", "id"), ("Chunk", "id")] + [
            (label, "key") for label in (*SHARED_LABELS, *DOCUMENT_SCOPED_LABELS)
        ]:
            self._create_unique(label, prop)
        for label in ("Chunk", *DOCUMENT_SCOPED_LABELS):
            self._create_index(label, "document_id")

    def _create_index(self, label: str, prop: str) -> None:
        try:
            self.run(self.dialect.index_statement(label, prop))
        except Exception as exc:  # FalkorDB has no IF NOT EXISTS
            if "already indexed" not in str(exc):
                raise

    def write_document(self, doc: DocumentRecord, chunks: Sequence[Chunk], facts: Facts) -> None:
        """Write a document's chunks and facts (idempotent: MERGE by key)."""
        stmts: list[Statement] = [
            (
                cypher.MERGE_DOCUMENT,
                {
                    "id": doc.id,
                    "props": {
                        "title": doc.title,
                        "source_path": doc.source_path,
                        "sha256": doc.sha256,
                        "format": doc.format,
                        "pages": doc.pages,
                    },
                },
            )
        ]
        chunk_rows = [
            {
                "id": c.id,
                "document_id": doc.id,
                "props": {
                    "document_id": doc.id,
                    "ordinal": c.ordinal,
                    "section": c.section_path,
                    "page_start": c.page_start,
                    "page_end": c.page_end,
                },
            }
            for c in chunks
        ]
        stmts += [(cypher.MERGE_CHUNKS, {"rows": b}) for b in _batches(chunk_rows)]

        nodes_by_label: dict[str, list[dict]] = defaultdict(list)
        mentions_by_label: dict[str, list[dict]] = defaultdict(list)
        for node in facts.nodes:
            props = dict(node.props)
            if node.label in DOCUMENT_SCOPED_LABELS:
                props["document_id"] = doc.id
            nodes_by_label[node.label].append({"key": node.key, "props": props})
            mentions_by_label[node.label] += [
                {"key": node.key, "chunk": cid} for cid in node.chunk_ids
            ]
        for label, rows in nodes_by_label.items():
            stmts += [(cypher.merge_nodes(label), {"rows": b}) for b in _batches(rows)]
        for label, rows in mentions_by_label.items():
            stmts += [(cypher.link_mentions(label), {"rows": b}) for b in _batches(rows)]

        edges: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        for e in facts.edges:
            edges[(e.type, e.src_label, e.dst_label)].append(
                {"src": e.src_key, "dst": e.dst_key, "props": e.props}
            )
        for (rel, src, dst), rows in edges.items():
            query = cypher.merge_edges(rel, src, dst)
            stmts += [(query, {"rows": b, "doc": doc.id}) for b in _batches(rows)]
        self.run_all(stmts)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document's chunks, its own facts, and shared facts only it supported."""
        p = {"doc": doc_id}
        stmts: list[Statement] = [(cypher.delete_scoped(lb), p) for lb in DOCUMENT_SCOPED_LABELS]
        stmts += [
            (cypher.UNLINK_DOCUMENT_FROM_EDGES, p),
            (cypher.DELETE_UNSUPPORTED_EDGES, {}),
            (cypher.DELETE_CHUNKS, p),
            (cypher.DELETE_DOCUMENT, p),
        ]
        stmts += [(cypher.delete_orphans(lb), {}) for lb in SHARED_LABELS]
        self.run_all(stmts)

    def document_ids(self) -> set[str]:
        return {r["id"] for r in self.run(cypher.DOCUMENT_IDS)}

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            "nodes": {r["label"]: int(r["count"]) for r in self.run(cypher.LABEL_COUNTS)},
            "relations": {r["type"]: int(r["count"]) for r in self.run(cypher.REL_COUNTS)},
        }

    # -- backup and restore (infra/backup.py) ---------------------------------------------
    def node_count(self) -> int:
        return int(self.run(cypher.NODE_COUNT)[0]["count"])

    def clear(self, batch: int = 10_000) -> int:
        """Delete every node and relation, in batches (one huge DETACH DELETE is one huge
        transaction on Neo4j). Indexes and constraints may go too (FalkorDB): call
        ``ensure_schema()`` after. Returns the nodes deleted."""
        deleted = 0
        while True:
            n = int(self.run(cypher.CLEAR_BATCH, {"limit": batch})[0]["count"])
            deleted += n
            if n == 0:
                return deleted

    def _keyset(self, query: Callable[[bool], str], label: str, page: int) -> Iterator[list]:
        """Pages of one label's rows in key order, each page starting after the last key."""
        after = None
        while True:
            params = {"label": label, "after": after, "limit": page}
            rows = self.run(query(after is None), params)
            if rows:
                yield rows
            if len(rows) < page:
                return
            after = rows[-1]["node_key"]

    def export_nodes(self, page: int = EXPORT_PAGE) -> Iterator[dict[str, Any]]:
        """Every node as ``{"labels", "props"}``, label by label in key order (so two exports
        of the same graph are identical). Nodes without their key property are skipped: the
        caller compares counts with ``stats()``."""
        for label in sorted(self.stats()["nodes"]):
            key = key_property(label)
            for rows in self._keyset(
                lambda first, lb=label, k=key: cypher.export_nodes(lb, k, first), label, page
            ):
                for r in rows:
                    yield {"labels": list(r["labels"]), "props": r["props"]}

    def export_relationships(self, page: int = EXPORT_PAGE) -> Iterator[dict[str, Any]]:
        """Every relation as ``{"type", "src_label", "src_key", "dst_label", "dst_key",
        "props"}``, its ends named by label and key, grouped by source node in key order."""
        for label in sorted(self.stats()["nodes"]):
            key = key_property(label)
            for keys in self._keyset(
                lambda first, lb=label, k=key: cypher.export_node_keys(lb, k, first), label, page
            ):
                rows = self.run(
                    cypher.export_relationships(label, key), {"keys": [r["node_key"] for r in keys]}
                )
                out = [exported_relation(r) for r in rows]
                out.sort(key=lambda e: (e["src_key"], e["type"], e["dst_label"], e["dst_key"]))
                yield from out

    def import_nodes(
        self, rows: Iterable[dict[str, Any]], on_batch: Callable[[int], None] | None = None
    ) -> int:
        """Write exported nodes into an empty graph in the order given (consecutive nodes
        with the same labels go in one CREATE batch), so an engine that numbers nodes as
        they come numbers them in the export's order. Returns the number written;
        ``on_batch`` hears each batch's size (progress bars)."""
        batch: list[dict] = []
        batch_labels: tuple[str, ...] = ()
        written = 0

        def flush() -> None:
            nonlocal written
            if not batch:
                return
            self.run(cypher.import_nodes(batch_labels), {"rows": batch})
            written += len(batch)
            if on_batch:
                on_batch(len(batch))
            batch.clear()

        for row in rows:
            labels = tuple(row["labels"])
            if not labels:
                raise GraphError(f"a node without a label cannot be imported: {row['props']}")
            if row["props"].get(key_property(labels[0])) is None:
                raise GraphError(
                    f"a {labels[0]} node without {key_property(labels[0])!r} cannot be "
                    f"imported: {row['props']}"
                )
            if labels != batch_labels or len(batch) >= BATCH:
                flush()
                batch_labels = labels
            batch.append({"props": row["props"]})
        flush()
        return written

    def import_relationships(
        self, rows: Iterable[dict[str, Any]], on_batch: Callable[[int], None] | None = None
    ) -> int:
        """Write exported relations back between imported nodes (CREATE, batched per type
        and end labels). A relation whose end is missing is an error, not a silent skip."""
        buffers: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        written = 0

        def flush(group: tuple[str, str, str]) -> None:
            nonlocal written
            rel, src, dst = group
            batch = buffers.pop(group)
            query = cypher.import_relationships(rel, src, key_property(src), dst, key_property(dst))
            found = int(self.run(query, {"rows": batch})[0]["count"])
            if found != len(batch):
                raise GraphError(
                    f"{len(batch) - found} of {len(batch)} {rel} relations ({src} -> {dst}) "
                    "have an end node that is not in the graph"
                )
            written += found
            if on_batch:
                on_batch(found)

        for row in rows:
            group = (row["type"], row["src_label"], row["dst_label"])
            buffers[group].append(
                {"src": row["src_key"], "dst": row["dst_key"], "props": row["props"]}
            )
            if len(buffers[group]) >= BATCH:
                flush(group)
        for group in list(buffers):
            flush(group)
        return written

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
