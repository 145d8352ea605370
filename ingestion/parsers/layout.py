"""Turning page lines into elements: shared by the plain-text and PDF parsers.

Both formats arrive as lines per page. Running headers and footers are the lines at the top
or bottom of a page that repeat (digits aside) on most pages; they are dropped. Remaining
lines group into headings, numbered/bulleted list items, aligned-column tables and
paragraphs (with hyphenated line breaks undone).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ingestion.parsers.base import (
    HEADING_NUMBER,
    LIST_NUMBER,
    dehyphenate,
    heading_level_from_number,
    list_number,
)
from maint.domain import Element

_DIGITS = re.compile(r"\d+")
_BULLET = re.compile(r"^[-•*▪◦–]\s+(\S.*)$")
_CELL_SPLIT = re.compile(r"\s{2,}|\t")
_SIGNAL = re.compile(r"^(DANGER|WARNING|CAUTION|NOTE)\b")
_SIGNAL_ALONE = re.compile(r"^[.\s]*(DANGER|WARNING|CAUTION|NOTE)S?[.:\s]*$")


@dataclass
class Line:
    text: str
    page: int
    heading_level: int | None = None  # set by a parser that knows fonts (PDF)
    gap_before: bool = False  # vertical space / blank line before it
    table: list[list[str]] | None = None  # a table detected by the PDF parser
    extra: dict = field(default_factory=dict)


def _signature(text: str) -> str:
    return _DIGITS.sub("#", text.strip().lower())


def drop_running_lines(pages: list[list[Line]], depth: int = 2) -> list[list[Line]]:
    """Remove lines near the top/bottom of pages that repeat on most pages."""
    if len(pages) < 3:
        return pages
    counts: Counter[str] = Counter()
    for lines in pages:
        texts = [ln for ln in lines if ln.text.strip() and ln.table is None]
        edge = texts[:depth] + texts[-depth:]
        counts.update({_signature(ln.text) for ln in edge})
    threshold = max(2, int(0.5 * len(pages)))
    running = {sig for sig, n in counts.items() if n >= threshold}
    out = []
    for lines in pages:
        texts = [ln for ln in lines if ln.text.strip() and ln.table is None]
        edge_ids = {id(ln) for ln in texts[:depth] + texts[-depth:]}
        out.append(
            [ln for ln in lines if not (id(ln) in edge_ids and _signature(ln.text) in running)]
        )
    return out


def _is_heading(line: Line, fonts_known: bool) -> int | None:
    if fonts_known or line.heading_level is not None:
        return line.heading_level
    text = line.text.strip()
    if len(text) > 90 or text.endswith((".", ",", ";", ":")) or _SIGNAL.match(text):
        return None
    level = heading_level_from_number(text)
    if level is not None and not LIST_NUMBER.match(text):
        # "3 MAINTENANCE" or "3.2 Replacing the seal": numbered, not a sentence.
        body = HEADING_NUMBER.match(text).group(2)
        if body[:1].isupper() and len(body.split()) <= 12:
            return level
    letters = [c for c in text if c.isalpha()]
    if (
        len(letters) >= 4
        and all(c.isupper() for c in letters)
        and len(text.split()) <= 10
        and not _CELL_SPLIT.search(text)  # an all-caps table header row, not a heading
    ):
        return 1
    return None


def _table_rows(lines: list[Line]) -> list[list[str]] | None:
    """Plain-text tables: 2+ lines whose cells are separated by runs of 2+ spaces."""
    if len(lines) < 2:
        return None
    rows = [[c for c in _CELL_SPLIT.split(ln.text.strip()) if c] for ln in lines]
    widths = [len(r) for r in rows]
    if min(widths) < 2 or max(widths) - min(widths) > 1:
        return None
    return rows


def _continues(buf: list[Line], line: Line) -> bool:
    """A paragraph broken by a column or page break: no full stop, next starts lowercase."""
    last = buf[-1].text.rstrip()
    first = line.text.lstrip()
    if re.match(r"^[a-z]\.\s", first):  # 'b. Cut a piece …': a lettered step starts
        return False
    return bool(first) and first[0].islower() and not last.endswith((".", ":", "!", "?"))


def lines_to_elements(pages: list[list[Line]], fonts_known: bool = False) -> list[Element]:
    """Group lines into elements, in reading order.

    ``fonts_known``: the parser set heading levels from font metrics (PDF); otherwise
    headings are recognised from their text (numbering, capitals).
    """
    flat = [ln for lines in pages for ln in lines if ln.text.strip() or ln.table is not None]
    elements: list[Element] = []
    buf: list[Line] = []
    kind = "paragraph"
    number: int | None = None
    last_number = 0  # of the last numbered item: steps count 1, 2, 3…

    def flush() -> None:
        nonlocal buf, kind, number
        if buf:
            if kind == "paragraph" and (rows := _table_rows(buf)) is not None:
                elements.append(Element(kind="table", rows=rows, page=buf[0].page))
            else:
                text = dehyphenate([ln.text for ln in buf])
                elements.append(Element(kind=kind, text=text, page=buf[0].page, number=number))
        buf, kind, number = [], "paragraph", None

    for line in flat:
        if line.table is not None:
            flush()
            elements.append(Element(kind="table", rows=line.table, page=line.page))
            continue
        text = line.text.strip()
        level = _is_heading(line, fonts_known)
        if level is not None:
            flush()
            elements.append(Element(kind="heading", text=text, level=level, page=line.page))
            continue
        m_num = list_number(text)
        if (
            m_num
            and m_num[0] not in (1, last_number + 1)
            and buf
            and (_continues(buf, Line(text="x", page=line.page)))
        ):
            m_num = None  # "…given in chapter\n3. Watch…": a wrapped sentence, not step 3
        m_bullet = _BULLET.match(text)
        if m_num or m_bullet:
            flush()
            kind = "list_item"
            number = m_num[0] if m_num else None
            last_number = number or last_number
            body = m_num[1] if m_num else m_bullet.group(1)
            buf = [Line(text=body, page=line.page)]
            continue
        new_page = buf and line.page != buf[-1].page  # a page's first line
        if _SIGNAL.match(text) or (
            (line.gap_before or new_page) and buf and not _continues(buf, line)
        ):
            flush()
        buf.append(line)
        if _SIGNAL_ALONE.match(text):
            flush()  # "WARNING" on its own line heads the text under it (merge_signal_words)
    flush()
    return merge_signal_words(elements)


def merge_signal_words(elements: list[Element]) -> list[Element]:
    """A signal word on its own line ('WARNING') belongs to the paragraph after it."""
    out: list[Element] = []
    pending: Element | None = None
    for e in elements:
        word = e.text.strip(" .:").upper() if e.kind in ("paragraph", "heading") else ""
        if word in ("DANGER", "WARNING", "CAUTION", "NOTE"):
            pending = e
            continue
        if pending is not None:
            if e.kind == "paragraph":
                e = e.model_copy(update={"text": f"{pending.text.strip(' .:')}: {e.text}"})
            else:
                out.append(pending.model_copy(update={"kind": "paragraph"}))
            pending = None
        out.append(e)
    if pending is not None:
        out.append(pending.model_copy(update={"kind": "paragraph"}))
    return out
