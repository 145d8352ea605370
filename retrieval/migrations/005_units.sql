-- Search units: the table rows, sentences and safety blocks inside each chunk
-- (ingestion/chunker.py), embedded and counted for BM25 on their own. A unit that matches
-- a question brings its chunk.
CREATE TABLE units (
    id          text PRIMARY KEY,              -- "<chunk id>/<n>"
    chunk_id    text NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    kind        text NOT NULL,                 -- row, part_row, sentence, safety
    text        text NOT NULL,
    embedding   vector({dim}) NOT NULL,
    term_count  integer NOT NULL DEFAULT 0
);
CREATE INDEX units_chunk ON units (chunk_id);
CREATE INDEX units_embedding_hnsw ON units USING hnsw (embedding vector_cosine_ops);

CREATE TABLE unit_terms (
    term     text NOT NULL,
    unit_id  text NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    tf       real NOT NULL,
    PRIMARY KEY (term, unit_id)
);
CREATE INDEX unit_terms_unit ON unit_terms (unit_id);
