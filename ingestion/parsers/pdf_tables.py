"""Tables on a PDF page: ruled ones from their lines, unruled ones from the alignment of words.

Ruled tables (cell borders drawn as lines) are found by pdfplumber's lattice algorithm run on
the ruling lines pdfium reads; their cells are filled with pdfium's words. Scanned manuals
and most parts lists draw no rules: there a table is a run of lines whose segments (words
set apart by more than a word space) line up in columns. The columns are the x-ranges
between gutters that no body line crosses; the header is the run of lines on top that
carry no values; a line that fills one cell only continues the row above (a wrapped
description), and where the table leaves blank lines between its rows, those lines
delimit the rows (PMCS and troubleshooting tables).
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

from pdfplumber.table import (
    Table,
    cells_to_tables,
    edges_to_intersections,
    intersections_to_cells,
    merge_edges,
)

from ingestion.parsers.base import dehyphenate, strip_leaders
from ingestion.parsers.pdf_layout import Row, Segment, lines_of, rows_of, segments_of
from ingestion.parsers.pdf_text import PageText, Word
from ingestion.parsers.sections import PARAGRAPH, numbered_heading, signal

_TOLERANCE = 3  # points: pdfplumber's defaults for snapping and joining ruling lines
_MIN_LINES = 3  # lines of several cells: fewer make no unruled table, unless titles + a row
_MARKER = re.compile(r"^(?:\(?\d{1,2}[.)]|\(?[a-z][.)]|\([a-z0-9]{1,3}\)|[•\-–*▪◦])$")
_CAPTION = re.compile(r"^(?:table|figure|fig\.)\s+[A-Z]?-?\d", re.IGNORECASE)
_COLUMN_NUMBER = re.compile(r"\(\s?\d{1,2}\s?\)|\([a-z]\)")


@dataclass
class TableBox:
    """A table found on a page: its rows (header first) and where it sits."""

    rows: list[list[str]]
    x0: float
    top: float
    x1: float
    bottom: float
    order: int = 0  # where the PDF draws its first word


def _cell_text(words: list[Word]) -> str:
    if not words:
        return ""
    lines = [" ".join(w.text for w in r.words) for r in rows_of(words)]
    return strip_leaders(dehyphenate(lines))


def _cell_words(words: list[tuple[int, Word]], cell) -> list[tuple[int, Word]]:
    x0, top, x1, bottom = cell
    return [(i, w) for i, w in words if x0 <= (w.x0 + w.x1) / 2 <= x1 and top <= w.middle <= bottom]


def _ruled_rows(table: Table, words: list[tuple[int, Word]], taken: set[int]) -> list[list[str]]:
    """Cell texts row by row. A row with a cell of many lines (columns ruled, rows not; or
    a body ruled off as one box under ruled column titles) is split at its lines, and its
    words put in the table's columns, as in an unruled table."""
    starts = sorted({round(c[0], 1) for c in table.cells})
    out: list[list[str]] = []
    for row in table.rows:
        cells = [_cell_words(words, c) if c and c[2] - c[0] >= 5 else [] for c in row.cells]
        for cell in cells:
            taken.update(i for i, _ in cell)
        if any(len(lines_of([w for _, w in cell])) >= 3 for cell in cells):
            inner = [
                Row(segments_of(ln)) for ln in lines_of([w for cell in cells for _, w in cell])
            ]
            body = _assemble(inner, starts, header=False)
            columns = [
                k for k, x in enumerate(starts) if any(abs(x - c[0]) < 1 for c in row.cells if c)
            ]
            out.extend(
                [[r[k] for k in range(len(starts))] for r in body]
                if len(columns) < len(starts)
                else body
            )
            continue
        out.append([_cell_text([w for _, w in cell]) for cell in cells])
    width = max(len(r) for r in out) if out else 0
    return [r + [""] * (width - len(r)) for r in out if any(r)]


def _flanked(inside: list[Word], outside: list[Word], x0: float, x1: float) -> bool:
    """Most lines of the box go on beyond its left or right rule."""
    middles = {round(w.middle) for w in inside}
    beside = {
        round(w.middle)
        for w in outside
        if (w.x1 <= x0 or w.x0 >= x1) and any(abs(w.middle - m) < 2 for m in middles)
    }
    return len(middles) > 0 and len(beside) >= 0.3 * len(middles)


def _one_header(rows: list[list[str]]) -> list[list[str]]:
    """Column titles ruled as several rows (``(1)`` / ``ITEM`` / ``NO.``) merged into one."""
    n = 0
    while n < min(8, len(rows) - 1) and all(
        c.upper() == c and not any(ch.isdigit() for ch in _COLUMN_NUMBER.sub("", c))
        for c in rows[n]
    ):
        n += 1
    if n < 2:
        return rows
    head = [" ".join(r[k] for r in rows[:n] if r[k]) for k in range(len(rows[0]))]
    return [head, *rows[n:]]


def ruled_tables(page: PageText) -> tuple[list[TableBox], list[Word]]:
    """Tables drawn with cell borders, and the words left outside them.

    A ruled box whose rows hold no values (column titles ruled off above an unruled body)
    is left to the unruled-table reader, which then sees titles and body together.
    """
    if len(page.edges) < 4:
        return [], page.words
    edges = [dict(e, doctop=e["top"]) for e in page.edges]
    edges = merge_edges(edges, _TOLERANCE, _TOLERANCE, _TOLERANCE, _TOLERANCE)
    edges = [e for e in edges if (e["height"] if e["orientation"] == "v" else e["width"]) >= 3]
    cells = intersections_to_cells(edges_to_intersections(edges, _TOLERANCE, _TOLERANCE))
    found: list[TableBox] = []
    taken: set[int] = set()
    indexed = list(enumerate(page.words))
    for group in cells_to_tables(cells):
        table = Table(None, group)
        free = [(i, w) for i, w in indexed if i not in taken]
        mine: set[int] = set()
        rows = _ruled_rows(table, free, mine)
        width = max((sum(1 for c in r if c) for r in rows), default=0)
        values = any(any(ch.isdigit() for ch in _COLUMN_NUMBER.sub("", c)) for r in rows for c in r)
        if len(rows) < 2 or width < 2 or not values:
            continue  # a box around a note or a figure, or column titles only
        x0, top, x1, bottom = table.bbox
        if _flanked(
            [w for i, w in free if i in mine], [w for i, w in free if i not in mine], x0, x1
        ):
            continue  # the rules box in part of a wider table: read it as unruled
        order = min((w.order for i, w in free if i in mine), default=0)
        found.append(TableBox(_one_header(rows), x0, top, x1, bottom, order))
        taken |= mine
    return found, [w for i, w in indexed if i not in taken]


# Unruled tables -------------------------------------------------------------------------


def _is_list_row(row: Row) -> bool:
    """A step or bullet with its text (``(6)  Remove…``, ``a.  Basic…``): not a table row."""
    first = row.segments[0].text
    return (len(row.segments) == 2 and bool(_MARKER.match(first))) or bool(_CAPTION.match(first))


def _heading_row(row: Row) -> bool:
    """A row holding a chapter, section or paragraph heading is text, not a table row."""
    return any((h := numbered_heading(s.text)) and h.level <= PARAGRAPH for s in row.segments)


def _multi(row: Row) -> bool:
    return len(row.segments) >= 2 and not _is_list_row(row) and not _heading_row(row)


def _gutters(rows: list[Row]) -> list[tuple[float, float]]:
    """X-ranges between columns: crossed by (almost) no segment of ``rows``."""
    left = min(r.x0 for r in rows)
    right = max(r.x1 for r in rows)
    allowed = len(rows) // 10
    bounds = sorted({round(v, 1) for r in rows for s in r.segments for v in (s.x0, s.x1)})
    gutters: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(bounds):
        if a < left or b > right or b - a < 1.0:
            continue
        mid = (a + b) / 2
        crossing = sum(1 for r in rows if any(s.x0 < mid < s.x1 for s in r.segments))
        if crossing <= allowed:
            if gutters and abs(gutters[-1][1] - a) < 0.5:
                gutters[-1] = (gutters[-1][0], b)
            else:
                gutters.append((a, b))
    return [g for g in gutters if left < g[0] and g[1] < right]


def _column(segment: Segment, bounds: list[float]) -> int:
    """The column holding most of ``segment`` (``bounds``: x where each column starts)."""
    best, overlap = 0, -1.0
    for k, start in enumerate(bounds):
        end = bounds[k + 1] if k + 1 < len(bounds) else float("inf")
        o = min(segment.x1, end) - max(segment.x0, start)
        if o > overlap:
            best, overlap = k, o
    return best


def _cells(row: Row, bounds: list[float]) -> list[list[str]]:
    cells: list[list[str]] = [[] for _ in bounds]
    for s in row.segments:
        cells[_column(s, bounds)].append(s.text)
    return cells


def _is_header(cells: list[list[str]]) -> bool:
    """Column titles: no values in them (digits only in column numbers like ``(3)``)."""
    texts = [" ".join(c) for c in cells if c]
    if len(texts) < 2 or any(len(t.split()) > 6 for t in texts):
        return False
    if any(t.endswith(("-", ",")) or (t.endswith(".") and len(t.split()) > 2) for t in texts):
        return False  # text that goes on, or a sentence: a row, not column titles
    joined = _COLUMN_NUMBER.sub("", " ".join(texts))
    return not any(ch.isdigit() for ch in joined)


def _intrudes(row: Row, bounds: list[float]) -> bool:
    """A note, or a numbered paragraph indented off the table's first column: the text goes on."""
    first = row.segments[0]
    if signal(first.text):
        return True
    marker = first.text.split()[0] if first.text.split() else ""
    return (
        len(row.segments) <= 2
        and len(row.text.split()) >= 4
        and bool(_MARKER.match(marker))
        and abs(first.x0 - bounds[0]) > row.height
        and len(bounds) > 1
        and first.x0 < bounds[1]
    )


def _spans(row: Row, gutters: list[tuple[float, float]]) -> int:
    """How many gutters the row's widest segment runs across."""
    return max(sum(1 for a, b in gutters if s.x0 < a and s.x1 > b) for s in row.segments)


def _assemble(lines: list[Row], bounds: list[float], header: bool = True) -> list[list[str]]:
    """Lines of one table (header lines first) into rows of cell texts.

    ``header``: the lines start with the column titles (false for the body of a ruled table).
    """
    grid = [_cells(r, bounds) for r in lines]
    n_head = 0
    while header and n_head < min(8, len(grid) - 1) and _is_header(grid[n_head]):
        n_head += 1
    head: list[list[str]] = [[] for _ in bounds]
    for cells in grid[:n_head] if n_head else grid[:1] if header else []:
        for k, c in enumerate(cells):
            head[k].extend(c)
    skip = max(n_head, 1) if header else 0
    body_lines, body = lines[skip:], grid[skip:]
    pitch = [b.top - a.top for a, b in itertools.pairwise(body_lines)]
    step = statistics.median(pitch) if pitch else 0.0
    spaced = sum(1 for p in pitch if p > 1.6 * step) >= 2 if step else False
    # Rows of several lines: blank lines between them, or a first column (the key) filled
    # only where a row starts (item numbers of a PMCS or troubleshooting table).
    key = next((k for k in range(len(bounds)) if any(c[k] for c in body)), 0)
    # (Not in a ruled row: its rules already group its lines; each line of values is a row,
    # as a MAC lists maintenance functions line by line under one component.)
    spaced = spaced or (header and sum(1 for c in body if c[key]) < 0.6 * len(body))
    rows: list[list[list[str]]] = []
    for k, cells in enumerate(body):
        filled = [i for i, c in enumerate(cells) if c]
        gap = body_lines[k].top - body_lines[k - 1].top if k else 0.0
        if spaced:
            new = not rows or gap > 1.6 * step or bool(cells[key])
        else:
            new = not rows or bool(cells[key]) or len(filled) >= 2
        if new:
            rows.append([list(c) for c in cells])
        else:
            for i in filled:
                rows[-1][i].extend(cells[i])
    table = [[strip_leaders(dehyphenate(c)) for c in r] for r in ([head] if header else []) + rows]
    if not header:
        return table
    used = [k for k in range(len(bounds)) if any(r[k] for r in table)]
    return [[r[k] for k in used] for r in table]


def _enough(multi: list[Row]) -> bool:
    """Three lines in columns, or column titles over one line of values."""
    if len(multi) >= _MIN_LINES:
        return True
    return (
        len(multi) == 2
        and _is_header([[s.text] for s in multi[0].segments])
        and any(ch.isdigit() for ch in multi[1].text)
    )


def text_tables(rows: list[Row]) -> list[tuple[int, int, list[list[str]]]]:
    """Unruled tables in a run of rows (one column of reading order): (start, end, cells)."""
    found: list[tuple[int, int, list[list[str]]]] = []
    i = 0
    while i < len(rows):
        if not _multi(rows[i]):
            i += 1
            continue
        # The run: rows until a line of running text or a wide vertical gap.
        height = statistics.median(r.height for r in rows[i : i + 5])
        left, right = rows[i].x0, rows[i].x1
        end = i + 1
        while end < len(rows):
            r = rows[end]
            if r.top - rows[end - 1].bottom > 3.0 * height:
                break
            if not _multi(r) and r.x0 - left < r.height and (r.x1 - r.x0) > 0.5 * (right - left):
                break  # running text from the left edge: the table has ended
            if _heading_row(r):
                break  # "1-12. DIFFERENCES BETWEEN MODELS.": the text goes on
            if _multi(r):
                left, right = min(left, r.x0), max(right, r.x1)
            end += 1
        multi = [r for r in rows[i:end] if _multi(r)]
        if not _enough(multi):
            i = end
            continue
        gutters = _gutters(multi)
        if not gutters:
            i = end
            continue
        # Trailing single lines that cross the columns belong to the text after the table.
        while end > i and not _multi(rows[end - 1]) and _spans(rows[end - 1], gutters) >= 1:
            end -= 1
        bounds = [min(r.x0 for r in multi)] + [b for _, b in gutters]
        cut = next((k for k in range(i + 1, end) if _intrudes(rows[k], bounds)), end)
        if cut < end:
            end = cut
            multi = [r for r in rows[i:end] if _multi(r)]
            if not _enough(multi) or not (gutters := _gutters(multi)):
                i = end
                continue
            bounds = [min(r.x0 for r in multi)] + [b for _, b in gutters]
        cells = _assemble(rows[i:end], bounds)
        if len(cells) >= 2:
            found.append((i, end, cells))
        i = end
    return found
