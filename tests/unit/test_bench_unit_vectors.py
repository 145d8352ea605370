"""``benchmarks/unit_vectors.py``: where a search unit sits in its chunk's embed text, for the
late-chunking way (a table row's unit is its header line and its row line)."""

from __future__ import annotations

from benchmarks.unit_vectors import unit_spans
from ingestion.chunker import chunk_blocks
from maint.domain import Block, SearchUnit
from tests.helpers import FakeEmbedder


def _block(kind: str, text: str, **fields) -> Block:
    return Block(kind=kind, section=["Parts list"], page_start=3, page_end=3, text=text, **fields)


def test_a_row_unit_is_found_as_its_header_and_row_lines_and_a_missing_one_is_none():
    rows = [["ITEM", "NSN", "DESCRIPTION"], ["1", "2940-01-123-4567", "Oil filter element"]]
    table = _block("table", "\n".join(" | ".join(row) for row in rows), rows=rows)
    prose = _block("paragraph", "Replace the oil filter element every 250 hours of operation.")
    (chunk,) = chunk_blocks("doc", [prose, table], FakeEmbedder().count_tokens, document="TM 9")
    row, sentence = sorted(chunk.units, key=lambda u: u.kind != "part_row")
    assert row.kind == "part_row"
    text = chunk.embed_text
    assert [text[a:b] for a, b in unit_spans(chunk, row)] == row.text.split("\n")
    assert [text[a:b] for a, b in unit_spans(chunk, sentence)] == [sentence.text]
    assert text.startswith("TM 9 > Parts list\n")
    assert unit_spans(chunk, SearchUnit(kind="sentence", text="Not in this chunk at all.")) is None
