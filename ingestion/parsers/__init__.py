"""File parsers: each turns one file into a ``ParsedDocument`` (elements in reading order)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingestion.parsers.base import ParseError, dehyphenate
from maint.domain import ParsedDocument

Parser = Callable[[Path, bytes], ParsedDocument]


def _parsers() -> dict[str, Parser]:
    from ingestion.parsers import html, markdown, pdf, text

    return {
        ".pdf": pdf.parse,
        ".html": html.parse,
        ".htm": html.parse,
        ".md": markdown.parse,
        ".markdown": markdown.parse,
        ".txt": text.parse,
        ".text": text.parse,
    }


SUPPORTED_SUFFIXES = (".pdf", ".html", ".htm", ".md", ".markdown", ".txt", ".text")


def parse_file(path: Path, data: bytes) -> ParsedDocument:
    """Parse ``data`` (the bytes of ``path``) by the file's extension."""
    parser = _parsers().get(path.suffix.lower())
    if parser is None:
        raise ParseError(
            f"unsupported file type {path.suffix or '(none)'!r}",
            f"convert it to one of {', '.join(SUPPORTED_SUFFIXES)}",
        )
    if not data.strip():
        raise ParseError("the file is empty", "check the export; nothing to ingest")
    doc = parser(path, data)
    if not any(e.text.strip() or e.rows for e in doc.elements):
        raise ParseError(
            "no text found (a scanned PDF without a text layer?)",
            "run OCR on it first (e.g. ocrmypdf) and ingest the result",
        )
    return doc


__all__ = ["SUPPORTED_SUFFIXES", "ParseError", "dehyphenate", "parse_file"]
