"""The chunk store (``retrieval.store.ChunkStore``) in PostgreSQL + pgvector.

A document is written as ``pending`` with all its chunks in one transaction, its graph facts
are written next, and only then is it flipped to ``complete`` (replacing any older version of
the same file) in a second transaction. Readers see only complete documents, so a crash at
any point leaves the store consistent; ``recover()`` clears what a crash left pending.
The schema is ``retrieval/migrations/*.sql``, applied in order on connect.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row

from maint.domain import Chunk, DocumentRecord, search_path
from retrieval.query import index_terms
from retrieval.store import ChunkStore, SearchOver, StoreError

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
# BM25 over ``chunk_terms`` (migrations 004, 006), bounded: each question word reads at most
# PER_TERM of its postings, highest impact first (migration 006 indexes them so); the best
# chunks by those partial scores (CANDIDATES_CUT of them) then get the weight of the words
# whose postings were cut. A corpus where no word is in more than PER_TERM rows (a few thousand
# pages) is ranked by plain BM25; at 100k chunks a question reads a few thousand postings
# instead of every row holding 'engine'. Document frequencies are counted up to DF_CAP: a word
# in more rows weighs as one in DF_CAP (an index-only count; beyond it the exact figure
# changes the weight of a common word a little and costs a scan of its postings).
PER_TERM = 500
DF_CAP = 2000
CANDIDATES = 300
CANDIDATES_CUT = 100  # when words are cut: each candidate then costs a probe per cut word
EXACT_STATS_ROWS = 20_000  # counted exactly up to this size; past it, about 10k rows sampled
# Vector search reads every row of a table up to this size: a few milliseconds there, where
# HNSW lost the nearest units of some questions (real manuals, 4,847 units: fused recall@5
# 0.922 with HNSW, 0.953 exact; and which ones it lost changed with 1e-6 changes of the
# vectors, as the graph is built). Past it, HNSW.
EXACT_VECTOR_ROWS = 20_000
BM25_K1, BM25_B = 1.2, 0.75  # migration 006's impact uses them too, at a length of 64 terms


@dataclass(frozen=True)
class _Searched:
    """A table searched by vector and BM25: chunks themselves, or their search units."""

    table: str
    terms: str  # its term counts
    key: str  # the terms table's column naming a row
    chunk: str  # the column naming the chunk a row belongs to
    unit_text: str  # what a hit reports as the matching unit
    per_chunk: int  # rows fetched per chunk wanted (several units may share a chunk)
    where: str = "true"  # which of the table's rows count (alias ``u``)
    postings: str = "true"  # the same, on its term counts (alias ``t``; a partial index)


_CHUNKS = _Searched("chunks", "chunk_terms", "chunk_id", "id", "NULL::text", 1)
_UNITS = _Searched("units", "unit_terms", "unit_id", "chunk_id", "u.text", 4)
_SEARCHED = {
    "chunks": _CHUNKS,
    "units": _UNITS,
    "part_rows": replace(_UNITS, where="u.kind = 'part_row'", postings="t.part_row"),
}


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
        # per searched table: (when counted, (rows, mean terms per row))
        self._stats: dict[str, tuple[float, tuple[float, float]]] = {}
        self._searchers: dict[int, PgStore] = {}
        self._common: dict[str, set[str]] = {}  # per terms table: words in > DF_CAP rows
        self._rarity: dict[str, bool] = {}  # identifier (a LIKE pattern) -> rare in chunks

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
            if 4 in applied:  # chunks written before BM25 get their terms counted now
                self._backfill_terms()
            self.conn.execute(
                "INSERT INTO store_meta VALUES ('embedding_dim', %s) ON CONFLICT DO NOTHING",
                (str(self.dim),),
            )
            stored = self.conn.execute(
                "SELECT value FROM store_meta WHERE key = 'embedding_dim'"
            ).fetchone()["value"]
        if 6 in applied:  # rebuilt posting tables: index-only scans need their visibility map
            self.conn.execute("VACUUM (ANALYZE) chunk_terms, unit_terms")
        if int(stored) != self.dim:
            raise StoreError(
                f"this database holds {stored}-dimensional embeddings but the configured "
                f"embedder gives {self.dim}; use another data dir / database for this model"
            )
        return applied

    def _backfill_terms(self) -> None:
        rows = self.conn.execute(
            "SELECT c.id, d.title, c.section, c.text FROM chunks c"
            " JOIN documents d ON d.id = c.document_id"
        ).fetchall()
        counts = [
            term_counts(f"{search_path(r['title'], r['section'])}\n{r['text']}") for r in rows
        ]
        self._copy_terms(_CHUNKS, zip((r["id"] for r in rows), counts, strict=True))
        with self.conn.cursor() as cur:
            cur.executemany(
                "UPDATE chunks SET term_count = %s WHERE id = %s",
                [(sum(c.values()), r["id"]) for r, c in zip(rows, counts, strict=True)],
            )

    def close(self) -> None:
        for searcher in self._searchers.values():
            searcher.close()
        self.conn.close()

    def ping(self) -> None:
        """Raises ``psycopg.Error`` when this connection is gone. A search connection that is
        gone (a server that closes idle sessions) is dropped, to be reopened when next used,
        so that one question does not fail for it."""
        self.conn.execute("SELECT 1")
        for slot, store in list(self._searchers.items()):
            try:
                store.conn.execute("SELECT 1")
            except psycopg.Error:
                store.close()
                del self._searchers[slot]

    def searcher(self, slot: int = 0) -> PgStore:
        store = self._searchers.get(slot)
        if store is None or store.conn.closed:
            store = self._searchers[slot] = PgStore(self.url, self.dim)
        return store

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
        self,
        doc: DocumentRecord,
        chunks: Sequence[Chunk],
        embeddings: np.ndarray,
        unit_embeddings: Sequence[np.ndarray] = (),
    ) -> None:
        """Store a new document version and its chunks, invisible until ``complete``."""
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk")
        if unit_embeddings and [len(e) for e in unit_embeddings] != [len(c.units) for c in chunks]:
            raise ValueError("one embedding per search unit")
        terms = [term_counts(c.embed_text) for c in chunks]
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
                    " page_end, text, tokens, embedding, term_count)"
                    " FROM STDIN WITH (FORMAT BINARY)"
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
                        "int4",
                    ]
                )
                for chunk, vec, counts in zip(chunks, embeddings, terms, strict=True):
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
                            sum(counts.values()),
                        )
                    )
            self._copy_terms(_CHUNKS, zip((c.id for c in chunks), terms, strict=True))
            if unit_embeddings:
                self._write_units(chunks, unit_embeddings)

    def _write_units(self, chunks: Sequence[Chunk], embeddings: Sequence[np.ndarray]) -> None:
        units = [
            (f"{chunk.id}/{n}", chunk, unit, vec)
            for chunk, vectors in zip(chunks, embeddings, strict=True)
            for n, (unit, vec) in enumerate(zip(chunk.units, vectors, strict=True))
        ]
        counts = [term_counts(chunk.grounded(unit.text)) for _, chunk, unit, _ in units]
        with (
            self.conn.cursor() as cur,
            cur.copy(
                "COPY units (id, chunk_id, kind, text, embedding, term_count)"
                " FROM STDIN WITH (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["text", "text", "text", "text", "vector", "int4"])
            for (uid, chunk, unit, vec), c in zip(units, counts, strict=True):
                copy.write_row(
                    (
                        uid,
                        chunk.id,
                        unit.kind,
                        unit.text,
                        np.asarray(vec, dtype=np.float32),
                        sum(c.values()),
                    )
                )
        parts = {uid for uid, _, unit, _ in units if unit.kind == "part_row"}
        self._copy_terms(_UNITS, zip((u[0] for u in units), counts, strict=True), parts)

    def _copy_terms(
        self,
        t: _Searched,
        rows: Iterable[tuple[str, dict[str, int]]],
        part_rows: Collection[str] = (),
    ) -> None:
        """BM25 term counts of chunks or units: (id, {term: count}) per row; a unit's postings
        say whether it is a parts-list row (``part_rows``: their ids)."""
        unit = t is not _CHUNKS
        columns = f"term, {t.key}, tf, dl" + (", part_row" if unit else "")
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {t.terms} ({columns}) FROM STDIN") as copy,
        ):
            for key, counts in rows:
                dl = sum(counts.values())
                flag = (key in part_rows,) if unit else ()
                for term, n in counts.items():
                    copy.write_row((term, key, n, dl, *flag))

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
    def catalog_version(self) -> str:
        row = self.conn.execute(
            "SELECT count(*) AS n, coalesce(sum(hashtext(id)), 0) AS ids,"
            " max(updated_at) AS at FROM documents WHERE status = 'complete'"
        ).fetchone()
        return f"{row['n']}:{row['ids']}:{row['at']}"

    def vector_search(
        self,
        embedding: np.ndarray,
        k: int,
        ef_search: int = 40,
        exact: bool = False,
        over: SearchOver = "chunks",
    ) -> list[dict]:
        """Nearest chunks by cosine similarity (``score`` = 1 - distance): HNSW unless
        ``exact`` or the table holds at most ``EXACT_VECTOR_ROWS`` rows. Over units, the
        nearest search units, each as its chunk (the best unit a chunk)."""
        vec = np.asarray(embedding, dtype=np.float32)
        t = _SEARCHED[over]
        exact = exact or self._corpus_stats(t)[0] <= EXACT_VECTOR_ROWS
        with self.conn.transaction():
            self.conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                " set_config('enable_indexscan', %s, true)",
                (str(max(ef_search, k * t.per_chunk)), "off" if exact else "on"),
            )
            return self.conn.execute(
                _hits(
                    t,
                    "SELECT id, 1 - dist AS score FROM ("
                    f" SELECT id, embedding <=> %(q)s AS dist FROM {t.table} u WHERE {t.where}"
                    " ORDER BY embedding <=> %(q)s LIMIT %(n)s) v",
                ),
                {"q": vec, "n": k * t.per_chunk, "limit": k},
            ).fetchall()

    def keyword_search(
        self, query: str, identifiers: Sequence[str], k: int, over: SearchOver = "chunks"
    ) -> list[dict]:
        """BM25 over the chunks' terms (section path and text), plus a bonus per identifier
        (compacted part number) the chunk contains, however spelled. Over units, BM25 over
        the search units, each returned as its chunk (the best unit a chunk).

        Bounded: each word reads at most ``PER_TERM`` postings (best impact first) and rare
        identifiers add the chunks holding them; the best by that partial score (``CANDIDATES``,
        ``CANDIDATES_CUT`` when words were cut) get the weight of the cut words' postings they
        hold (a primary-key probe each), and are ranked by the whole score."""
        t = _SEARCHED[over]
        terms = list(dict.fromkeys(index_terms(query)))
        likes = [f"%{i}%" for i in identifiers] if t is _CHUNKS else []
        if not terms and not likes:
            return []  # nothing to search with ("0", "?")
        rows, avgdl = self._corpus_stats(t)
        df = self._document_frequencies(t, terms)
        terms = [w for w in terms if df[w]]
        idf = [math.log(1 + (rows - df[w] + 0.5) / (df[w] + 0.5)) for w in terms]
        rare_ids = [self._rare(like) for like in likes]
        top = math.log(1 + (rows + 0.5) / 1.5)  # the weight of a term found in one row
        # A rare identifier (a part number), however spelled, finds candidates and weighs twice
        # a rare term. A common one (a model name on every page of its manual) adds nothing
        # beyond its term: it says little about which chunk answers.
        found_by_id = "".join(
            f" UNION ALL SELECT c.id, false, {2.0 * top} FROM chunks c"
            f" WHERE {_COMPACT} LIKE %(i{n})s"
            for n, r in enumerate(rare_ids)
            if r
        )
        bm25 = (
            f"q.idf * t.tf * {BM25_K1 + 1} / (t.tf + {BM25_K1} * "
            f"(1 - {BM25_B} + {BM25_B} * t.dl / %(avgdl)s))"
        )
        params: dict = {
            "terms": terms,
            "idf": idf,
            "cut": (cut := [df[w] > PER_TERM for w in terms]),
            "avgdl": avgdl,
            "per_term": PER_TERM,
            "m": max(CANDIDATES_CUT if any(cut) else CANDIDATES, k * t.per_chunk),
            "limit": k,
            **{f"i{n}": like for n, like in enumerate(likes)},
        }
        found = self.conn.execute(
            "WITH q AS (SELECT * FROM unnest(%(terms)s::text[], %(idf)s::float8[],"
            "  %(cut)s::bool[]) AS q(term, idf, cut)),"
            # Part rows are a few of the units: read from their own (partial) index, so the
            # cap counts them only.
            " read AS (SELECT p.* FROM q CROSS JOIN LATERAL"
            f"  (SELECT t.{t.key} AS id, q.cut, {bm25} AS s FROM {t.terms} t"
            f"   WHERE t.term = q.term AND {t.postings}"
            "   ORDER BY t.impact DESC LIMIT %(per_term)s) p),"
            f" part AS (SELECT id, cut, s FROM read{found_by_id}),"
            # ranked by what was read; scored by the uncut words' postings read ...
            " cand AS (SELECT id, sum(s) AS s, coalesce(sum(s) FILTER (WHERE NOT cut), 0) AS kept"
            "  FROM part GROUP BY id ORDER BY s DESC, id LIMIT %(m)s),"
            # ... plus a primary-key probe per candidate and cut word (LATERAL, once per
            # candidate: never a scan of a common word's postings)
            " scored AS (SELECT cand.id, cand.kept + coalesce(x.s, 0) AS score"
            "  FROM cand CROSS JOIN LATERAL"
            f"  (SELECT sum({bm25}) AS s FROM q JOIN {t.terms} t"
            f"   ON t.term = q.term AND t.{t.key} = cand.id WHERE q.cut) x)"
            f" {_hits(t, 'SELECT id, score FROM scored')}",
            params,
            # planned for these words each time: a generic plan of a prepared statement
            # cannot see which words are common and was measured seconds slower at 100k chunks
            prepare=False,
        ).fetchall()
        return found

    def term_weights(self, words: Sequence[str]) -> dict[str, float]:
        words = list(dict.fromkeys(words))
        if not words:
            return {}
        rows, _ = self._corpus_stats(_CHUNKS)
        df = self._document_frequencies(_CHUNKS, words)
        return {w: math.log(1 + (rows - df[w] + 0.5) / (df[w] + 0.5)) for w in words}

    def _document_frequencies(self, t: _Searched, terms: Sequence[str]) -> dict[str, int]:
        """Rows holding each term, counted up to ``DF_CAP + 1`` (an index-only count). A word
        at the cap is remembered until the corpus statistics are next refreshed: those are the
        costly counts, and only deletions could bring one under the cap."""
        common = self._common.setdefault(t.table, set())
        found = {w: DF_CAP + 1 for w in terms if w in common}
        missing = [w for w in terms if w not in found]
        if missing:
            rows = self.conn.execute(
                f"SELECT q.term, (SELECT count(*) FROM (SELECT 1 FROM {t.terms} t"
                "  WHERE t.term = q.term LIMIT %(cap)s) x) AS n"
                " FROM unnest(%(terms)s::text[]) q(term)",
                {"terms": missing, "cap": DF_CAP + 1},
            ).fetchall()
            found |= {r["term"]: int(r["n"]) for r in rows}
            common |= {w for w in missing if found[w] > DF_CAP}
        return found

    def _corpus_stats(self, t: _Searched) -> tuple[float, float]:
        """Row count and mean terms per row of a searched table (cached a minute, and with
        them which words are common and which identifiers rare). Past ``EXACT_STATS_ROWS``
        rows, the planner's row estimate and the mean of a sample: an exact count of 700k
        units took 0.4 s, paid by whichever question came next."""
        now = time.monotonic()
        at, stats = self._stats.get(t.table, (float("-inf"), (0.0, 1.0)))
        if now - at > 60:
            estimate = self.conn.execute(
                "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (t.table,)
            ).fetchone()["reltuples"]
            if estimate > EXACT_STATS_ROWS:
                share = min(100.0, 100.0 * EXACT_STATS_ROWS / 2 / estimate)
                row = self.conn.execute(
                    f"SELECT %s::float8 AS n, avg(term_count) AS avgdl FROM {t.table}"
                    " TABLESAMPLE SYSTEM (%s)",
                    (estimate, share),
                ).fetchone()
            else:
                row = self.conn.execute(
                    f"SELECT count(*) AS n, avg(term_count) AS avgdl FROM {t.table}"
                ).fetchone()
            stats = (float(row["n"]), max(1.0, float(row["avgdl"] or 1)))
            self._stats[t.table] = (now, stats)
            self._common.pop(t.table, None)
            if t is _CHUNKS:
                self._rarity.clear()
        return stats

    def _rare(self, like: str) -> bool:
        """An identifier in few chunks names a part; one in many (a machine's model name,
        on every page of its manual) says nothing about which chunk answers. Remembered
        until the corpus statistics are next refreshed (model names recur in questions)."""
        rows, _ = self._corpus_stats(_CHUNKS)
        known = self._rarity
        if like not in known:
            cap = int(min(200, max(5, 0.05 * rows)))
            found = self.conn.execute(
                f"SELECT count(*) AS n FROM (SELECT 1 FROM chunks c WHERE {_COMPACT} LIKE %s"
                " LIMIT %s) x",
                (like, cap + 1),
            ).fetchone()["n"]
            known[like] = found <= cap
        return known[like]

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

    def units_of(self, chunk_ids: Sequence[str], embedding: np.ndarray | None = None) -> list[dict]:
        if not chunk_ids:
            return []
        query = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        rows = self.conn.execute(  # no embedding: NULL distances, similarity 0
            "SELECT u.id, u.chunk_id, u.kind, u.text,"
            " coalesce(1 - (u.embedding <=> %s::vector), 0) AS similarity"
            " FROM units u WHERE u.chunk_id = ANY(%s)",
            (query, list(chunk_ids)),
        ).fetchall()
        for r in rows:  # ids are "<chunk id>/<n>"
            r["ordinal"] = int(r["id"].rsplit("/", 1)[1])
            r["similarity"] = float(r["similarity"])
        order = {c: i for i, c in enumerate(chunk_ids)}
        return sorted(rows, key=lambda r: (order[r["chunk_id"]], r["ordinal"]))

    def refresh_statistics(self) -> None:
        self.conn.execute("ANALYZE chunks, chunk_terms, units, unit_terms")
        for store in (self, *self._searchers.values()):
            store._forget()

    def _forget(self) -> None:
        """Drop what was counted of the tables: counted again at the next search."""
        for cache in (self._stats, self._common, self._rarity):
            cache.clear()

    # -- claims -------------------------------------------------------------------------
    def claim(self, name: str, wait: bool = False) -> bool:
        """A session-level advisory lock on 64 bits of the name's sha256: PostgreSQL drops it
        when the connection ends, however the process ended."""
        call = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        row = self.conn.execute(f"SELECT {call}(%s::bigint) AS ok", (_lock_key(name),)).fetchone()
        return row["ok"] is not False  # pg_advisory_lock returns void: taken

    def release(self, name: str) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (_lock_key(name),))

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


def _lock_key(name: str) -> int:
    """An advisory lock's bigint key: the first 8 bytes of the name's sha256, signed."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def term_counts(text: str) -> dict[str, int]:
    """BM25's term counts for a chunk or unit (given with its search path)."""
    counts: dict[str, int] = {}
    for term in index_terms(text):
        counts[term] = counts.get(term, 0) + 1
    return counts


def _hits(t: _Searched, scored: str) -> str:
    """The hits of ``scored`` (a query giving rows of ``t`` as id, score): each chunk once, at
    its best row's score (units found several times bring their chunk once), best first, at
    most ``%(limit)s``, from complete documents. Only those few chunks are read and sent."""
    return (
        f"SELECT {_HIT_COLUMNS}, b.unit, b.score FROM ("
        f" SELECT DISTINCT ON (u.{t.chunk}) u.{t.chunk} AS chunk, u.id, {t.unit_text} AS unit,"
        f"  s.score FROM ({scored}) s JOIN {t.table} u ON u.id = s.id WHERE {t.where}"
        f" ORDER BY u.{t.chunk}, s.score DESC, u.id) b"
        " JOIN chunks c ON c.id = b.chunk JOIN documents d ON d.id = c.document_id"
        " WHERE d.status = 'complete' ORDER BY b.score DESC, b.id LIMIT %(limit)s"
    )
