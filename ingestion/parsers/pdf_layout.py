"""Words into rows and reading order: lines of a page, and two-column bands read column by column.

Words on one baseline form a row; a row splits into segments where the space between words
is wider than a word space (table cells, the gutter between columns). A band of rows that a
vertical gutter near the middle of the text runs through, with lines of running text on
both sides, is two columns of text: it is read down the left column, then down the right.
Position, not the PDF's drawing order, decides the order: scans with an OCR layer draw
their text column by column of a table, or in no order at all.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

from ingestion.parsers.pdf_text import Word

_SEGMENT_GAP = 0.8  # × line height: a wider space between words starts a new segment
_GUTTER = 0.7  # × line height: the narrowest space between two columns of text
_MIN_BAND = 5  # rows: fewer side by side are not worth calling columns


@dataclass
class Segment:
    """Words of one row with word spaces between them: a phrase, a table cell, a column's line."""

    words: list[Word]

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class Row:
    """One visual line: its segments, left to right."""

    segments: list[Segment]
    top: float = 0.0
    bottom: float = 0.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        words = self.words
        if words and not self.top and not self.bottom:
            self.top = statistics.median(w.top for w in words)
            self.bottom = statistics.median(w.bottom for w in words)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    @property
    def x0(self) -> float:
        return self.segments[0].x0

    @property
    def x1(self) -> float:
        return max(s.x1 for s in self.segments)

    @property
    def height(self) -> float:
        return max(1.0, self.bottom - self.top)

    @property
    def size(self) -> float:
        return statistics.median(w.size for w in self.words)

    @property
    def baseline(self) -> float:
        return statistics.median(w.baseline for w in self.words)

    @property
    def order(self) -> int:
        return min(w.order for w in self.words)

    @property
    def bold(self) -> bool:
        return all(w.bold for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


def word_gap(lines: list[list[Word]]) -> float:
    """The usual space between words, in line heights (OCR layers space words widely)."""
    gaps = []
    for words in lines:
        words = sorted(words, key=lambda w: w.x0)
        for a, b in itertools.pairwise(words):
            ratio = (b.x0 - a.x1) / max(1.0, a.bottom - a.top)
            if 0.05 < ratio < 3:
                gaps.append(ratio)
    return statistics.median(gaps) if len(gaps) >= 20 else 0.3


def _merge(a: Word, b: Word) -> Word:
    return Word(
        a.text + b.text, a.x0, min(a.top, b.top), b.x1, max(a.bottom, b.bottom), a.size, a.bold,
        min(a.order, b.order), a.baseline,
    )  # fmt: skip


def _letterspaced(words: list[Word]) -> list[Word]:
    """``S H E L T E R , E L E C T R I C A L``: runs of single letters joined into words."""
    out: list[Word] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and len(words[j].text) == 1:
            j += 1
        if j - i < 4:
            out.append(words[i])
            i += 1
            continue
        run = words[i:j]
        spaces = [b.x0 - a.x1 for a, b in itertools.pairwise(run)]
        tight = 1.6 * max(0.5, statistics.median(spaces))
        word = run[0]
        for w, space in zip(run[1:], spaces, strict=True):
            if space <= tight:
                word = _merge(word, w)
            else:
                out.append(word)
                word = w
        out.append(word)
        i = j
    return out


def _respace(words: list[Word], gap: float) -> list[Word]:
    """Undo spaces OCR puts inside words: ``MANUA L``, ``FO R``, ``S H E L T E R``."""
    words = _letterspaced(words)
    out = [words[0]]
    for w in words[1:]:
        prev = out[-1]
        space = (w.x0 - prev.x1) / max(1.0, prev.bottom - prev.top)
        letter = len(w.text) == 1 and w.text.isalpha() and w.text not in "aAI"
        closing = w.text in ").,;:]"  # never starts a word
        limit = 0.3 if closing or gap >= 0.35 else 0.2  # OCR layers space words widely
        if (letter or closing) and prev.text[-1:].isalnum() and space < limit:
            out[-1] = _merge(prev, w)
        else:
            out.append(w)
    return out


def segments_of(words: list[Word], gap: float = 0.3) -> list[Segment]:
    """Words of one row (any order) split where the space is wider than between words.

    ``gap``: the document's usual word space in line heights; a segment ends at a space of
    more than ``_SEGMENT_GAP`` line heights, or twice the usual space if that is more.
    """
    words = _respace(sorted(words, key=lambda w: w.x0), gap)
    height = statistics.median(w.bottom - w.top for w in words)
    limit = max(_SEGMENT_GAP, 2.0 * gap) * height
    segments = [Segment([words[0]])]
    for w in words[1:]:
        if w.x0 - segments[-1].x1 > limit:
            segments.append(Segment([w]))
        else:
            segments[-1].words.append(w)
    return segments


def lines_of(words: list[Word]) -> list[list[Word]]:
    """Group words whose middles lie on one line; lines top to bottom."""
    lines: list[list[Word]] = []
    anchor = 0.0
    for w in sorted(words, key=lambda w: w.middle):
        height = w.bottom - w.top
        if lines and abs(w.middle - anchor) < 0.35 * height:
            lines[-1].append(w)
        else:
            lines.append([w])
            anchor = w.middle
    return lines


def rows_of(words: list[Word], gap: float = 0.3) -> list[Row]:
    """Words as rows of segments, top to bottom."""
    return [Row(segments_of(ws, gap)) for ws in lines_of(words)]


def _split(row: Row, x: float) -> tuple[Row | None, Row | None]:
    left = [s for s in row.segments if s.x1 <= x]
    right = [s for s in row.segments if s.x0 >= x]
    return (
        Row(left, row.top, row.bottom) if left else None,
        Row(right, row.top, row.bottom) if right else None,
    )


def _free(rows: list[Row], lo: float, hi: float) -> list[tuple[float, float]]:
    """Intervals of [lo, hi] that no segment of ``rows`` covers."""
    spans = sorted((s.x0, s.x1) for r in rows for s in r.segments if s.x1 > lo and s.x0 < hi)
    free, at = [], lo
    for x0, x1 in spans:
        if x0 > at:
            free.append((at, x0))
        at = max(at, x1)
    if at < hi:
        free.append((at, hi))
    return free


def _text_side(rows: list[Row], x0: float, x1: float) -> bool:
    """Most rows on this side end in a segment that fills the column: running text."""
    full = sum(1 for r in rows if r.segments[-1].x1 - r.segments[-1].x0 >= 0.5 * (x1 - x0))
    return len(rows) >= 3 and full >= 0.6 * len(rows)


def _gutter(rows: list[Row], left: float, right: float) -> tuple[float, float] | None:
    """The gap between two columns of text running through all ``rows``, if there is one."""
    width = right - left
    lo, hi = left + 0.3 * width, left + 0.7 * width
    height = statistics.median(r.height for r in rows)
    gaps = [(a, b) for a, b in _free(rows, lo, hi) if b - a >= _GUTTER * height]
    if not gaps:
        return None
    a, b = max(gaps, key=lambda g: g[1] - g[0])
    sides = [_split(r, (a + b) / 2) for r in rows]
    lefts = [s[0] for s in sides if s[0] is not None]
    rights = [s[1] for s in sides if s[1] is not None]
    if _text_side(lefts, left, a) and _text_side(rights, b, right):
        return a, b
    return None


def _narrow(gap: tuple[float, float], row: Row) -> tuple[float, float]:
    """What is left of the gap once ``row``'s segments are laid over it."""
    a, b = gap
    for s in row.segments:
        if s.x0 < b and s.x1 > a:  # overlaps: keep the wider remaining side
            a, b = max(((a, min(b, s.x0)), (max(a, s.x1), b)), key=lambda g: g[1] - g[0])
    return a, b


def _bands(rows: list[Row], left: float, right: float) -> list[tuple[int, int, float]]:
    """Two-column bands as (first row, end row, gutter x).

    The gutter is found on a few rows, then followed up and down for as long as the rows
    leave a gap there wide enough to be one.
    """
    bands: list[tuple[int, int, float]] = []
    floor = i = 0
    while i + _MIN_BAND <= len(rows):
        gap = _gutter(rows[i : i + _MIN_BAND], left, right)
        if gap is None:
            i += 1
            continue
        height = statistics.median(r.height for r in rows[i : i + _MIN_BAND])
        end = i + _MIN_BAND
        while end < len(rows):
            narrower = _narrow(gap, rows[end])
            if narrower[1] - narrower[0] < _GUTTER * height:
                break
            gap, end = narrower, end + 1
        start = i
        while start > floor:
            narrower = _narrow(gap, rows[start - 1])
            if narrower[1] - narrower[0] < _GUTTER * height:
                break
            gap, start = narrower, start - 1
        bands.append((start, end, (gap[0] + gap[1]) / 2))
        floor = i = end
    return bands


def reading_order(rows: list[Row], left: float, right: float) -> list[Row]:
    """Rows in reading order: a two-column band is read down its left column, then its right.

    A band is the longest run of rows that one gutter runs through; a row that crosses the
    middle (a heading over both columns, a wide table) ends it. Where the PDF draws each
    column's lines top to bottom, its drawing order decides between the columns: that
    keeps a full-width heading between two column runs in its place (PDFs from layout
    programs); scans with an OCR layer draw in no useful order, and are read by position.
    """
    out: list[Row] = []
    at = 0
    for start, end, x in _bands(rows, left, right):
        out.extend(rows[at:start])
        halves = [_split(r, x) for r in rows[start:end]]
        columns = [[h[side] for h in halves if h[side] is not None] for side in (0, 1)]
        band = columns[0] + columns[1]
        for side, column in enumerate(columns):
            for r in column:
                r.extra["column"] = side
        if all(_ascending([r.order for r in c]) for c in columns):
            band.sort(key=lambda r: r.order)  # the drawing order is a reading order: follow it
        for k, r in enumerate(band):
            r.extra["column_start"] = k == 0 or band[k - 1].extra["column"] != r.extra["column"]
        out.extend(band)
        at = end
    out.extend(rows[at:])
    return out


def _ascending(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))
