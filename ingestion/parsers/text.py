"""Plain-text manuals. Form feeds separate pages, as in text exports of paginated manuals.

Fixed-width tables (a header line, a rule of dashes under each column, rows whose cells may
wrap onto continuation lines) are recognised and kept as tables.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingestion.parsers.base import decode_text, dehyphenate
from ingestion.parsers.layout import Line, drop_running_lines, lines_to_elements
from maint.domain import ParsedDocument

_RULE = re.compile(r"^\s*-{2,}(?:\s+-{2,})+\s*$")


def _columns(rule: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"-{2,}", rule)]


def _cells(line: str, cols: list[tuple[int, int]]) -> list[str]:
    """Slice a row by the rule's column starts (the last column runs to the line end)."""
    starts = [start for start, _ in cols]
    bounds = [*starts[1:], max(len(line), starts[-1]) + 1]
    return [line[s:e].strip() for s, e in zip(starts, bounds, strict=True)]


def _read_table(raw: list[str], i: int) -> tuple[list[list[str]], int]:
    """``raw[i]`` is the header and ``raw[i + 1]`` its rule; returns rows and the next index."""
    cols = _columns(raw[i + 1])
    header = _cells(raw[i], cols)
    rows: list[list[list[str]]] = []  # cell fragments, joined at the end
    j = i + 2
    while j < len(raw) and raw[j].strip() and not _RULE.match(raw[j]):
        cells = _cells(raw[j], cols)
        filled = sum(1 for c in cells if c)
        if not rows or (cells[0] and filled > len(cols) // 2):
            rows.append([[c] if c else [] for c in cells])
        else:  # a continuation line: text of the row above, wrapped within its columns
            for frag, cell in zip(rows[-1], cells, strict=True):
                if cell:
                    frag.append(cell)
        j += 1
    table = [header] + [[dehyphenate(frags) for frags in row] for row in rows]
    # "--" marks an empty cell in fixed-width tables.
    table = [[("" if re.fullmatch(r"-+", c) else c) for c in row] for row in table]
    return table, j


def _page_lines(page: str, number: int) -> list[Line]:
    raw = page.split("\n")
    lines: list[Line] = []
    blank = True
    i = 0
    while i < len(raw):
        text = raw[i]
        if not text.strip():
            blank = True
            i += 1
            continue
        if i + 1 < len(raw) and _RULE.match(raw[i + 1]) and not _RULE.match(text):
            rows, i = _read_table(raw, i)
            lines.append(Line(text="", page=number, table=rows, gap_before=True))
            blank = True
            continue
        lines.append(Line(text=text.rstrip(), page=number, gap_before=blank))
        blank = False
        i += 1
    return lines


def parse(path: Path, data: bytes) -> ParsedDocument:
    text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    raw_pages = text.split("\f")
    if raw_pages and not raw_pages[-1].strip():
        raw_pages = raw_pages[:-1]
    pages = [_page_lines(page, n) for n, page in enumerate(raw_pages, start=1)]
    elements = lines_to_elements(drop_running_lines(pages))
    title = next((e.text for e in elements if e.kind in ("heading", "paragraph")), path.stem)
    return ParsedDocument(
        path=str(path),
        format="text",
        title=title[:200],
        pages=max(1, len(pages)),
        elements=elements,
    )
