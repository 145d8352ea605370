"""Which lines of a PDF are headings, and at what level.

The manual's numbering decides first (``sections``). Bold or larger type makes a heading of
an unnumbered line only if it reads as a name (capitals or title case), stands apart, and
is not on a title page, a contents page or a page of figure callouts. In a manual that
numbers its sections, such headings sit under the numbered ones (level 4); in one that does
not, type size ranks them, as in most commercial manuals. A table's title heads its table
only: the section it sits in is restored after the table.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter

from ingestion.parsers import sections
from ingestion.parsers.base import HEADING_NUMBER, clean
from ingestion.parsers.layout import Line


def mark_headings(lines: list[Line]) -> list[Line]:
    """Set heading levels: the manual's numbering first, then bold or large type."""
    text = [ln for ln in lines if ln.table is None and ln.text and ln.heading_level is None]
    if not text:
        return lines
    texts = {id(ln) for ln in text}
    body = statistics.mode(round(ln.extra["size"], 1) for ln in text)
    larger = sorted(
        {round(ln.extra["size"], 1) for ln in text if ln.extra["size"] >= body + 0.8}, reverse=True
    )
    # Contents pages: most lines lead to page numbers; their entries are not the sections.
    per_page = Counter(ln.page for ln in text)
    leaders = Counter(ln.page for ln in text if ln.extra["leaders"])
    contents = {p for p, n in leaders.items() if n >= 4 and n >= 0.4 * per_page[p]}
    numbered = {
        id(ln): h
        for ln in text
        if not ln.extra["leaders"]
        and ln.page != text[0].page  # the title page names chapters in an index, if at all
        and ln.page not in contents
        and (h := sections.numbered_heading(ln.text))
    }
    strong = sum(1 for h in numbered.values() if h.strong and h.level <= sections.PARAGRAPH)
    # Manuals numbering paragraphs "2-41." number lists "1.": those are no headings there.
    chaptered = sum(1 for h in numbered.values() if re.match(r"[A-Z]?\d+-\d+\.", h.text)) >= 3
    numbering = strong >= 3 or any(ln.heading_level for ln in lines)
    # Front matter (title page, contents): large type there is no section of the manual.
    first = next((ln for ln in text if id(ln) in numbered), None)
    front = {ln.page for ln in text[: text.index(first)]} - {first.page} if first else set()
    sparse = _figure_pages(text)
    out: list[Line] = []
    last_number: int | None = None  # of the last "N. TITLE" paragraph heading
    for ln in lines:
        if id(ln) not in texts:
            out.append(ln)
            continue
        heading = numbered.get(id(ln))
        if heading and (n := re.match(r"(\d+)\. ", heading.text)):
            # "1. Scope." continues "N." paragraphs; a list restarting at 1 does not
            follows = int(n.group(1)) == (last_number or 0) + 1
            if chaptered or (not heading.strong and not follows):
                heading = None
            elif heading.level == sections.PARAGRAPH:
                last_number = int(n.group(1))
        weak_ok = numbering and heading is not None and heading.level != sections.CAPTION
        if heading and (heading.strong or weak_ok or _standout(ln, body)):
            out.append(
                Line(text=heading.text, page=ln.page, heading_level=heading.level, extra=ln.extra)
            )
            if heading.rest:
                out.append(Line(text=heading.rest, page=ln.page, extra=ln.extra))
            continue
        level = _font_level(ln, body, larger, numbering)
        if level is not None and not (numbering and (ln.page in front or ln.page in sparse)):
            ln.heading_level = level
            ln.text = sections.continued(ln.text)
        out.append(ln)
    return _close_captions(_join_titles(out))


def _close_captions(lines: list[Line]) -> list[Line]:
    """A table's title heads the table only: after it, the text is the enclosing section's again."""
    out: list[Line] = []
    parent: Line | None = None
    for k, ln in enumerate(lines):
        out.append(ln)
        if ln.heading_level is not None and ln.heading_level < sections.CAPTION:
            parent = ln
        prev = lines[k - 1] if k else None
        nxt = lines[k + 1] if k + 1 < len(lines) else None
        if (
            ln.table is not None
            and prev is not None
            and prev.heading_level == sections.CAPTION
            and parent is not None
            and nxt is not None
            and nxt.heading_level is None
            and nxt.table is None
        ):
            out.append(
                Line(
                    text=parent.text,
                    page=nxt.page,
                    heading_level=parent.heading_level,
                    extra=parent.extra,
                )
            )
    return out


def _figure_pages(text: list[Line]) -> set[int]:
    """Pages of short scattered lines (callouts around a figure): their type is no heading."""
    short: Counter[int] = Counter()
    total: Counter[int] = Counter()
    for ln in text:
        total[ln.page] += 1
        short[ln.page] += len(ln.text.split()) <= 4
    return {p for p, n in total.items() if n >= 4 and short[p] >= 0.6 * n}


def _standout(ln: Line, body: float) -> bool:
    return ln.extra["bold"] or ln.extra["size"] >= body + 0.8


def _font_level(ln: Line, body: float, larger: list[float], numbering: bool) -> int | None:
    """Unnumbered headings: a short line in larger type, or bold on its own."""
    text = clean(ln.text)
    size = round(ln.extra["size"], 1)
    if (
        not sections.is_heading_text(text)
        or sections.figure_caption(text)
        or sections.signal(text)
        or ln.extra["leaders"]
        or len(text.split()) > 14
        or text.endswith((",", ";"))
        or (text.endswith(":") and text.upper() != text)
        or not text[:1].isalnum()
        or ln.extra["segments"] > 1
    ):
        return None
    numbered = HEADING_NUMBER.match(text)
    if (
        numbered
        and numbering
        and ("." not in numbered.group(1) or not sections.is_title(numbered.group(2)))
    ):
        return None  # "2 The above is based on…": a numbered note, not a heading
    named = text.isupper() or sections.is_title(text)  # a name, not a line of a sentence
    if size in larger and len(text) < 100 and (numbered or named):
        if numbered:
            return numbered.group(1).count(".") + 1
        return sections.UNNUMBERED if numbering else larger.index(size) + 1
    if ln.extra["bold"] and len(text) < 90 and not text.endswith("."):
        if numbered:
            return numbered.group(1).count(".") + 1
        if numbering and ln.gap_before and named:
            return sections.UNNUMBERED
    return None


def _join_titles(lines: list[Line]) -> list[Line]:
    """``CHAPTER 2`` or ``Section III.`` on a line of its own takes the title line under it."""
    out: list[Line] = []
    skip = False
    for k, ln in enumerate(lines):
        if skip:
            skip = False
            continue
        nxt = lines[k + 1] if k + 1 < len(lines) else None
        if (
            ln.heading_level in (sections.CHAPTER, sections.SECTION)
            and sections.bare_number(ln.text)
            and nxt is not None
            and nxt.table is None
            and nxt.page == ln.page
            and (nxt.heading_level is None or nxt.heading_level > sections.PARAGRAPH)
            and sections.is_heading_text(nxt.text)
            and (nxt.text.isupper() or sections.is_title(nxt.text))
        ):
            ln = Line(
                text=f"{ln.text.rstrip('.')} {nxt.text}",
                page=ln.page,
                heading_level=ln.heading_level,
                extra=ln.extra,
            )
            skip = True
        out.append(ln)
    return out
