"""Several ingestion workers on one set of stores (issue 18): ``maint ingest`` processes that
share one PostgreSQL and one graph split a batch between them and leave what one worker
leaves; a worker that starts while another writes, or after one died, cleans up only what was
abandoned."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from graph.base import GraphStore
from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres
from infra.services import open_graph, open_pgstore
from ingestion.pipeline import Ingestor, document_claim
from tests.helpers import GEARBOX, ROOT, SAMPLES, Workspace, assert_consistent, workspace

# Three of the sample manuals (Markdown, PDF, text): the pump's manual and its bulletin share
# parts, the pump's manual and the gearbox's a bearing (nodes that two documents write).
BATCH = ("cg-90-conveyor-gearbox.md", "p200-centrifugal-pump.pdf", "sb-2024-07-p200-impeller.txt")
CLAIMED = "another worker is ingesting"
# Nodes that chunks of several documents mention: their properties are those of the document
# written last (``SET n += props``), so they depend on the order of writes, not on workers.
SHARED_NODES = (
    "MATCH (n)-[:MENTIONED_IN]->(c:Chunk) WITH n, count(DISTINCT c.document_id) AS docs"
    " WHERE docs > 1 RETURN labels(n)[0] AS label, n.key AS key"
)


@pytest.fixture
def shared(tmp_path_factory, embedder, model_cache) -> Iterator[Workspace]:
    """A second pair of embedded servers, which the workers reach by URL, as they would
    external servers (``MAINT_DATABASE_URL``, ``MAINT_GRAPH_URI``)."""
    yield from workspace(tmp_path_factory.mktemp("shared"), embedder, model_cache)


def _worker(n: int, batch: Path, stores: Workspace, tmp_path: Path) -> subprocess.Popen:
    """``maint ingest --json BATCH`` with a data dir of its own and the shared stores."""
    env = {
        **os.environ,
        "MAINT_DATA_DIR": str(tmp_path / f"worker-{n}"),
        "MAINT_DATABASE_URL": EmbeddedPostgres(stores.settings.data_dir).url,
        "MAINT_GRAPH_URI": EmbeddedFalkorDB(stores.settings.data_dir).url,
        # One file claimed at a time (none parsed ahead): the second worker, started with the
        # first, finds work unless it is late by more than the first's two first files.
        "MAINT_PARSE_WORKERS": "0",
    }
    cmd = [sys.executable, "-m", "maint.cli", "ingest", "--json", str(batch)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _rows(ws: Workspace, sql: str) -> list[dict]:
    return ws.pg.conn.execute(sql).fetchall()


def _stored(ws: Workspace) -> dict:
    """Every row and every fact, embeddings aside (``_embeddings``)."""
    return {
        "documents": _rows(
            ws,
            "SELECT id, sha256, source_path, title, format, pages, bytes, status, chunk_count"
            " FROM documents ORDER BY id",
        ),
        "chunks": _rows(
            ws,
            "SELECT id, document_id, ordinal, section_path, page_start, page_end, tokens, text,"
            " term_count FROM chunks ORDER BY id",
        ),
        "units": _rows(ws, "SELECT id, chunk_id, kind, text, term_count FROM units ORDER BY id"),
        "chunk_terms": _rows(ws, "SELECT chunk_id, term, tf FROM chunk_terms ORDER BY 1, 2"),
        "unit_terms": _rows(ws, "SELECT unit_id, term, tf FROM unit_terms ORDER BY 1, 2"),
        "graph": ws.graph.stats(),
        "graph_documents": sorted(ws.graph.document_ids()),
        **_facts(ws.graph),
    }


def _facts(graph: GraphStore) -> dict:
    """Nodes and relations with their properties. Where several documents wrote one node or
    relation, its properties are the last writer's and ``documents`` lists its writers in
    order of writing: those are compared as keys and the set of writers."""
    shared = {(r["label"], r["key"]) for r in graph.run(SHARED_NODES)}
    nodes = []
    for n in graph.export_nodes():
        label, props = n["labels"][0], n["props"]
        key = props.get("key", props.get("id"))
        nodes.append((label, key, None if (label, key) in shared else json.dumps(props)))
    relations = []
    for r in graph.export_relationships():
        props = dict(r["props"])
        writers = sorted(props.pop("documents", None) or [])
        relations.append(
            (
                r["type"],
                r["src_label"],
                r["src_key"],
                r["dst_label"],
                r["dst_key"],
                writers,
                json.dumps(props, sort_keys=True) if len(writers) < 2 else None,
            )
        )
    return {"nodes": sorted(nodes), "relations": sorted(relations, key=repr)}


def _embeddings(ws: Workspace, table: str) -> np.ndarray:
    rows = _rows(ws, f"SELECT embedding::real[] AS e FROM {table} ORDER BY id")
    return np.array([r["e"] for r in rows])


def test_two_workers_store_what_one_worker_stores(scratch, shared, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in BATCH:
        shutil.copy(SAMPLES / name, batch / name)
    one = scratch.ingest(batch)
    assert one.count("added") == len(BATCH), one.to_dict()

    workers = [_worker(n, batch, shared, tmp_path) for n in (1, 2)]  # started together
    try:
        outs = [proc.communicate(timeout=300)[0] for proc in workers]
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
    assert [proc.returncode for proc in workers] == [0, 0]
    summaries = [json.loads(out) for out in outs]

    assert _stored(shared) == _stored(scratch)
    for table in ("chunks", "units"):
        assert np.allclose(_embeddings(shared, table), _embeddings(scratch, table), atol=1e-4)
    runs = "SELECT count(*) AS n FROM ingestion_runs WHERE finished_at IS NOT NULL"
    assert _rows(shared, runs) == [{"n": 2}]
    assert shared.pg.pending_documents() == []
    assert_consistent(shared)

    # The batch was split: every document stored by exactly one worker, each did some, and
    # what one skipped as claimed, the other stored.
    added = [{f["document_id"] for f in s["files"] if f["status"] == "added"} for s in summaries]
    assert not added[0] & added[1]
    assert added[0] | added[1] == {f.document_id for f in one.files}
    assert added[0] and added[1], added
    for theirs, summary in ((1, summaries[0]), (0, summaries[1])):
        for f in summary["files"]:
            if f["status"] == "skipped":
                assert CLAIMED in f["reason"] and f["document_id"] in added[theirs], f
            else:
                assert f["status"] in ("added", "unchanged"), f


def _locks_gone(ws: Workspace, timeout: float = 10) -> bool:
    """No advisory lock is held (a closed connection's go when its server process ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _rows(ws, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"):
            return True
        time.sleep(0.05)
    return False


def test_recover_leaves_what_a_live_worker_writes(scratch, monkeypatch):
    """A second worker starting (and recovering) while the first is between writing a
    document pending and completing it leaves that document alone."""
    settings = scratch.settings
    second_pg, second_graph = open_pgstore(settings), open_graph(settings)
    second = Ingestor(settings, second_pg, second_graph)
    recovered = []
    write = GraphStore.write_document

    def second_worker_starts(self, *args, **kwargs):  # step 1 done: pending in PostgreSQL
        recovered.append(second.recover())
        return write(self, *args, **kwargs)

    try:
        with monkeypatch.context() as m:
            m.setattr(GraphStore, "write_document", second_worker_starts)
            summary = scratch.ingest(GEARBOX)
    finally:
        second_graph.close()
        second_pg.close()
    assert recovered == [[]]
    assert summary.files[0].status == "added"
    assert scratch.pg.counts()["documents"] == 1
    assert_consistent(scratch)


def test_a_dead_workers_claim_dies_with_it(scratch, monkeypatch):
    """A worker stopped between steps 1 and 2 leaves a pending document. While its
    connection lives, the document is taken as being written (the file is skipped with a
    line saying so); once the connection is gone, the next run removes it and ingests the
    file."""
    with monkeypatch.context() as m:
        m.setattr(GraphStore, "write_document", _raise_interrupt)
        with pytest.raises(KeyboardInterrupt):
            scratch.ingest(GEARBOX)
    [pending] = scratch.pg.pending_documents()
    worker = open_pgstore(scratch.settings)  # the stopped worker's connection, claim held
    try:
        assert worker.claim(document_claim(pending.id))
        summary = scratch.ingest(GEARBOX)
        assert summary.recovered == []
        assert summary.files[0].status == "skipped" and CLAIMED in summary.files[0].reason
        assert [d.id for d in scratch.pg.pending_documents()] == [pending.id]
    finally:
        worker.close()  # its process ends
    assert _locks_gone(scratch)
    summary = scratch.ingest(GEARBOX)
    assert summary.recovered == [pending.id]
    assert summary.files[0].status == "added"
    assert scratch.pg.pending_documents() == [] and scratch.pg.counts()["documents"] == 1
    assert_consistent(scratch)


def _raise_interrupt(self, *args, **kwargs):
    raise KeyboardInterrupt
