"""PDF manuals: pdfium reads the words, the layout modules put them in order and in tables.

Per page: words and ruling lines (``pdf_text``); ruled tables cut out (``pdf_tables``); the
rest grouped into rows; page furniture dropped across the document (``furniture``); rows
put in reading order, two-column bands column by column (``pdf_layout``); unruled tables
found in each column; then headings from the manual's numbering, or from bold and large
type where the manual numbers nothing (``sections``). The title page gives the title,
publication number and equipment (``title_page``). Pages that are an image with no text
layer (scanned without OCR) are listed on the document; blank pages are not.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pypdfium2 as pdfium
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ingestion.parsers import furniture, sections
from ingestion.parsers.base import ParseError, clean, strip_leaders
from ingestion.parsers.layout import Line, lines_to_elements
from ingestion.parsers.pdf_headings import mark_headings
from ingestion.parsers.pdf_layout import (
    Row,
    Segment,
    lines_of,
    reading_order,
    segments_of,
    word_gap,
)
from ingestion.parsers.pdf_tables import TableBox, ruled_tables, text_tables
from ingestion.parsers.pdf_text import PageText, Word, read_page
from ingestion.parsers.title_page import read_title_page
from maint.domain import ParsedDocument


def _check_readable(data: bytes) -> None:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(
                "the PDF is encrypted with a password",
                "ask the publisher for an unprotected copy or remove the password "
                "(qpdf --decrypt --password=… in.pdf out.pdf)",
            )
        if len(reader.pages) == 0:
            raise ParseError("the PDF has no pages", "re-export the manual")
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(
            f"not a readable PDF ({type(exc).__name__}: {exc})",
            "the file is corrupt or truncated; download or export it again",
        ) from exc


def _table_row(box: TableBox) -> Row:
    """A stand-in row where a ruled table sits, so that it takes its place in reading order."""
    word = Word("", box.x0, box.top, box.x1, box.bottom, 0.0, False, box.order, box.bottom)
    return Row([Segment([word])], box.top, box.bottom, extra={"table": box.rows})


def _document_rows(texts: list[PageText]) -> list[list[Row]]:
    """Each page's rows, ruled tables in their places; segments split by the document's spacing."""
    found = [ruled_tables(t) for t in texts]
    lines = [lines_of(words) for _, words in found]
    gap = word_gap([ws for page in lines for ws in page])
    pages = []
    for (tables, _), page in zip(found, lines, strict=True):
        rows = [Row(segments_of(ws, gap)) for ws in page]
        rows.extend(_table_row(t) for t in tables)
        rows.sort(key=lambda r: r.top)
        pages.append(rows)
    return pages


def _lines(page: furniture.Page) -> list[Line]:
    """A page's rows in reading order, unruled tables gathered, as layout lines."""
    rows = page.rows
    if not rows:
        return []
    rows = reading_order(rows, min(r.x0 for r in rows), max(r.x1 for r in rows))
    lines: list[Line] = []
    flow: list[Row] = []

    def flush_flow() -> None:
        i = 0
        for start, end, cells in text_tables(flow):
            lines.extend(_text_line(r, page.number) for r in flow[i:start])
            lines.append(
                Line(text="", page=page.number, table=cells, extra={"top": flow[start].top})
            )
            i = end
        lines.extend(_text_line(r, page.number) for r in flow[i:])
        flow.clear()

    for row in rows:
        if "table" in row.extra:
            flush_flow()
            lines.append(
                Line(text="", page=page.number, table=row.extra["table"], extra={"top": row.top})
            )
            continue
        if row.extra.get("column_start"):
            flush_flow()
        flow.append(row)
    flush_flow()
    _mark_gaps(lines)
    return lines


def _text_line(row: Row, page: int) -> Line:
    raw = row.text
    return Line(
        text=strip_leaders(raw),
        page=page,
        extra={
            "top": row.baseline,  # baselines: line spacing without the glyphs' ups and downs
            "bottom": row.bottom,
            "size": row.size,
            "bold": row.bold,
            "leaders": raw != strip_leaders(raw),
            "column_start": row.extra.get("column_start", False),
            "segments": len(row.segments),
        },
    )


def _mark_gaps(lines: list[Line]) -> None:
    """Paragraph breaks: more space above a line than between the lines of a paragraph."""
    text = [ln for ln in lines if ln.table is None]
    pitch = [
        b.extra["top"] - a.extra["top"]
        for a, b in itertools.pairwise(text)
        if 0 < b.extra["top"] - a.extra["top"] < 30
    ]
    # The line pitch inside a paragraph: the common small one (headings and breaks add more).
    step = sorted(pitch)[len(pitch) // 4] if pitch else 12.0
    prev: Line | None = None
    for ln in lines:
        if ln.table is not None:
            prev = None
            continue
        delta = ln.extra["top"] - prev.extra["top"] if prev is not None else 0
        ln.gap_before = prev is None or ln.extra["column_start"] or delta > 1.25 * step or delta < 0
        prev = ln


def parse(path: Path, data: bytes) -> ParsedDocument:
    _check_readable(data)
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ParseError(
            f"the PDF could not be read ({exc})",
            "the file is corrupt or truncated; download or export it again",
        ) from exc
    try:
        texts = []
        for i in range(len(pdf)):
            page = pdf[i]
            try:
                texts.append(read_page(page, i + 1))
            finally:
                page.close()
        metadata = pdf.get_metadata_dict()
    finally:
        pdf.close()
    pages = [
        furniture.Page(t.number, t.height, rows)
        for t, rows in zip(texts, _document_rows(texts), strict=True)
    ]
    front = read_title_page([p.rows for p in pages[:3]])
    furniture.strip(pages)
    lines: list[Line] = []
    for page in pages:
        if page.work_package:
            number, title = page.work_package
            text = f"WP {number} {title}".strip()
            lines.append(Line(text=text, page=page.number, heading_level=sections.SECTION))
        lines.extend(_lines(page))
    lines = mark_headings(lines)
    elements = lines_to_elements([lines], fonts_known=True)
    meta_title = clean(metadata.get("Title") or "")
    title = (
        front.title
        or meta_title
        or next((e.text for e in elements if e.kind == "heading"), path.stem)
    )
    return ParsedDocument(
        path=str(path),
        format="pdf",
        title=clean(title),
        pages=len(texts),
        elements=elements,
        publication=front.publication,
        equipment=front.equipment,
        pages_without_text=[t.number for t in texts if not t.words and t.has_images],
    )
