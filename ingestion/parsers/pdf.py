"""PDF manuals, from the text layer, through pdfplumber (tables) and pypdf (checks).

Real manual PDFs put two columns side by side, repeat headers and footers on every page and
hyphenate words across line breaks. Lines are read in the PDF's text flow (see
``_page_lines``); tables found by pdfplumber are taken out of the flow and kept as rows;
headings are recognised by font size (larger than body text) or bold numbered lines.
"""

from __future__ import annotations

import io
import itertools
import statistics
from pathlib import Path

import pdfplumber
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ingestion.parsers.base import HEADING_NUMBER, ParseError, clean, dehyphenate
from ingestion.parsers.layout import Line, drop_running_lines, lines_to_elements
from maint.domain import ParsedDocument

_ROW_TOLERANCE = 2.0  # points: consecutive words whose tops differ less sit on one line


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


def _table_index(word: dict, boxes: list[tuple[float, float, float, float]]) -> int | None:
    cx = (word["x0"] + word["x1"]) / 2
    cy = (word["top"] + word["bottom"]) / 2
    for i, (x0, top, x1, bottom) in enumerate(boxes):
        if x0 <= cx <= x1 and top <= cy <= bottom:
            return i
    return None


def _line(words: list[dict], page: int) -> Line:
    return Line(
        text=" ".join(w["text"] for w in words),
        page=page,
        extra={
            "top": words[0]["top"],
            "size": statistics.median(w["size"] for w in words),
            "bold": all("bold" in w["fontname"].lower() for w in words),
        },
    )


def _page_lines(page: pdfplumber.page.Page, number: int) -> list[Line]:
    """Lines in the order the PDF draws them (its text flow), tables where the flow meets them.

    Generators of manuals (word processors, DTP, reportlab) draw a column to its end before
    starting the next, so the text flow is the reading order; sorting by position instead
    would interleave the two columns line by line.
    """
    tables = page.find_tables()
    boxes = [t.bbox for t in tables]
    words = page.extract_words(
        extra_attrs=["fontname", "size"], x_tolerance=1.5, use_text_flow=True
    )
    lines: list[Line] = []
    current: list[dict] = []
    emitted: set[int] = set()

    def end_line() -> None:
        nonlocal current
        if current:
            lines.append(_line(current, number))
        current = []

    for w in words:
        idx = _table_index(w, boxes)
        if idx is not None:
            end_line()
            if idx not in emitted:
                emitted.add(idx)
                rows = [
                    [dehyphenate((cell or "").split("\n")) for cell in row]
                    for row in tables[idx].extract()
                ]
                rows = [r for r in rows if any(r)]
                if rows:
                    lines.append(Line(text="", page=number, table=rows))
            continue
        if current and (
            abs(w["top"] - current[-1]["top"]) > _ROW_TOLERANCE or w["x0"] < current[-1]["x0"]
        ):
            end_line()
        current.append(w)
    end_line()
    return lines


def _mark_structure(pages: list[list[Line]]) -> None:
    """Set gap_before (paragraph breaks) and heading levels from the font metrics."""
    sizes = [ln.extra["size"] for lines in pages for ln in lines if ln.table is None]
    if not sizes:
        return
    body = statistics.mode(round(s, 1) for s in sizes)
    heading_sizes = sorted({round(s, 1) for s in sizes if s >= body + 0.8}, reverse=True)
    for lines in pages:
        prev: Line | None = None
        spacing = [
            b.extra["top"] - a.extra["top"]
            for a, b in itertools.pairwise(lines)
            if a.table is None and b.table is None and 0 < b.extra["top"] - a.extra["top"] < 30
        ]
        step = statistics.median(spacing) if spacing else 12.0
        for ln in lines:
            if ln.table is not None:
                prev = None
                continue
            size = round(ln.extra["size"], 1)
            text = clean(ln.text)
            numbered = HEADING_NUMBER.match(text)
            if size in heading_sizes and len(text) < 100:
                level = (
                    numbered.group(1).count(".") + 1
                    if numbered
                    else (heading_sizes.index(size) + 1)
                )
                ln.heading_level = level
            elif ln.extra["bold"] and numbered and len(text) < 90 and not text.endswith("."):
                ln.heading_level = numbered.group(1).count(".") + 1
            if prev is not None:
                delta = ln.extra["top"] - prev.extra["top"]
                ln.gap_before = delta > 1.35 * step or delta < 0
            else:
                ln.gap_before = True
            prev = ln


def parse(path: Path, data: bytes) -> ParsedDocument:
    _check_readable(data)
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            pages = [_page_lines(p, i) for i, p in enumerate(pdf.pages, start=1)]
            meta_title = (pdf.metadata or {}).get("Title")
    except ParseError:
        raise
    except Exception as exc:  # pdfminer raises many types on damaged files
        raise ParseError(
            f"the PDF could not be read ({type(exc).__name__}: {exc})",
            "the file is corrupt or truncated; download or export it again",
        ) from exc
    _mark_structure(pages)
    elements = lines_to_elements(drop_running_lines(pages), fonts_known=True)
    title = meta_title if isinstance(meta_title, str) and meta_title.strip() else None
    if not title:
        title = next((e.text for e in elements if e.kind == "heading"), path.stem)
    return ParsedDocument(
        path=str(path), format="pdf", title=clean(title), pages=len(pages), elements=elements
    )
