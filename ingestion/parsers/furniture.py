"""Page furniture: what a manual prints on its pages that is not its text.

Running heads and feet (the same line at the top or bottom of many pages, page numbers
aside), page labels (``12``, ``2-14``, ``B-7/(B-8 blank)``, ``0025 00-1``, ``Change 1``,
``iv``), publication numbers at the page edge (``TM 9-2920-225-34``), and end markers
(``END OF FIGURE``, ``END OF WORK PACKAGE``). Only the outermost lines of a page are
candidates, except for end markers, which close a unit wherever it ends.

Work-package manuals (MIL-STD-40051 style) print the package number in the running head
and its title under it on every page of the package: that pair is lifted off the pages
and given back once, as the heading where the package starts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ingestion.parsers.pdf_layout import Row
from ingestion.parsers.sections import numbered_heading

_TOP_ROWS, _BOTTOM_ROWS = 3, 2  # how many lines at each edge can be furniture
_EDGE = 0.15  # … and only within this fraction of the page height from the edge
_REPEATS = 0.3  # a line at the edge of at least this share of pages is a running head

_BLANK_NOTE = re.compile(r"\(?\s*(?:[A-Z]-)?[\d\s-]*\bblank\s*\)?", re.IGNORECASE)
_LABEL_TOKEN = re.compile(
    r"""^(?:
        (?:[A-Z]{1,2}-|[A-Za-z]{3,10}-)?\d{1,4}(?:-\d{1,4})*(?:\.\d+)?-?  # 2-14, B-7, Index-3
      | [ivxlc]{1,7} | [IVXLC]{1,7}                                         # roman numbers
      | page | of | change | chg\.?                                        # Page 3 of 19
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
_PUBLICATION = re.compile(
    r"^[*‘'`]?(?:[A-Z]{1,5}\.?){1,3}\s?(?:NO\.\s?)?\d[\dA-Z]*(?:\s?-\s?[\dA-Z]+)+(?:&\s?P)?$"
)
_STOCK_NUMBER = re.compile(
    r"\b(?:NSN|FSN|NIIN|P/?N)\b|\d{4}-\d{2}-\d{3}-\d{4}|\b\d{4}-\d{3}-\d{4}\b"
)
_END_MARKER = re.compile(r"^END OF [A-Z][A-Z ]{2,30}\.?$")
_BLANK_PAGE = re.compile(r"^(?:this )?page (?:is )?(?:intentionally )?(?:left )?blank\.?$", re.I)
WORK_PACKAGE = re.compile(r"^(?:WP\s*(\d{4})\s?(\d{2})|(\d{4}) (\d{2}))$")  # WP 0025 00


def is_page_label(text: str) -> bool:
    """``2-14``, ``0025 00-1``, ``B-7/(B-8 blank)``, ``Change 1``, ``iv``, ``Page 3 of 19``."""
    text = _BLANK_NOTE.sub(" ", text).replace("/", " ")
    text = re.sub(r"\s*-\s*", "-", text.strip())
    tokens = text.split()
    return (
        0 < len(tokens) <= 5
        and all(_LABEL_TOKEN.match(t) for t in tokens)
        and any(any(c.isdigit() for c in t) or (t.isalpha() and t.lower() not in
                ("page", "of", "change", "chg")) for t in tokens)
    )  # fmt: skip


def is_publication_number(text: str) -> bool:
    """``TM 9-2920-225-34``, ``T.O. 38X6-7-22``, ``MWO 9-2320-387-20-1``, ``*TM 10-5411-205-13``."""
    text = text.strip()
    return (
        bool(_PUBLICATION.match(text))
        and sum(c.isdigit() for c in text) >= 4
        and not _STOCK_NUMBER.search(text)
    )


def is_end_marker(text: str) -> bool:
    """``END OF FIGURE``, ``END OF WORK PACKAGE``, ``END OF TASK``; a blank-page notice."""
    text = text.strip()
    return bool(_END_MARKER.match(text) or _BLANK_PAGE.match(text))


def _signature(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text.lower()))


def _publication_row(row: Row) -> bool:
    """A publication number, with a page label beside it or not (``1 TM 9-2920-225-34P``)."""
    tokens = row.text.split()
    while tokens and is_page_label(tokens[0]) and not is_publication_number(" ".join(tokens)):
        tokens = tokens[1:]
    while tokens and is_page_label(tokens[-1]) and not is_publication_number(" ".join(tokens)):
        tokens = tokens[:-1]
    return bool(tokens) and is_publication_number(" ".join(tokens))


def _furniture_shape(row: Row) -> bool:
    return _publication_row(row) or is_page_label(row.text)


def _speck(row: Row) -> bool:
    """One stray character on a line of its own: a scanned rule or dirt read by OCR."""
    text = row.text.strip()
    return len(text) == 1 and not text.isdigit() and "table" not in row.extra


def _trim_label(row: Row) -> None:
    """``10    SECTION II. REPAIR PARTS LIST``: the page number off a heading's line."""
    if len(row.segments) < 2:
        return
    for k in (0, -1):
        label = row.segments[k].text
        rest = [s for i, s in enumerate(row.segments) if i != (k % len(row.segments))]
        if re.fullmatch(r"\d{1,4}|[A-Z]-\d{1,3}|\d{1,2}-\d{1,3}", label) and numbered_heading(
            " ".join(s.text for s in rest)
        ):
            row.segments = rest
            return


def _cut_fused(row: Row, numbers: set[tuple[str, ...]]) -> None:
    """A running publication number OCR ran into the line under it (``inc TM 9-2920-225-34P``)."""
    for seg in row.segments:
        texts = [w.text for w in seg.words]
        for number in numbers:
            n = len(number)
            for k in range(len(texts) - n + 1):
                if tuple(texts[k : k + n]) == number and len(texts) > n:
                    del seg.words[k : k + n]
                    return


@dataclass
class Page:
    number: int
    height: float
    rows: list[Row]
    work_package: tuple[str, str] | None = None  # (number, title) where a package starts
    dropped: list[str] = field(default_factory=list)


_SIGNAL_WORD = re.compile(r"^\s*(?:DANGER|WARNING|CAUTION|NOTE)S?\s*$")


def _edge_rows(page: Page) -> tuple[list[Row], list[Row]]:
    """The outermost text rows: the candidates for furniture."""
    rows = [r for r in page.rows if "table" not in r.extra]
    top = rows[:_TOP_ROWS]
    return top, [r for r in rows[-_BOTTOM_ROWS:] if r not in top]


def _in_margin(row: Row, page: Page) -> bool:
    return row.top < _EDGE * page.height or row.bottom > (1 - _EDGE) * page.height


def _isolated(row: Row, page: Page) -> bool:
    """Set apart from the text by a line's height, or alone in the margin at the page's edge:
    a page label is; a row of a table is not. A ruled table beside it is no text."""
    rows = [r for r in page.rows if "table" not in r.extra]
    i = rows.index(row)
    gaps = []
    if i > 0:
        gaps.append(row.top - rows[i - 1].bottom)
    if i + 1 < len(rows):
        gaps.append(rows[i + 1].top - row.bottom)
    outermost = i in (0, len(rows) - 1) and _in_margin(row, page)
    return not gaps or outermost or max(gaps) >= row.height


def _work_package(page: Page, top: list[Row]) -> tuple[str, list[Row]] | None:
    """The package number in the running head, and the title lines under it."""
    for row in top:
        for s in row.segments:
            if m := WORK_PACKAGE.match(s.text):
                number = " ".join(g for g in m.groups() if g)
                title = []
                for r in page.rows[page.rows.index(row) + 1 :]:
                    if r.top > _EDGE * page.height or _furniture_shape(r):
                        break
                    if not any(c.isalpha() for c in r.text) or r.text != r.text.upper():
                        break
                    if _SIGNAL_WORD.match(r.text):  # 'NOTE' under the title heads the text
                        break
                    title.append(r)
                return number, title
    return None


def strip(pages: list[Page]) -> None:
    """Remove furniture rows from ``pages`` in place; set each package's opening heading."""
    counts: Counter[str] = Counter()
    for page in pages:
        top, bottom = _edge_rows(page)
        counts.update({_signature(r.text) for r in top + bottom if _in_margin(r, page)})
    with_text = sum(1 for p in pages if p.rows)
    running = {s for s, n in counts.items() if n >= max(3, _REPEATS * with_text)}
    seen = Counter(
        tuple(r.text.split())
        for p in pages
        for r in _edge_rows(p)[0]
        if is_publication_number(r.text)
    )
    numbers = {n for n, k in seen.items() if k >= 2}
    packages = {p.number: wp for p in pages if (wp := _work_package(p, _edge_rows(p)[0]))}
    seen_wp = Counter(number for number, _ in packages.values())
    # A work-package manual prints a package number on every page: several of them, or one
    # again and again; a lone match is some other number at the top of a page.
    packaged = len(seen_wp) >= 3 or any(n >= 2 for n in seen_wp.values())
    current: str | None = None
    for page in pages:
        page.dropped = [r.text for r in page.rows if is_end_marker(r.text) or _speck(r)]
        page.rows = [r for r in page.rows if not (is_end_marker(r.text) or _speck(r))]
        top, bottom = _edge_rows(page)
        drop: set[int] = set()
        if packaged and (wp := _work_package(page, top)):
            number, title = wp
            drop.update(id(r) for r in title)
            if number != current:
                page.work_package = (number, " ".join(r.text for r in title))
            current = number
        for row in top + bottom:
            if (
                (_signature(row.text) in running and _in_margin(row, page))
                or _publication_row(row)
                or (_furniture_shape(row) and _isolated(row, page))
            ):
                drop.add(id(row))
        for row in top + bottom:
            _trim_label(row)
        for row in page.rows[: 2 * _TOP_ROWS]:
            _cut_fused(row, numbers)
        page.dropped += [r.text for r in page.rows if id(r) in drop]
        page.rows = [r for r in page.rows if id(r) not in drop]
