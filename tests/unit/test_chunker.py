"""Chunks follow structure: procedures, tables and warnings are never cut."""

import pytest

from ingestion.chunker import chunk_blocks, search_units, to_blocks
from ingestion.parsers import parse_file
from maint.domain import Block
from tests.helpers import SAMPLES

MANUALS = sorted(p.name for p in SAMPLES.iterdir())
# Column heads of stock and part numbers, as the samples print them: the authored manuals'
# 'Part No.' and 'Stock No.', the MWO's 'NSN' and 'CAGEC', the 1974 RPSTL's 'FSN' and 'FSCM'.
STOCK_OR_PART_COLUMNS = ("part no", "part number", "nsn", "fsn", "stock no", "cage", "fscm")


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


def test_search_units_are_rows_safety_blocks_and_sentences(chunked):
    """Every table row is a unit under its header (a parts-list row when the header has a
    part or stock number column), a warning is one unit, and prose is cut into sentences;
    every unit's lines are in its chunk."""
    _, chunks = chunked
    for c in chunks:
        for u in c.units:
            assert all(line in c.text for line in u.text.splitlines()), u.text
        for b in c.blocks:
            if b.kind == "warning":
                assert any(u.kind == "safety" and u.text == b.text for u in c.units)
            if b.kind == "table":
                kinds = {u.kind for u in c.units if u.text.startswith(" | ".join(b.rows[0]))}
                header = " ".join(b.rows[0]).lower()
                want = "part_row" if any(c in header for c in STOCK_OR_PART_COLUMNS) else "row"
                assert kinds <= {want}, (b.rows[0], kinds)


def test_a_parts_list_row_is_a_part_row():
    table = Block(
        kind="table",
        section=["Parts"],
        page_start=3,
        page_end=3,
        text="",
        rows=[
            ["ITEM", "NSN", "PART NUMBER", "DESCRIPTION", "QTY"],
            ["1", "5340-00-302-1840", "104054", "HOLDER, DOOR", "1"],
            ["", "", "", "", ""],
        ],
    )
    torque = table.model_copy(update={"rows": [["Screw", "Torque"], ["1/2-13", "75 lb-ft"]]})
    assert [(u.kind, u.text.splitlines()[1]) for u in search_units([table])] == [
        ("part_row", "1 | 5340-00-302-1840 | 104054 | HOLDER, DOOR | 1")
    ]
    assert [u.kind for u in search_units([torque])] == ["row"]
