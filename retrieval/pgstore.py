"""The chunk store (``retrieval.store.ChunkStore``) in PostgreSQL + pgvector.

A document is written as ``pending`` with all its chunks in one transaction, its graph facts
are written next, and only then is it flipped to ``complete`` (replacing any older version of
the same file) in a second transaction. Readers see only complete documents, so a crash at
any point leaves the store consistent; ``recover()`` clears what a crash left pending.
The schema is ``retrieval/migrations/*.sql``, applied in order on connect.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from importlib import resources

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row

from maint.domain import Chunk, DocumentRecord
from retrieval.store import ChunkStore, StoreError

_DOC_COLUMNS = (
    "id, sha256, source_path, title, format, pages, bytes, status, chunk_count AS chunks, "
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS ingested_at"
)


# What a search returns per chunk: enough for a citation without a second query.
_HIT_COLUMNS = (
    "c.id AS chunk_id, c.document_id, d.title AS document, d.source_path, "
    "c.section_path AS section, c.page_start, c.page_end, c.text, c.tokens"
)
# Part numbers compared letters-and-digits only (a stored column with a trigram index).
_COMPACT = "c.compact"
# Lexemes in more chunks than this are left out of keyword queries: a question's OR-query
# over such words matched half a 100k-chunk table and took seconds to rank. Small corpora
# never reach it, so their rankings keep every word.
COMMON_LEXEME_ROWS = 2000


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every schema migration this maint knows, in order."""
    folder = resources.files("retrieval") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


class PgStore(ChunkStore):
    """Documents and chunks in PostgreSQL. One connection; not shared across threads."""

    def __init__(self, url: str, embedding_dim: int):
        self.url = url
        self.dim = embedding_dim
        try:
            self.conn = psycopg.connect(
                url, row_factory=dict_row, connect_timeout=10, autocommit=True
            )
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL ({exc}). Check MAINT_DATABASE_URL, or unset it "
                "to use the embedded server (`maint services start`)."
            ) from exc
        self.migrate()
        register_vector(self.conn)
        self._common: dict[str, float] = {}
        self._common_at = float("-inf")
        self._rows = 0.0

    # -- schema -------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply pending migrations under an advisory lock; returns the versions applied."""
        applied: list[int] = []
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(7342001)")
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS store_meta (key text PRIMARY KEY, value text NOT NULL)"
            )
            rows = self.conn.execute("SELECT version FROM schema_migrations")
            done = {r["version"] for r in rows}
            for version, sql in migrations():
                if version in done:
                    continue
                self.conn.execute(sql.replace("{dim}", str(self.dim)))
                self.conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
            self.conn.execute(
                "INSERT INTO store_meta VALUES ('embedding_dim', %s) ON CONFLICT DO NOTHING",
                (str(self.dim),),
            )
            stored = self.conn.execute(
                "SELECT value FROM store_meta WHERE key = 'embedding_dim'"
            ).fetchone()["value"]
        if int(stored) != self.dim:
            raise StoreError(
                f"this database holds {stored}-dimensional embeddings but the configured "
                f"embedder gives {self.dim}; use another data dir / database for this model"
            )
        return applied

    def close(self) -> None:
        self.conn.close()

    # -- documents ----------------------------------------------------------------------
    def _docs(self, where: str, params: Sequence = ()) -> list[DocumentRecord]:
        rows = self.conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents {where}", params)
        return [DocumentRecord(**r) for r in rows]

    def find_by_sha(self, sha256: str) -> DocumentRecord | None:
        found = self._docs("WHERE sha256 = %s", (sha256,))
        return found[0] if found else None

    def find_by_source(self, source_path: str) -> list[DocumentRecord]:
        return self._docs("WHERE source_path = %s AND status = 'complete'", (source_path,))

    def list_documents(self, include_pending: bool = False) -> list[DocumentRecord]:
        where = "" if include_pending else "WHERE status = 'complete'"
        return self._docs(f"{where} ORDER BY source_path, id")

    def pending_documents(self) -> list[DocumentRecord]:
        return self._docs("WHERE status = 'pending'")

    def complete_ids(self) -> set[str]:
        rows = self.conn.execute("SELECT id FROM documents WHERE status = 'complete'")
        return {r["id"] for r in rows}

    def write_pending(
        self, doc: DocumentRecord, chunks: Sequence[Chunk], embeddings: np.ndarray
    ) -> None:
        """Store a new document version and its chunks, invisible until ``complete``."""
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk")
        with self.conn.transaction():
            self.conn.execute("DELETE FROM documents WHERE id = %s", (doc.id,))
            self.conn.execute(
                "INSERT INTO documents (id, sha256, source_path, title, format, pages, bytes,"
                " status, chunk_count) VALUES (%s,%s,%s,%s,%s,%s,%s,'pending',%s)",
                (
                    doc.id,
                    doc.sha256,
                    doc.source_path,
                    doc.title,
                    doc.format,
                    doc.pages,
                    doc.bytes,
                    len(chunks),
                ),
            )
            with (
                self.conn.cursor() as cur,
                cur.copy(
                    "COPY chunks (id, document_id, ordinal, section, section_path, page_start,"
                    " page_end, text, tokens, embedding) FROM STDIN WITH (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(
                    [
                        "text",
                        "text",
                        "int4",
                        "text[]",
                        "text",
                        "int4",
                        "int4",
                        "text",
                        "int4",
                        "vector",
                    ]
                )
                for chunk, vec in zip(chunks, embeddings, strict=True):
                    copy.write_row(
                        (
                            chunk.id,
                            chunk.document_id,
                            chunk.ordinal,
                            chunk.section,
                            chunk.section_path,
                            chunk.page_start,
                            chunk.page_end,
                            chunk.text,
                            chunk.tokens,
                            np.asarray(vec, dtype=np.float32),
                        )
                    )

    def complete(self, doc_id: str, replaces: Iterable[str] = ()) -> None:
        """Make a pending document visible and drop the versions it replaces, atomically."""
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE documents SET status = 'complete', updated_at = now() WHERE id = %s",
                (doc_id,),
            )
            old = [r for r in replaces if r != doc_id]
            if old:
                self.conn.execute("DELETE FROM documents WHERE id = ANY(%s)", (old,))

    def move(self, doc_id: str, source_path: str) -> None:
        """Record that identical content now lives at another path."""
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE documents SET source_path = %s, updated_at = now() WHERE id = %s",
                (source_path, doc_id),
            )

    def delete_document(self, doc_id: str) -> bool:
        with self.conn.transaction():
            cur = self.conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,))
            return cur.rowcount > 0

    def chunks(self, doc_id: str) -> list[dict]:
        return self.conn.execute(
            "SELECT id, ordinal, section_path, page_start, page_end, tokens, text"
            " FROM chunks WHERE document_id = %s ORDER BY ordinal",
            (doc_id,),
        ).fetchall()

    def counts(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT (SELECT count(*) FROM documents WHERE status = 'complete') AS documents,"
            " (SELECT coalesce(sum(pages), 0) FROM documents WHERE status = 'complete') AS pages,"
            " (SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id"
            "  WHERE d.status = 'complete') AS chunks"
        ).fetchone()
        return {k: int(v) for k, v in row.items()}

    # -- search -------------------------------------------------------------------------
    def vector_search(
        self, embedding: np.ndarray, k: int, ef_search: int = 40, exact: bool = False
    ) -> list[dict]:
        """Nearest chunks by cosine similarity (``score`` = 1 - distance), HNSW unless exact."""
        vec = np.asarray(embedding, dtype=np.float32)
        with self.conn.transaction():
            self.conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                " set_config('enable_indexscan', %s, true)",
                (str(max(ef_search, k)), "off" if exact else "on"),
            )
            return self.conn.execute(
                f"SELECT {_HIT_COLUMNS}, 1 - v.dist AS score FROM ("
                "  SELECT id, embedding <=> %(q)s AS dist FROM chunks"
                "  ORDER BY embedding <=> %(q)s LIMIT %(k)s) v"
                " JOIN chunks c ON c.id = v.id JOIN documents d ON d.id = c.document_id"
                " WHERE d.status = 'complete' ORDER BY v.dist",
                {"q": vec, "k": k},
            ).fetchall()

    def keyword_search(self, query: str, identifiers: Sequence[str], k: int) -> list[dict]:
        """Full-text search with any of the question's terms (a question ANDs too much), plus
        a bonus per identifier (compacted part number) the chunk contains, however spelled.
        Words most chunks contain are dropped first; they cannot rank, only slow down."""
        lexemes = self._query_lexemes(query)
        likes = [f"%{i}%" for i in identifiers]
        rare = [self._rare(like) for like in likes]
        # A rare identifier (a part number) weighs more than a common one (a machine's model
        # name, on many pages of its manual), and only rare ones widen the candidate set.
        bonus = (
            " + ".join(
                f"{5.0 if r else 2.0} * ({_COMPACT} LIKE %(i{n})s)::int" for n, r in enumerate(rare)
            )
            or "0"
        )
        either = "".join(f" OR {_COMPACT} LIKE %(i{n})s" for n, r in enumerate(rare) if r)
        if not lexemes and not either:
            return []  # nothing to search with ("0", "?"): an empty tsquery is a syntax error
        quoted = (x.replace("\\", "\\\\").replace("'", "''") for x in lexemes)
        params: dict = {
            "q": " | ".join(f"'{x}'" for x in quoted),
            "k": k,
            **{f"i{n}": like for n, like in enumerate(likes)},
        }
        tsquery = "%(q)s::tsquery" if lexemes else "plainto_tsquery('simple', '')"
        return self.conn.execute(
            f"WITH q AS (SELECT {tsquery} AS q)"
            f" SELECT {_HIT_COLUMNS}, ts_rank_cd(c.tsv, q.q) + {bonus} AS score,"
            " 0 AS identifiers"
            " FROM chunks c JOIN documents d ON d.id = c.document_id, q"
            f" WHERE (c.tsv @@ q.q{either}) AND d.status = 'complete'"
            " ORDER BY score DESC, c.id LIMIT %(k)s",
            params,
        ).fetchall()

    def _query_lexemes(self, query: str) -> list[str]:
        """The question's lexemes (English stemming), without those in more than
        ``COMMON_LEXEME_ROWS`` chunks per the planner's statistics (kept if all are)."""
        row = self.conn.execute(
            "SELECT coalesce(array_agg(DISTINCT lexeme), '{}') AS lexemes"
            " FROM unnest(to_tsvector('english', %s))",
            (query,),
        ).fetchone()
        lexemes = sorted(x for x in row["lexemes"] if len(x) > 1)  # 'b' of 'WP-2207 B'...
        common = self._common_lexemes()
        kept = [x for x in lexemes if common.get(x, 0.0) <= COMMON_LEXEME_ROWS]
        if not kept:  # every word is common: keep the two rarest
            kept = sorted(lexemes, key=lambda x: common.get(x, 0.0))[:2]
        return [x.replace("'", "''") for x in kept]

    def _rare(self, like: str) -> bool:
        """An identifier in few chunks names a part; one in many (a machine's model name,
        on every page of its manual) says nothing about which chunk answers."""
        self._common_lexemes()  # refreshes the row estimate
        cap = int(min(200, max(5, 0.05 * self._rows)))
        found = self.conn.execute(
            f"SELECT count(*) AS n FROM (SELECT 1 FROM chunks c WHERE {_COMPACT} LIKE %s"
            " LIMIT %s) x",
            (like, cap + 1),
        ).fetchone()["n"]
        return found <= cap

    def _common_lexemes(self) -> dict[str, float]:
        """Estimated chunk counts of the most common lexemes, from the statistics ANALYZE
        keeps for the tsvector column (cached a minute)."""
        now = time.monotonic()
        if now - self._common_at > 60:
            row = self.conn.execute(
                "SELECT s.most_common_elems::text::text[] AS elems,"
                " s.most_common_elem_freqs AS freqs, greatest(c.reltuples, 0) AS rows"
                " FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename"
                " WHERE s.tablename = 'chunks' AND s.attname = 'tsv'"
            ).fetchone()
            elems = (row or {}).get("elems") or []
            freqs = (row or {}).get("freqs") or []
            rows = float((row or {}).get("rows") or 0)
            if rows <= 0:  # never analysed (a new table): count, it is small
                rows = float(self.conn.execute("SELECT count(*) AS n FROM chunks").fetchone()["n"])
            self._rows = rows
            self._common = {e: f * rows for e, f in zip(elems, freqs, strict=False)}
            self._common_at = now
        return self._common

    def chunks_by_ids(self, ids: Sequence[str]) -> list[dict]:
        """Chunks by id (in no particular order), only from complete documents."""
        if not ids:
            return []
        return self.conn.execute(
            f"SELECT {_HIT_COLUMNS}, 0.0 AS score"
            " FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE c.id = ANY(%s) AND d.status = 'complete'",
            (list(ids),),
        ).fetchall()

    # -- runs ---------------------------------------------------------------------------
    def start_run(self) -> int:
        with self.conn.transaction():
            return self.conn.execute(
                "INSERT INTO ingestion_runs DEFAULT VALUES RETURNING id"
            ).fetchone()["id"]

    def finish_run(self, run_id: int, summary: dict) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE ingestion_runs SET finished_at = now(), summary = %s WHERE id = %s",
                (json.dumps(summary), run_id),
            )
