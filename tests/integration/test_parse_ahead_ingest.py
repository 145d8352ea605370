"""Ingesting with files parsed ahead in worker processes stores what the serial path stores."""

from __future__ import annotations

import shutil

from ingestion.pipeline import Ingestor
from tests.helpers import SAMPLES, FakeEmbedder, Workspace, with_


def _stored(ws: Workspace) -> dict:
    rows = ws.pg.conn.execute(
        "SELECT id, section_path, page_start, page_end, text, tokens, embedding::text"
        " FROM chunks ORDER BY id"
    ).fetchall()
    facts = ws.graph.run(
        "MATCH (a)-[r]->(b) RETURN labels(a)[0] AS a, properties(a) AS pa, type(r) AS r,"
        " labels(b)[0] AS b, properties(b) AS pb"
    )
    key = lambda f: repr(sorted(f.items()))  # noqa: E731
    return {**ws.state(), "chunks": rows, "facts": sorted(facts, key=key)}


def test_parse_ahead_stores_what_the_serial_path_stores(scratch: Workspace, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLES, corpus)
    shutil.copy(SAMPLES / "cg-90-conveyor-gearbox.md", corpus / "same-content-again.md")
    (corpus / "empty.txt").write_text("")
    runs = {}
    for workers in (0, 2):
        scratch.wipe()
        settings = with_(scratch.settings, parse_workers=workers)
        summary = Ingestor(settings, scratch.pg, scratch.graph, FakeEmbedder()).ingest([corpus])
        statuses = [(f.path, f.status, f.reason) for f in summary.files]
        runs[workers] = (statuses, _stored(scratch))
        assert summary.timings.parse_workers > 0 if workers else True
    assert runs[0] == runs[2]
    statuses = runs[2][0]
    assert ("unchanged", None) in [(s, r) for p, s, r in statuses if "same-content" in p]
    assert [s for p, s, r in statuses if p.endswith("empty.txt")] == ["failed"]
