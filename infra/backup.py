"""Backup and restore of both stores, into and out of one folder.

A backup folder holds:

- ``postgres.dump``: ``pg_dump --format=custom`` of maint's tables (schema, data, indexes,
  the pgvector column), taken in one snapshot whose row counts go into the manifest;
- ``graph-nodes.jsonl`` and ``graph-relationships.jsonl``: the graph, one JSON object a
  line, written through the ``GraphStore`` interface with nodes named by label and key (not
  engine ids), so a FalkorDB backup restores into Neo4j and back;
- ``manifest.json``: maint version, time, counts per table, label and relation type, and the
  size and sha256 of each file (and of the manifest itself), written last: a folder without
  one is an unfinished backup.

Restore checks every checksum before touching anything, refuses non-empty target stores
unless forced (then it wipes them), restores PostgreSQL in one transaction (pg_restore), then
the graph (schema first, then batched UNWIND writes), and compares the counts with the
manifest. The graph export is not a snapshot: back up while nothing is being ingested.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from graph.base import GraphError, GraphStore
from infra.embedded import EmbeddedPostgres
from infra.services import database_url, open_graph
from maint import __version__
from maint.errors import MaintError
from maint.settings import Settings
from retrieval.pgstore import PgStore, migrations

FORMAT = "maint-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_FILE = "postgres.dump"
NODES_FILE = "graph-nodes.jsonl"
RELS_FILE = "graph-relationships.jsonl"
DATA_FILES = (PG_FILE, NODES_FILE, RELS_FILE)
# maint's tables (retrieval/migrations), dumped and restored together. A target counts as
# empty when it holds no documents, chunks or graph nodes: its ingestion log is replaced.
PG_TABLES = (
    "schema_migrations",
    "store_meta",
    "documents",
    "chunks",
    "chunk_terms",
    "units",
    "unit_terms",
    "ingestion_runs",
)
_CONTENT_TABLES = ("documents", "chunks")


class BackupError(MaintError):
    """A backup or restore cannot go on; the message names the file or store and what to do."""


class Reporter(Protocol):
    """Where progress goes (a rich progress bar in the CLI, nothing in tests)."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


# -- PostgreSQL client tools -----------------------------------------------------------------
def pg_tool(settings: Settings, name: str, server_major: int) -> Path:
    """``pg_dump``/``pg_restore`` able to work with the server: the embedded wheel's own for
    the embedded server; for an external one, the tool on PATH when its major version is at
    least the server's (an older one refuses), else the wheel's (PostgreSQL 18)."""
    bundled: Path | None = None
    with contextlib.suppress(ImportError):
        bundled = EmbeddedPostgres(settings.data_dir).bin_dir / name
    bundled = bundled if bundled is not None and bundled.is_file() else None
    on_path = shutil.which(name)
    candidates = [bundled] if settings.embedded_postgres and bundled else []
    candidates += [Path(t) for t in (on_path, bundled) if t and Path(t) not in candidates]
    if not candidates:
        raise BackupError(
            f"{name} not found: install the PostgreSQL {server_major} client tools and put "
            f"{name} on PATH"
        )
    found = []
    for tool in candidates:
        major = _tool_major(tool)
        if major is None or major >= server_major:
            return tool
        found.append(f"{tool} ({major})")
    raise BackupError(
        f"{name} must be PostgreSQL {server_major} or newer for this server (and backup); "
        f"found {', '.join(found)}. Put the PostgreSQL {server_major} client tools on PATH"
    )


def _libpq_args(url: str) -> tuple[str, dict[str, str]]:
    """The connection string without its password (which would show in the process list)
    and an environment carrying it as PGPASSWORD."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env


def _run_tool(cmd: list[str], env: dict[str, str], what: str) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
    except OSError as exc:
        raise BackupError(f"{what}: cannot run {cmd[0]} ({exc})") from exc
    if res.returncode != 0:
        detail = (res.stderr or res.stdout).strip()[-3000:]
        raise BackupError(f"{what} failed ({Path(cmd[0]).name} exit {res.returncode}):\n{detail}")
    return res.stdout


def _tool_version(tool: Path) -> str:
    try:
        res = subprocess.run([str(tool), "--version"], capture_output=True, text=True, cwd="/")
    except OSError:
        return ""
    return res.stdout.strip()


def _major(version: str) -> int | None:
    """15 for "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"."""
    found = re.search(r"\)\s*(\d+)", version)
    return int(found.group(1)) if found else None


def _tool_major(tool: Path) -> int | None:
    return _major(_tool_version(tool))


def _table_schema(conn: psycopg.Connection) -> str:
    row = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = to_regclass('documents')"
    ).fetchone()
    if row is None:
        raise BackupError("maint's tables are not in this database (no `documents` table)")
    return str(row[0])


def _table_counts(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    counts = {}
    for table in PG_TABLES:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        counts[table] = int(conn.execute(query).fetchone()[0])
    return counts


def _pg_facts(conn: psycopg.Connection) -> dict[str, Any]:
    """What a restore must agree with: schema versions and the embedding size."""
    versions = [int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    dim = conn.execute("SELECT value FROM store_meta WHERE key = 'embedding_dim'").fetchone()
    pending = conn.execute("SELECT count(*) FROM documents WHERE status = 'pending'").fetchone()
    return {
        "migrations": versions,
        "embedding_dim": int(dim[0]) if dim else None,
        "pending_documents": int(pending[0]),
    }


# -- files -----------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
        os.fsync(fh.fileno())
    return digest.hexdigest()


def _manifest_digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json_value(value: Any) -> Any:
    raise TypeError(
        f"a graph property of type {type(value).__name__} ({value!r}) has no JSON form; "
        "maint writes only strings, numbers, booleans and lists"
    )


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]], advance: Callable[[int], None]) -> int:
    """One compact JSON object a line; progress is reported every 1,000 rows."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=_json_value)
            fh.write(line + "\n")
            n += 1
            if n % 1000 == 0:
                advance(1000)
        fh.flush()
        os.fsync(fh.fileno())
    advance(n % 1000)
    return n


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise BackupError(f"{path} line {lineno} is not JSON ({exc})") from exc


def _check_directory(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise BackupError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise BackupError(
            f"{directory} is not empty; choose a new or empty folder, or pass --force to "
            "replace the backup there"
        )


@contextlib.contextmanager
def _graph_errors(what: str) -> Iterator[None]:
    """Driver errors (a refused statement, a lost connection) as one clear line."""
    try:
        yield
    except (BackupError, GraphError, MemoryError):
        raise
    except Exception as exc:
        raise BackupError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


# -- backup ----------------------------------------------------------------------------------
def backup(
    settings: Settings, directory: Path, force: bool = False, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Write a backup of this workspace's stores into ``directory``; returns the manifest,
    with the folder under ``directory`` and the seconds each stage took under ``timings``.
    On any error (or Ctrl-C) the files written so far are removed."""
    report = reporter or _Silent()
    directory = Path(directory).resolve()
    _check_directory(directory, force)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    # An earlier backup here loses its manifest first: a crash now leaves no valid backup
    # that mixes old and new files.
    for name in (MANIFEST, *DATA_FILES):
        (directory / name).unlink(missing_ok=True)
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        report.stage("Dumping PostgreSQL")
        pg_info = _dump_postgres(settings, directory / PG_FILE)
        timings["postgres"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        graph = open_graph(settings)
        try:
            graph_info = _export_graph(graph, directory, report)
            backend = graph.backend
        finally:
            graph.close()
        timings["graph"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        report.stage("Writing checksums", len(DATA_FILES))
        files = {}
        for name in DATA_FILES:
            path = directory / name
            files[name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            report.advance()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "maint_version": __version__,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": {"graph_backend": backend, "graph_name": settings.graph_name},
            "postgres": pg_info,
            "graph": graph_info,
            "files": files,
        }
        manifest["manifest_sha256"] = _manifest_digest(manifest)
        tmp = directory / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(directory / MANIFEST)
        timings["checksums"] = time.perf_counter() - t0
    except BaseException:
        for name in (f".{MANIFEST}.tmp", *DATA_FILES):
            (directory / name).unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return {"directory": str(directory), **manifest, "timings": timings}


def _dump_postgres(settings: Settings, target: Path) -> dict[str, Any]:
    """pg_dump of maint's tables inside one exported snapshot, so the counts recorded are
    exactly the rows dumped even while someone writes."""
    url = database_url(settings)
    PgStore(url, settings.embedding_dim).close()  # migrations applied, dimension checked
    conninfo, env = _libpq_args(url)
    with psycopg.connect(url) as conn:
        tool = pg_tool(settings, "pg_dump", conn.info.server_version // 10000)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        schema = _table_schema(conn)
        counts = _table_counts(conn, schema)
        facts = _pg_facts(conn)
        server = conn.info.server_version
        cmd = [
            str(tool),
            f"--dbname={conninfo}",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--snapshot={snapshot}",
            f"--file={target}",
        ]
        for table in PG_TABLES:
            cmd.append(f'--table="{schema}"."{table}"')
        _run_tool(cmd, env, "pg_dump")
        conn.rollback()
    return {
        "file": PG_FILE,
        "schema": schema,
        "server_version": server,
        "pg_dump": _tool_version(tool),
        "tables": counts,
        **facts,
    }


def _export_graph(graph: GraphStore, directory: Path, report: Reporter) -> dict[str, Any]:
    with _graph_errors("graph export"):
        stats = graph.stats()
        report.stage("Exporting graph nodes", sum(stats["nodes"].values()))
        nodes: Counter[str] = Counter()

        def node_rows() -> Iterator[dict[str, Any]]:
            for row in graph.export_nodes():
                nodes[row["labels"][0]] += 1
                yield row

        _write_jsonl(directory / NODES_FILE, node_rows(), report.advance)
        report.stage("Exporting graph relations", sum(stats["relations"].values()))
        rels: Counter[str] = Counter()

        def rel_rows() -> Iterator[dict[str, Any]]:
            for row in graph.export_relationships():
                rels[row["type"]] += 1
                yield row

        _write_jsonl(directory / RELS_FILE, rel_rows(), report.advance)
    exported = {"nodes": dict(sorted(nodes.items())), "relations": dict(sorted(rels.items()))}
    if exported != stats:
        raise BackupError(
            f"the graph export does not match the graph's counts (exported {exported}, graph "
            f"holds {stats}): the graph changed during the backup (run it while nothing is "
            "ingested), or some nodes lack their key property"
        )
    return {"backend": graph.backend, "files": [NODES_FILE, RELS_FILE], **exported}


# -- verify ----------------------------------------------------------------------------------
def verify(directory: Path) -> dict[str, Any]:
    """The manifest of a complete, unchanged backup; otherwise an error naming the file."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a folder")
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{path} is missing: {directory} is not a maint backup, or the backup did not finish"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is corrupt: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a maint backup manifest")
    if manifest.get("manifest_sha256") != _manifest_digest(manifest):
        raise BackupError(f"{path} is corrupt: its checksum does not match its content")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BackupError(
            f"{path}: backup format {manifest['format_version']} is newer than this maint "
            f"reads ({FORMAT_VERSION}); restore it with the maint version that made it "
            f"({manifest.get('maint_version')}) or newer"
        )
    files = manifest.get("files", {})
    for name in DATA_FILES:
        if name not in files:
            raise BackupError(f"{path} lists no {name}; the backup is incomplete")
    for name, meta in files.items():
        file = directory / name
        if Path(name).name != name:
            raise BackupError(f"{path} names a file outside the backup: {name!r}")
        if not file.is_file():
            raise BackupError(f"{file} is missing from the backup")
        if file.stat().st_size != meta["bytes"]:
            raise BackupError(
                f"{file} is corrupt: {file.stat().st_size} bytes, the manifest says {meta['bytes']}"
            )
        if _sha256(file) != meta["sha256"]:
            raise BackupError(f"{file} is corrupt: its sha256 does not match the manifest")
    return manifest


# -- restore ---------------------------------------------------------------------------------
def restore(
    settings: Settings, directory: Path, force: bool = False, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Restore a backup into this workspace's stores; returns expected and restored counts
    per table, label and relation type, and ``ok`` when they all agree."""
    report = reporter or _Silent()
    directory = Path(directory).resolve()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    report.stage("Verifying checksums")
    manifest = verify(directory)
    _check_compatible(settings, manifest)
    timings["verify"] = time.perf_counter() - t0

    url = database_url(settings)
    pg = PgStore(url, settings.embedding_dim)  # a fresh database gets maint's schema here
    try:
        graph = open_graph(settings)
        try:
            _check_empty(pg, graph, force)
            t0 = time.perf_counter()
            report.stage("Restoring PostgreSQL")
            # pg_restore must read the archive (made by the manifest's pg_dump) and talk to
            # the server: at least the newer of the two major versions.
            need = max(
                pg.conn.info.server_version // 10000,
                _major(manifest["postgres"].get("pg_dump", "")) or 0,
            )
            _restore_postgres(settings, url, directory / PG_FILE, need)
            timings["postgres"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            try:
                _import_graph(graph, directory, manifest, report)
            except (BackupError, GraphError) as exc:
                raise BackupError(
                    f"{exc}\nPostgreSQL is restored but the graph is not: fix the cause and "
                    "run the restore again with --force"
                ) from exc
            timings["graph"] = time.perf_counter() - t0
            report.stage("Comparing counts")
            graph_counts = graph.stats()
        finally:
            graph.close()
    finally:
        pg.close()
    pg = PgStore(url, settings.embedding_dim)  # migrations newer than the backup run here
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            schema = _table_schema(conn)
            for table in PG_TABLES:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
            pg_counts = _table_counts(conn, schema)
            versions = _pg_facts(conn)["migrations"]
    finally:
        pg.close()
    applied = sorted(set(versions) - set(manifest["postgres"]["migrations"]))
    expected_pg = dict(manifest["postgres"]["tables"])
    # Tables newer than the backup were made (and filled) by the migrations just applied.
    pg_counts = {t: n for t, n in pg_counts.items() if t in expected_pg}
    expected_pg["schema_migrations"] += len(applied)
    return {
        "directory": str(directory),
        "backup": {
            "created_at": manifest["created_at"],
            "maint_version": manifest["maint_version"],
            "graph_backend": manifest["source"]["graph_backend"],
        },
        "graph_backend": settings.graph_backend,
        "migrations_applied": applied,
        **_compare(expected_pg, pg_counts, manifest["graph"], graph_counts),
        "timings": timings,
    }


def _check_compatible(settings: Settings, manifest: dict[str, Any]) -> None:
    pg = manifest["postgres"]
    if pg.get("embedding_dim") not in (None, settings.embedding_dim):
        raise BackupError(
            f"the backup holds {pg['embedding_dim']}-dimensional embeddings but this workspace's "
            f"embedder gives {settings.embedding_dim}; restore with the embedder that made it "
            "(MAINT_EMBEDDING_MODEL, MAINT_EMBEDDING_DIM)"
        )
    known = {version for version, _ in migrations()}
    newer = sorted(set(pg["migrations"]) - known)
    if newer:
        raise BackupError(
            f"the backup's database schema has migrations {newer} this maint does not know; "
            f"restore it with maint {manifest.get('maint_version')} or newer"
        )


def _check_empty(pg: PgStore, graph: GraphStore, force: bool) -> None:
    counts = {
        t: pg.conn.execute(
            sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(t))
        ).fetchone()["n"]
        for t in _CONTENT_TABLES
    }
    nodes = graph.node_count()
    if not any(counts.values()) and not nodes:
        return
    held = f"{counts['documents']} documents, {counts['chunks']} chunks, {nodes} graph nodes"
    if not force:
        raise BackupError(
            f"the target stores are not empty ({held}); restore into a new data dir "
            "(maint --data-dir NEW restore DIR), or pass --force to replace what they hold"
        )


def _restore_postgres(settings: Settings, url: str, dump: Path, need_major: int) -> None:
    """pg_restore in one transaction: on any error the database is left as it was. --clean
    drops maint's tables first (the empty ones a fresh database was given, or the data
    --force replaces)."""
    tool = pg_tool(settings, "pg_restore", need_major)
    conninfo, env = _libpq_args(url)
    cmd = [
        str(tool),
        f"--dbname={conninfo}",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        str(dump),
    ]
    _run_tool(cmd, env, "pg_restore")


def _import_graph(
    graph: GraphStore, directory: Path, manifest: dict[str, Any], report: Reporter
) -> None:
    with _graph_errors("graph restore"):
        # Always, even when empty: FalkorDB starts a new graph, numbering nodes afresh.
        report.stage("Clearing the graph")
        graph.clear()
        graph.ensure_schema()
        report.stage("Importing graph nodes", sum(manifest["graph"]["nodes"].values()))
        graph.import_nodes(_read_jsonl(directory / NODES_FILE), report.advance)
        report.stage("Importing graph relations", sum(manifest["graph"]["relations"].values()))
        graph.import_relationships(_read_jsonl(directory / RELS_FILE), report.advance)


def _compare(
    expected_pg: dict[str, int],
    pg_counts: dict[str, int],
    expected_graph: dict[str, Any],
    graph_counts: dict[str, dict[str, int]],
) -> dict[str, Any]:
    mismatches: list[str] = []

    def side_by_side(kind: str, want: dict[str, int], got: dict[str, int]) -> dict:
        rows = {}
        for name in sorted(set(want) | set(got)):
            rows[name] = {"expected": want.get(name, 0), "restored": got.get(name, 0)}
            if rows[name]["expected"] != rows[name]["restored"]:
                mismatches.append(
                    f"{kind} {name}: expected {rows[name]['expected']}, "
                    f"restored {rows[name]['restored']}"
                )
        return rows

    out = {
        "postgres": side_by_side("table", expected_pg, pg_counts),
        "graph": {
            "nodes": side_by_side("label", expected_graph["nodes"], graph_counts["nodes"]),
            "relations": side_by_side(
                "relation", expected_graph["relations"], graph_counts["relations"]
            ),
        },
    }
    return {"ok": not mismatches, "mismatches": mismatches, **out}
