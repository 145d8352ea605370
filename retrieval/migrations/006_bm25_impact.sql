-- Bounded BM25 (retrieval/pgstore.py, keyword_search). Each posting carries its row's length
-- (dl, terms in the chunk or unit), so scoring never reads the wide chunk and unit rows, and
-- an "impact" (the BM25 term weight at a fixed reference length of 64 terms, k1 1.2, b 0.75)
-- by which each term's postings are indexed best first: a question reads at most a fixed
-- number of postings per word however large the corpus grows. The score itself is exact BM25
-- with the corpus' current mean length; the impact only chooses which postings are read.
-- The primary key carries tf and dl, so a probe by (term, row) reads the index alone.
-- The tables are rebuilt rather than updated in place: one pass and sorted index builds, not
-- a new version of every row and its index entries (minutes at millions of postings).
CREATE TABLE chunk_terms_v6 (
    term      text NOT NULL,
    chunk_id  text NOT NULL,
    tf        real NOT NULL,
    dl        integer NOT NULL,
    impact    real GENERATED ALWAYS AS (tf / (tf + 0.3 + 0.9 * dl / 64.0)) STORED
);
INSERT INTO chunk_terms_v6 (term, chunk_id, tf, dl)
    SELECT t.term, t.chunk_id, t.tf, c.term_count FROM chunk_terms t JOIN chunks c ON c.id = t.chunk_id;
DROP TABLE chunk_terms;
ALTER TABLE chunk_terms_v6 RENAME TO chunk_terms;
ALTER TABLE chunk_terms ADD PRIMARY KEY (term, chunk_id) INCLUDE (tf, dl);
ALTER TABLE chunk_terms ADD FOREIGN KEY (chunk_id) REFERENCES chunks (id) ON DELETE CASCADE;
CREATE INDEX chunk_terms_chunk ON chunk_terms (chunk_id);
CREATE INDEX chunk_terms_impact ON chunk_terms (term, impact DESC) INCLUDE (chunk_id, tf, dl);

CREATE TABLE unit_terms_v6 (
    term     text NOT NULL,
    unit_id  text NOT NULL,
    tf       real NOT NULL,
    dl       integer NOT NULL,
    part_row boolean NOT NULL,                 -- the unit is a parts-list row
    impact   real GENERATED ALWAYS AS (tf / (tf + 0.3 + 0.9 * dl / 64.0)) STORED
);
INSERT INTO unit_terms_v6 (term, unit_id, tf, dl, part_row)
    SELECT t.term, t.unit_id, t.tf, u.term_count, u.kind = 'part_row'
    FROM unit_terms t JOIN units u ON u.id = t.unit_id;
DROP TABLE unit_terms;
ALTER TABLE unit_terms_v6 RENAME TO unit_terms;
ALTER TABLE unit_terms ADD PRIMARY KEY (term, unit_id) INCLUDE (tf, dl);
ALTER TABLE unit_terms ADD FOREIGN KEY (unit_id) REFERENCES units (id) ON DELETE CASCADE;
CREATE INDEX unit_terms_unit ON unit_terms (unit_id);
CREATE INDEX unit_terms_impact ON unit_terms (term, impact DESC) INCLUDE (unit_id, tf, dl);
-- What a question for a stock number searches: the parts-list rows' postings alone.
CREATE INDEX unit_terms_part_rows ON unit_terms (term, impact DESC) INCLUDE (unit_id, tf, dl)
    WHERE part_row;

ANALYZE chunk_terms;
ANALYZE unit_terms;
