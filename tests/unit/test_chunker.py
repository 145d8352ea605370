"""Chunks follow structure: procedures, tables and warnings are never cut."""

import pytest

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.parsers import parse_file
from tests.helpers import SAMPLES

MANUALS = sorted(p.name for p in SAMPLES.iterdir())


@pytest.fixture(scope="module", params=MANUALS)
def chunked(request, embedder):
    path = SAMPLES / request.param
    blocks = to_blocks(parse_file(path, path.read_bytes()))
    return blocks, chunk_blocks("d", blocks, embedder.count_tokens, 200, 30, 600)


def test_procedures_and_warnings_are_whole(chunked):
    blocks, chunks = chunked
    for block in blocks:
        if block.kind in ("procedure", "warning"):
            assert any(block.text in c.text for c in chunks), block.text[:80]


def test_tables_split_only_at_rows_with_header(chunked):
    blocks, chunks = chunked
    for block in blocks:
        if block.kind != "table":
            continue
        header = " | ".join(block.rows[0])
        pieces = [
            b
            for c in chunks
            for b in c.blocks
            if b.kind == "table" and b.rows[0] == block.rows[0] and b.section == block.section
        ]
        rows = [r for p in pieces for r in p.rows[1:]]
        assert all(p.text.startswith(header) for p in pieces)
        assert all(r in rows for r in block.rows[1:])


def test_chunks_stay_in_one_section_and_size(chunked):
    _, chunks = chunked
    for c in chunks:
        assert all(b.section == c.section for b in c.blocks)
        prose_only = all(b.kind in ("paragraph", "list", "note") for b in c.blocks)
        if prose_only:
            assert c.tokens <= 200 + 60, (c.section_path, c.tokens)
        assert c.page_start is None or c.page_start <= c.page_end


def test_small_chunk_size_still_keeps_procedures_whole(embedder):
    path = SAMPLES / "p200-centrifugal-pump.pdf"
    blocks = to_blocks(parse_file(path, path.read_bytes()))
    chunks = chunk_blocks("d", blocks, embedder.count_tokens, 40, 10, 120)
    for block in blocks:
        if block.kind == "procedure":
            assert any(block.text in c.text for c in chunks)
