"""Parsing ahead in worker processes gives the documents, chunks and facts of parsing in
process, and the same failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.extract import RuleExtractor
from ingestion.parse_ahead import ParsePool, parse_outcome
from ingestion.parsers import ParseError, parse_file
from tests.helpers import ROOT, SAMPLES, FakeEmbedder

REAL = ROOT.parent / "shared" / "real-manuals" / "docs"
# The two smallest real manuals (62 pages), when ../shared/real-manuals is there.
SMALL_REAL = [REAL / "TM-9-2920-225-34P.pdf", REAL / "MWO-9-2320-387-20-1.pdf"]


def _files() -> list[Path]:
    return sorted(SAMPLES.iterdir()) + [p for p in SMALL_REAL if p.is_file()]


def _chunks_and_facts(path: Path, doc) -> tuple:
    counter = FakeEmbedder().count_tokens
    chunks = chunk_blocks(path.stem, to_blocks(doc), counter, 200, 30, 600)
    return chunks, RuleExtractor().extract(path.stem, doc.title, chunks)


def test_parsed_ahead_equals_parsed_in_process():
    files = _files()
    with ParsePool(2) as pool:
        futures = [pool.submit(p, p.read_bytes()) for p in files]
        ahead = [f.result().unwrap() for f in futures]
    for path, doc in zip(files, ahead, strict=True):
        serial = parse_file(path, path.read_bytes())
        assert doc == serial, path.name
        assert _chunks_and_facts(path, doc) == _chunks_and_facts(path, serial), path.name


def test_failures_travel_back_as_the_serial_errors(tmp_path):
    empty = tmp_path / "empty.md"
    empty.write_text("   ")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nnot really a pdf")
    with ParsePool(1) as pool:
        outcomes = [pool.submit(p, p.read_bytes()).result() for p in (empty, broken)]
    with pytest.raises(ParseError, match="empty"):
        outcomes[0].unwrap()
    assert outcomes[0] == parse_outcome(empty, empty.read_bytes())
    with pytest.raises(ParseError):
        parse_file(broken, broken.read_bytes())
    assert outcomes[1].reason and outcomes[1].hint
