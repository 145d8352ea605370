-- Vector search over parts-list rows alone (a question asking for a part or stock number)
-- filtered the units' HNSW graph: an iterative scan walked through the nearest sentences and
-- table rows to find part rows, 40-75 ms at p95 at 100k chunks. Their own (partial) graph
-- answers in 3-5 ms and is exact about which rows count. (5 s to build at 100k chunks.)
CREATE INDEX IF NOT EXISTS units_part_row_hnsw ON units USING hnsw (embedding vector_cosine_ops)
    WHERE kind = 'part_row';
