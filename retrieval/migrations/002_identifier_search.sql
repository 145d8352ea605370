-- Part numbers are written many ways (WP-1143 B, WP1143B, wp-1143-b): search them in a
-- compacted copy of the text (upper case, letters and digits only) through a trigram index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX chunks_compact_trgm ON chunks
    USING gin ((regexp_replace(upper(text), '[^A-Z0-9]', '', 'g')) gin_trgm_ops);
