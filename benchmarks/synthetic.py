"""Large chunk tables for the query benchmark, recombined from real search units.

A synthetic chunk is a run of 3 to 10 consecutive search units (table rows, sentences,
warnings) of one ingested manual, sometimes with one more unit of the same manual put in:
its text is theirs, its vector the normalised mean of their real MiniLM vectors (no noise),
its BM25 terms theirs plus the section path of the chunk the run starts in. So words keep
the document frequencies of real manuals (a part number in tens of chunks, 'engine' in a
large share), and vectors keep the spread of real text, where noisy copies of a few hundred
chunks made dense clusters and made every word common. Its units are copies of the units
it was made from, so unit search grows with it (``with_units``; at 1M chunks that would be
6 to 7 million units, more than this machine indexes in a benchmark's time).

Everything is generated in SQL from the real rows, in a fixed order from a fixed seed, so two
runs build the same table.
"""

from __future__ import annotations

import random
import time
from collections import Counter

DOC = "synthetic-bench0"
MIN_RUN, MAX_RUN = 3, 10
# Indexes dropped while rows are bulk-loaded and rebuilt after (their definitions are read
# back from the catalogue, so the rebuild matches the migrations).
BULK = {
    "chunks": ("chunks_compact_trgm", "chunks_embedding_hnsw"),
    "chunk_terms": ("chunk_terms_chunk", "chunk_terms_impact"),
    "units": ("units_embedding_hnsw", "units_part_row_hnsw"),
    "unit_terms": ("unit_terms_unit", "unit_terms_impact", "unit_terms_part_rows"),
}


def _real_units(pg) -> list[dict]:
    """Every unit of the complete real documents, in reading order."""
    return pg.conn.execute(
        "SELECT u.id, c.document_id"
        " FROM units u JOIN chunks c ON c.id = u.chunk_id"
        " JOIN documents d ON d.id = c.document_id"
        " WHERE d.status = 'complete' AND d.id <> %s"
        " ORDER BY c.document_id, c.ordinal, split_part(u.id, '/', 2)::int",
        (DOC,),
    ).fetchall()


def _runs(units: list[dict], start: int, n: int, seed: int) -> list[list[int]]:
    """``n`` runs of unit positions, each within one document."""
    rng = random.Random(seed + start)
    spans: list[tuple[int, int]] = []  # each document's [first, end) in ``units``
    for i, u in enumerate(units):
        if not spans or units[spans[-1][0]]["document_id"] != u["document_id"]:
            spans.append((i, i))
        spans[-1] = (spans[-1][0], i + 1)
    weights = [e - b for b, e in spans]
    out = []
    for doc in rng.choices(range(len(spans)), weights=weights, k=n):
        b, e = spans[doc]
        size = min(rng.randint(MIN_RUN, MAX_RUN), e - b)
        first = rng.randrange(b, e - size + 1)
        run = list(range(first, first + size))
        if rng.random() < 0.5:  # one more unit of the same manual, somewhere in the run
            run.insert(rng.randrange(len(run) + 1), rng.randrange(b, e))
        out.append(run)
    return out


def _scratch_tables(pg) -> None:
    """Per real unit: its text's term counts; per real chunk: its section path's."""
    from maint.domain import search_path
    from retrieval.pgstore import term_counts

    conn = pg.conn
    if conn.execute("SELECT to_regclass('bench_unit_terms') AS t").fetchone()["t"]:
        return
    texts = conn.execute(
        "SELECT u.id, u.text FROM units u JOIN chunks c ON c.id = u.chunk_id"
        " WHERE c.document_id <> %s",
        (DOC,),
    ).fetchall()
    paths = conn.execute(
        "SELECT c.id, d.title, c.section FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE c.document_id <> %s",
        (DOC,),
    ).fetchall()
    conn.execute("CREATE UNLOGGED TABLE bench_unit_terms (unit_id text, term text, tf real)")
    conn.execute("CREATE UNLOGGED TABLE bench_path_terms (chunk_id text, term text, tf real)")
    with conn.cursor() as cur, cur.copy("COPY bench_unit_terms FROM STDIN") as copy:
        for r in texts:
            for term, tf in term_counts(r["text"]).items():
                copy.write_row((r["id"], term, tf))
    with conn.cursor() as cur, cur.copy("COPY bench_path_terms FROM STDIN") as copy:
        for r in paths:
            for term, tf in term_counts(search_path(r["title"], r["section"])).items():
                copy.write_row((r["id"], term, tf))
    for table, key in (("bench_unit_terms", "unit_id"), ("bench_path_terms", "chunk_id")):
        conn.execute(f"CREATE INDEX ON {table} ({key})")
        conn.execute(f"ANALYZE {table}")


def grow(pg, total: int, with_units: bool, seed: int = 0) -> dict:
    """Add synthetic chunks until the table holds ``total``; returns what was built and how
    long each step took."""
    conn = pg.conn
    have = conn.execute("SELECT count(*) AS n FROM chunks").fetchone()["n"]
    done = conn.execute("SELECT count(*) AS n FROM chunks WHERE document_id = %s", (DOC,))
    start = done.fetchone()["n"]
    n = max(total - have, 0)
    units = _real_units(pg)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    _scratch_tables(pg)
    runs = _runs(units, start, n, seed)
    timings["generate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    conn.execute("DROP TABLE IF EXISTS bench_map")
    conn.execute("CREATE UNLOGGED TABLE bench_map (chunk_id text, ord int, unit_id text)")
    with conn.cursor() as cur, cur.copy("COPY bench_map FROM STDIN") as copy:
        for i, run in enumerate(runs):
            cid = f"{DOC}:{start + i}"
            for ord_, pos in enumerate(run):
                copy.write_row((cid, ord_, units[pos]["id"]))
    conn.execute("CREATE INDEX ON bench_map (chunk_id, ord)")
    conn.execute("ANALYZE bench_map")
    timings["map_s"] = time.perf_counter() - t0

    defs = _drop_bulk_indexes(pg, with_units)
    conn.execute("SET session_replication_role = replica")  # no FK triggers for the bulk load
    try:
        with conn.transaction():
            _insert(pg, start, with_units, timings)
    finally:
        conn.execute("SET session_replication_role = DEFAULT")
    t0 = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '4GB'")
    builds = {}
    for name, sql in defs.items():
        t1 = time.perf_counter()
        conn.execute(sql)
        builds[name] = round(time.perf_counter() - t1, 1)
    timings["indexes_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for table in ("chunks", "chunk_terms", "units", "unit_terms", "documents"):
        conn.execute(f"VACUUM ANALYZE {table}")
    timings["analyze_s"] = time.perf_counter() - t0
    conn.execute("DROP TABLE bench_map")
    sizes = conn.execute(
        "SELECT (SELECT count(*) FROM chunks) AS chunks, (SELECT count(*) FROM units) AS units,"
        " (SELECT count(*) FROM chunk_terms) AS chunk_terms,"
        " (SELECT count(*) FROM unit_terms) AS unit_terms,"
        " pg_total_relation_size('chunks') AS chunks_bytes,"
        " pg_total_relation_size('chunk_terms') AS chunk_terms_bytes,"
        " pg_total_relation_size('units') AS units_bytes,"
        " pg_relation_size('chunks_embedding_hnsw') AS hnsw_bytes"
    ).fetchone()
    lengths = Counter(len(r) for r in runs)
    return {
        "chunks": int(sizes["chunks"]),
        "units": int(sizes["units"]),
        "chunk_terms": int(sizes["chunk_terms"]),
        "unit_terms": int(sizes["unit_terms"]),
        "added_chunks": n,
        "real_units": len(units),
        "units_per_chunk": round(sum(k * v for k, v in lengths.items()) / max(n, 1), 2),
        "synthetic_units": "grown with the chunks" if with_units else "not grown at this size",
        "chunks_mb": round(sizes["chunks_bytes"] / 2**20),
        "chunk_terms_mb": round(sizes["chunk_terms_bytes"] / 2**20),
        "units_mb": round(sizes["units_bytes"] / 2**20),
        "hnsw_mb": round(sizes["hnsw_bytes"] / 2**20),
        "index_build_s": builds,
        **{k: round(v, 1) for k, v in timings.items()},
        "graph": "the real corpus's (not grown)",
    }


BULK_CHUNKS = ("chunks", "chunk_terms")


def _drop_bulk_indexes(pg, with_units: bool) -> dict[str, str]:
    tables = ("chunks", "chunk_terms", "units", "unit_terms") if with_units else BULK_CHUNKS
    defs = {}
    for table in tables:
        found = {
            r["indexname"]: r["indexdef"]
            for r in pg.conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,)
            )
        }
        for name in BULK[table]:
            if name not in found:
                raise RuntimeError(f"{table} has no index {name}; the migrations changed?")
            defs[name] = found[name]
            pg.conn.execute(f"DROP INDEX {name}")
    return defs


def _insert(pg, start: int, with_units: bool, timings: dict) -> None:
    """The chunks, their terms, and (``with_units``) their units and the units' terms."""
    conn = pg.conn
    if start == 0:
        conn.execute(
            "INSERT INTO documents (id, sha256, source_path, title, format, pages, bytes,"
            " status, chunk_count) VALUES (%s, 'synthetic-benchmark',"
            " 'synthetic://query-benchmark', 'Synthetic benchmark chunks', 'txt', 0, 0,"
            " 'complete', 0)",
            (DOC,),
        )
    t0 = time.perf_counter()
    # A chunk's terms: its units' text terms, plus the section path terms of the chunk its
    # run starts in (what ingestion counts for a chunk: its search path and its text).
    conn.execute(
        "CREATE TEMP TABLE bench_first ON COMMIT DROP AS"
        " SELECT m.chunk_id, u.chunk_id AS source FROM bench_map m"
        " JOIN units u ON u.id = m.unit_id WHERE m.ord = 0"
    )
    conn.execute(
        "CREATE TEMP TABLE bench_terms ON COMMIT DROP AS"
        " SELECT term, chunk_id, tf, sum(tf) OVER (PARTITION BY chunk_id)::int AS dl FROM ("
        "  SELECT term, chunk_id, sum(tf) AS tf FROM ("
        "   SELECT m.chunk_id, t.term, t.tf FROM bench_map m"
        "   JOIN bench_unit_terms t ON t.unit_id = m.unit_id"
        "   UNION ALL SELECT f.chunk_id, p.term, p.tf FROM bench_first f"
        "   JOIN bench_path_terms p ON p.chunk_id = f.source) x GROUP BY term, chunk_id) y"
    )
    conn.execute("INSERT INTO chunk_terms (term, chunk_id, tf, dl) SELECT * FROM bench_terms")
    conn.execute(
        "CREATE TEMP TABLE bench_len ON COMMIT DROP AS"
        " SELECT chunk_id, max(dl) AS dl FROM bench_terms GROUP BY chunk_id"
    )
    timings["chunk_terms_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute(
        "INSERT INTO chunks (id, document_id, ordinal, section, section_path, page_start,"
        " page_end, text, tokens, embedding, term_count)"
        " SELECT m.chunk_id, %(doc)s, split_part(m.chunk_id, ':', 2)::int,"
        "  min(s.section), min(s.section_path), min(s.page_start), max(s.page_end),"
        "  string_agg(u.text, E'\\n' ORDER BY m.ord), sum(length(u.text) / 4)::int,"
        "  l2_normalize(avg(u.embedding)),"
        "  min(l.dl) FROM bench_map m JOIN units u ON u.id = m.unit_id"
        " JOIN bench_len l ON l.chunk_id = m.chunk_id"
        " JOIN bench_first f ON f.chunk_id = m.chunk_id JOIN chunks s ON s.id = f.source"
        " GROUP BY m.chunk_id",
        {"doc": DOC},
    )
    conn.execute(
        "UPDATE documents SET chunk_count = (SELECT count(*) FROM chunks WHERE document_id = %s)"
        " WHERE id = %s",
        (DOC, DOC),
    )
    timings["chunks_s"] = time.perf_counter() - t0
    if not with_units:
        return
    t0 = time.perf_counter()
    conn.execute(
        "INSERT INTO units (id, chunk_id, kind, text, embedding, term_count)"
        " SELECT m.chunk_id || '/' || m.ord, m.chunk_id, u.kind, u.text, u.embedding,"
        "  u.term_count FROM bench_map m JOIN units u ON u.id = m.unit_id"
    )
    conn.execute(
        "INSERT INTO unit_terms (term, unit_id, tf, dl, part_row)"
        " SELECT t.term, m.chunk_id || '/' || m.ord, t.tf, t.dl, t.part_row FROM bench_map m"
        " JOIN unit_terms t ON t.unit_id = m.unit_id"
    )
    timings["units_s"] = time.perf_counter() - t0
