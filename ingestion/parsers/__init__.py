"""File parsers: each turns one file into a ``ParsedDocument`` (elements in reading order)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from ingestion.parsers.base import ParseError, dehyphenate
from maint.domain import ParsedDocument

Parser = Callable[[Path, bytes], ParsedDocument]

# File suffix -> parser module; modules load on first use (pdfplumber is slow to import).
_PARSER_MODULES = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
SUPPORTED_SUFFIXES = tuple(_PARSER_MODULES)


def _parser(suffix: str) -> Parser | None:
    module = _PARSER_MODULES.get(suffix)
    if module is None:
        return None
    return importlib.import_module(f"ingestion.parsers.{module}").parse


def parse_file(path: Path, data: bytes) -> ParsedDocument:
    """Parse ``data`` (the bytes of ``path``) by the file's extension."""
    parser = _parser(path.suffix.lower())
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
