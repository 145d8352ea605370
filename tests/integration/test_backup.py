"""Backup and restore against the real embedded stores: a workspace with part of the sample
corpus is backed up and restored into a second, fresh workspace (its own PostgreSQL and
FalkorDB), which must then answer exactly as the first. Neo4j (testcontainers) is skipped
where no Docker engine runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from psycopg import sql
from typer.testing import CliRunner

from graph.base import GraphError, GraphStore
from graph.falkordb_store import FalkorDBGraphStore
from infra.backup import (
    MANIFEST,
    NODES_FILE,
    PG_FILE,
    PG_TABLES,
    RELS_FILE,
    BackupError,
    _libpq_args,
    backup,
    restore,
)
from infra.backup_cli import backup as backup_command
from infra.backup_cli import restore as restore_command
from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres
from maint.settings import Settings
from retrieval.graph_facts import GraphRetriever
from retrieval.hybrid import HybridRetriever
from tests.helpers import SAMPLES, Workspace, docker_unavailable_reason, workspace

MANUALS = [SAMPLES / "cg-90-conveyor-gearbox.md", SAMPLES / "sb-2024-07-p200-impeller.txt"]
QUESTIONS = [
    "Which part supersedes the P-200 impeller nut lock washer WP-2207-A?",
    "To what torque must the P-200 impeller nut be tightened with lock washer WP-2207-B?",
    "Which kit must be ordered to retrofit a P-200 according to SB-2024-07?",
    "What torque do the CG-90 foot bolts get?",
    "How often is the oil of the CG-90 gearbox changed?",
]


@pytest.fixture(scope="module")
def source(tmp_path_factory, embedder, model_cache) -> Iterator[Workspace]:
    for ws in workspace(tmp_path_factory.mktemp("backup-source"), embedder, model_cache):
        summary = ws.ingest(*MANUALS)
        assert not summary.failed and summary.to_dict()["documents"]["added"] == 2
        # Some history: a manual deleted and ingested again (FalkorDB hands the freed node
        # ids out again, so node ids no longer follow ingestion order).
        doc = next(d for d in ws.pg.list_documents() if d.source_path.endswith(".md"))
        ws.ingestor().delete(doc.id)
        assert not ws.ingest(MANUALS[0]).failed
        # A restored HNSW index is built afresh; one that still holds the deleted rows' dead
        # entries can miss a far candidate that exact search finds. VACUUM clears them.
        ws.pg.conn.execute("VACUUM chunks")
        yield ws


@pytest.fixture(scope="module")
def target(tmp_path_factory, embedder, model_cache) -> Iterator[Workspace]:
    yield from workspace(tmp_path_factory.mktemp("backup-target"), embedder, model_cache)


@pytest.fixture(scope="module")
def backup_dir(source, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("backups") / "one"
    backup(source.settings, directory)
    return directory


@pytest.fixture(scope="module")
def restored(target, backup_dir) -> dict:
    assert target.state()["docs"] == [] and target.graph.node_count() == 0
    return restore(target.settings, backup_dir)


def table_rows(ws: Workspace) -> dict[str, tuple[int, str]]:
    """Row count and an md5 over every row of every maint table, in key order."""
    out = {}
    for table in PG_TABLES:
        query = sql.SQL(
            "SELECT count(*) AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
            " AS digest FROM {} t"
        ).format(sql.Identifier(table))
        row = ws.pg.conn.execute(query).fetchone()
        out[table] = (row["n"], row["digest"])
    return out


def same_relations(a: Workspace, b: Workspace) -> bool:
    def rows(ws: Workspace) -> list[str]:
        return sorted(json.dumps(r, sort_keys=True) for r in ws.graph.export_relationships())

    return rows(a) == rows(b)


def answers(ws: Workspace) -> list[dict]:
    """What hybrid retrieval gives for each question: chunks per retriever, the fused
    context and the graph facts beside it."""
    hybrid = HybridRetriever(ws.settings, ws.pg, ws.embedder, GraphRetriever(ws.graph, ws.pg))
    out = []
    for question in QUESTIONS:
        r = hybrid.retrieve(question)
        out.append(
            {
                "hits": [h.chunk_id for h in r.hits],
                "by_retriever": {k: [h.chunk_id for h in v] for k, v in r.by_retriever.items()},
                "facts": [f.to_dict() for f in r.facts],
                "similarity": round(r.best_similarity, 6),
                "identifier_found": r.identifier_found,
            }
        )
    return out


def test_backup_folder_holds_dump_graph_and_manifest(source, backup_dir):
    assert sorted(p.name for p in backup_dir.iterdir()) == [
        NODES_FILE,
        RELS_FILE,
        MANIFEST,
        PG_FILE,
    ]
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    assert manifest["format"] == "maint-backup" and manifest["maint_version"]
    assert manifest["postgres"]["tables"]["documents"] == 2
    assert manifest["postgres"]["tables"]["chunks"] == source.pg.counts()["chunks"]
    assert manifest["postgres"]["embedding_dim"] == source.settings.embedding_dim
    assert {k: v for k, v in manifest["graph"].items() if k in ("nodes", "relations")} == (
        source.graph.stats()
    )
    assert set(manifest["files"]) == {PG_FILE, NODES_FILE, RELS_FILE}
    lines = (backup_dir / NODES_FILE).read_text().splitlines()
    assert len(lines) == sum(manifest["graph"]["nodes"].values())
    assert {"labels", "props"} == set(json.loads(lines[0]))


def test_restore_into_fresh_workspace_answers_identically(source, target, restored):
    assert restored["ok"], restored["mismatches"]
    assert restored["migrations_applied"] == []
    assert target.state() == source.state()
    assert table_rows(target) == table_rows(source)
    assert target.graph.stats() == source.graph.stats()
    # Nodes in the same order (FalkorDB numbers them as the source did, so its queries
    # return rows in the same order); relations the same, in whatever order.
    assert list(target.graph.export_nodes()) == list(source.graph.export_nodes())
    assert same_relations(target, source)
    got, want = answers(target), answers(source)
    for question, a, b in zip(QUESTIONS, got, want, strict=True):
        for field in b:
            assert a[field] == b[field], (question, field)
    assert all(a["hits"] for a in want) and any(a["facts"] for a in want)


def test_store_neutral_export_and_clear_as_neo4j_runs_them(source, target):
    """Neo4j uses the GraphStore defaults (key order, keyset pages, batched DETACH DELETE);
    the same Cypher runs on FalkorDB, so run it here, in small pages."""
    nodes = list(GraphStore.export_nodes(source.graph, page=7))
    rels = list(GraphStore.export_relationships(source.graph, page=7))

    def dumped(rows) -> list[str]:
        return sorted(json.dumps(r, sort_keys=True) for r in rows)

    assert dumped(nodes) == dumped(source.graph.export_nodes())
    assert dumped(rels) == dumped(source.graph.export_relationships())
    keys = [(n["labels"][0], n["props"].get("key", n["props"].get("id"))) for n in nodes]
    assert keys == sorted(keys)  # label by label, in key order
    other = FalkorDBGraphStore(EmbeddedFalkorDB(target.settings.data_dir).url, "neutral")
    try:
        other.clear()
        other.ensure_schema()
        assert other.import_nodes(nodes) == len(nodes)
        assert other.import_relationships(rels) == len(rels)
        assert other.stats() == source.graph.stats()
        assert GraphStore.clear(other, batch=50) == len(nodes)
        assert other.node_count() == 0
        other.clear()
    finally:
        other.close()


def test_relation_to_a_missing_node_is_an_error(target):
    other = FalkorDBGraphStore(EmbeddedFalkorDB(target.settings.data_dir).url, "dangling")
    try:
        other.clear()
        other.ensure_schema()
        other.import_nodes([{"labels": ["Part"], "props": {"key": "A"}}])
        edge = {"type": "SUPERSEDED_BY", "src_label": "Part", "src_key": "A"}
        with pytest.raises(GraphError, match="1 of 1 SUPERSEDED_BY relations"):
            other.import_relationships([{**edge, "dst_label": "Part", "dst_key": "B", "props": {}}])
        with pytest.raises(GraphError, match="without 'key'"):
            other.import_nodes([{"labels": ["Part"], "props": {"name": "no key"}}])
        other.clear()
    finally:
        other.close()


def test_a_second_backup_of_the_same_data_is_identical(source, backup_dir, tmp_path):
    """Graph files are written in key order, so equal stores give equal files."""
    again = backup(source.settings, tmp_path / "again")
    first = json.loads((backup_dir / MANIFEST).read_text())
    for name in (NODES_FILE, RELS_FILE):
        assert again["files"][name] == first["files"][name]


@pytest.mark.parametrize("name", [PG_FILE, NODES_FILE, RELS_FILE, MANIFEST])
def test_corrupt_backup_is_refused_naming_the_file(name, target, restored, backup_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(backup_dir, bad)
    path = bad / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    before = (target.state(), table_rows(target))
    with pytest.raises(BackupError, match=rf"{name} is corrupt"):
        restore(target.settings, bad, force=True)  # checked before anything is wiped
    assert (target.state(), table_rows(target)) == before


def test_missing_file_is_refused_naming_it(target, restored, backup_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(backup_dir, bad)
    (bad / PG_FILE).unlink()
    with pytest.raises(BackupError, match=rf"{PG_FILE} is missing"):
        restore(target.settings, bad, force=True)
    (bad / MANIFEST).unlink()
    with pytest.raises(BackupError, match=rf"{MANIFEST} is missing"):
        restore(target.settings, bad, force=True)


def test_non_empty_target_is_refused_then_replaced_with_force(source, target, restored, backup_dir):
    before = (source.state(), table_rows(source))
    with pytest.raises(BackupError, match="not empty"):
        restore(source.settings, backup_dir)
    assert (source.state(), table_rows(source)) == before

    # Something the backup does not have, in both stores: --force replaces it all.
    target.graph.run("CREATE (:Tool {key: 'stray-tool', name: 'stray'})")
    target.pg.conn.execute(
        "INSERT INTO documents (id, sha256, source_path, title, format, pages, bytes, status)"
        " VALUES ('ffff', 'ffff', '/x.md', 'stray', 'markdown', 1, 1, 'complete')"
    )
    with pytest.raises(BackupError, match="not empty"):
        restore(target.settings, backup_dir)
    report = restore(target.settings, backup_dir, force=True)
    assert report["ok"], report["mismatches"]
    assert target.state() == source.state() and table_rows(target) == table_rows(source)
    assert target.graph.run("MATCH (t:Tool {key: 'stray-tool'}) RETURN t.key AS k") == []
    assert answers(target) == answers(source)


def test_backup_refuses_a_non_empty_folder(source, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(BackupError, match="not empty"):
        backup(source.settings, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    manifest = backup(source.settings, tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "keep me" and manifest["files"]


def test_external_database_uses_client_tools_new_enough(source, tmp_path):
    """MAINT_DATABASE_URL set: pg_dump from PATH if it is at least the server's version,
    else the wheel's; the password goes in the environment, not on the command line."""
    url = EmbeddedPostgres(source.settings.data_dir).url
    external = Settings(data_dir=source.settings.data_dir, database_url=url)
    manifest = backup(external, tmp_path / "external")
    assert (
        manifest["postgres"]["tables"]
        == json.loads((tmp_path / "external" / MANIFEST).read_text())["postgres"]["tables"]
    )
    server = manifest["postgres"]["server_version"] // 10000
    assert int(manifest["postgres"]["pg_dump"].split(")")[1].split(".")[0]) >= server
    conninfo, env = _libpq_args("postgresql://maint:s3cret@db.example:5433/maint")
    assert "s3cret" not in conninfo and env["PGPASSWORD"] == "s3cret"


def _cli() -> typer.Typer:
    """The two commands as maint registers them, on a data dir given per call."""
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context, data_dir: Path = typer.Option(..., "--data-dir")) -> None:
        ctx.obj = Settings(data_dir=data_dir)

    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
    return app


def test_cli_backup_and_restore(source, target, restored, tmp_path):
    app, runner = _cli(), CliRunner()
    src, dst = str(source.settings.data_dir), str(target.settings.data_dir)
    out = tmp_path / "cli"
    done = runner.invoke(app, ["--data-dir", src, "backup", str(out), "--json"])
    assert done.exit_code == 0, done.output
    manifest = json.loads(done.stdout)
    assert manifest["postgres"]["tables"]["documents"] == 2 and "timings" in manifest

    again = runner.invoke(app, ["--data-dir", src, "backup", str(out)])
    assert again.exit_code == 1 and "not empty" in again.stderr

    refused = runner.invoke(app, ["--data-dir", dst, "restore", str(out)])
    assert refused.exit_code == 1 and "--force" in refused.stderr

    replaced = runner.invoke(app, ["--data-dir", dst, "restore", str(out), "--force", "--json"])
    assert replaced.exit_code == 0, replaced.output
    report = json.loads(replaced.stdout)
    assert report["ok"] and report["postgres"]["chunks"]["restored"] > 0

    (out / NODES_FILE).write_text("{}\n")
    corrupt = runner.invoke(app, ["--data-dir", dst, "restore", str(out), "--force"])
    assert corrupt.exit_code == 1 and NODES_FILE in corrupt.stderr
    assert target.state() == source.state()


# -- Neo4j -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def neo4j_settings(tmp_path_factory) -> Iterator[Settings]:
    """A workspace with embedded PostgreSQL and a Neo4j 5 graph (testcontainers)."""
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.neo4j import Neo4jContainer

    from infra.embedded import remove_workspace

    path = tmp_path_factory.mktemp("backup-neo4j")
    with Neo4jContainer("neo4j:5") as container:
        yield Settings(
            data_dir=path,
            graph_uri=container.get_connection_url(),
            graph_user="neo4j",
            graph_password=container.password,
            graph_name="neo4j",
        )
    remove_workspace(path)


@pytest.mark.docker
def test_falkordb_backup_restores_into_neo4j_and_back(
    source, backup_dir, neo4j_settings, embedder, tmp_path
):
    from infra.services import open_graph, open_pgstore

    report = restore(neo4j_settings, backup_dir)
    assert report["ok"], report["mismatches"]
    assert report["graph_backend"] == "neo4j"
    pg, graph = open_pgstore(neo4j_settings), open_graph(neo4j_settings)
    try:
        assert graph.stats() == source.graph.stats()
        assert sorted(map(json.dumps, graph.export_nodes())) == sorted(
            map(json.dumps, source.graph.export_nodes())
        )
        assert sorted(map(json.dumps, graph.export_relationships())) == sorted(
            map(json.dumps, source.graph.export_relationships())
        )
        # The same chunks by vector and keyword search (PostgreSQL restored as it was), the
        # same graph facts. Neo4j returns rows in its own order, and retrieval keeps row
        # order among equal scores, so facts are compared as sets.
        on_neo4j, on_falkordb = (
            answers(Workspace(neo4j_settings, pg, graph, embedder)),
            answers(source),
        )
        for got, want in zip(on_neo4j, on_falkordb, strict=True):
            for retriever in ("vector", "keyword"):
                assert got["by_retriever"][retriever] == want["by_retriever"][retriever]
            assert sorted(map(json.dumps, got["facts"])) == sorted(map(json.dumps, want["facts"]))
    finally:
        graph.close()
        pg.close()
    # And back: a backup of the Neo4j workspace restores into FalkorDB with the same graph.
    from_neo4j = backup(neo4j_settings, tmp_path / "from-neo4j")
    assert from_neo4j["graph"]["backend"] == "neo4j"
    assert from_neo4j["graph"]["nodes"] == source.graph.stats()["nodes"]
    back = Settings(data_dir=tmp_path / "back")
    try:
        assert restore(back, tmp_path / "from-neo4j")["ok"]
    finally:
        from infra.embedded import remove_workspace

        remove_workspace(back.data_dir)


def test_interrupted_backup_leaves_no_files(source, tmp_path, monkeypatch):
    """Ctrl-C mid-backup: exit 130, and the folder it created is gone again."""
    import infra.backup

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(infra.backup, "_export_graph", interrupted)
    out = tmp_path / "half"
    done = CliRunner().invoke(
        _cli(), ["--data-dir", str(source.settings.data_dir), "backup", str(out)]
    )
    assert done.exit_code == 130 and "interrupted" in done.stderr
    assert not out.exists()
