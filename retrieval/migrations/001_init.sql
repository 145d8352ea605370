-- Documents, their chunks (vector + full-text), and ingestion runs.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE documents (
    id           text PRIMARY KEY,               -- first 16 hex digits of sha256
    sha256       text NOT NULL UNIQUE,
    source_path  text NOT NULL,
    title        text NOT NULL,
    format       text NOT NULL,
    pages        integer NOT NULL,
    bytes        bigint NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'complete')),
    chunk_count  integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_source_path ON documents (source_path);

CREATE TABLE chunks (
    id            text PRIMARY KEY,              -- "<document id>:<ordinal>"
    document_id   text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal       integer NOT NULL,
    section       text[] NOT NULL,
    section_path  text NOT NULL,
    page_start    integer,
    page_end      integer,
    text          text NOT NULL,
    tokens        integer NOT NULL,
    embedding     vector({dim}) NOT NULL,
    tsv           tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', section_path), 'B')
                      || setweight(to_tsvector('english', text), 'A')) STORED
);
CREATE INDEX chunks_document ON chunks (document_id, ordinal);
CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);

CREATE TABLE ingestion_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    summary     jsonb
);
