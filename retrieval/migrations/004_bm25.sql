-- BM25 keyword ranking. Each chunk's terms (stemmed content words and compacted codes, see
-- retrieval/query.py) with their counts; a term's document frequency is counted from the
-- primary key, capped (retrieval/pgstore.py), so a query touches only rare terms' postings.
CREATE TABLE chunk_terms (
    term      text NOT NULL,
    chunk_id  text NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    tf        real NOT NULL,
    PRIMARY KEY (term, chunk_id)
);
CREATE INDEX chunk_terms_chunk ON chunk_terms (chunk_id);
ALTER TABLE chunks ADD COLUMN term_count integer NOT NULL DEFAULT 0;
-- The tsvector column ranked with ts_rank before BM25; nothing reads it now.
DROP INDEX IF EXISTS chunks_tsv;
ALTER TABLE chunks DROP COLUMN IF EXISTS tsv;
