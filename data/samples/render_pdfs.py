#!/usr/bin/env python3
"""Render the sample manuals in ``data/samples/src/*.md`` to ``data/samples/manuals/*.pdf``.

The sources use a small Markdown dialect (see ``data/samples/README.md``):

* a front-matter block at the very top::

      ---
      title: P-200 End-Suction Centrifugal Pump ...
      header: running header text
      footer: running footer text      (the renderer appends "Page N of M")
      ---

* ``#``, ``##``, ``###`` headings; paragraphs; numbered lists (``1.``); bullet lists
  (``- ``); pipe tables (header row, ``|---|`` separator, body rows); ``**bold**``;
* paragraphs that start with ``DANGER:``, ``WARNING:``, ``CAUTION:`` or ``NOTE:`` become
  boxed admonition blocks with the signal word on its own line in bold capitals;
* ``<!-- page -->`` forces a page break;
* ``<!-- columns: 2 -->`` / ``<!-- columns: 1 -->`` switch the layout for the content that
  follows (two-column, justified, hyphenated running text like real manuals).

The output deliberately has the quirks of real manuals: two-column pages, words
hyphenated across line breaks, running headers and footers with page numbers.
Rendering is deterministic (reportlab ``invariant`` mode, fixed metadata), so running
the script twice gives byte-identical PDFs.

Usage::

    python data/samples/render_pdfs.py            # render every src/*.md
    python data/samples/render_pdfs.py p200-centrifugal-pump   # only some stems
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from reportlab import rl_config

rl_config.invariant = 1  # fixed dates and document /ID -> reproducible bytes

from reportlab.lib import colors  # noqa: E402
from reportlab.lib.enums import TA_JUSTIFY, TA_LEFT  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas as rl_canvas  # noqa: E402
from reportlab.platypus import (  # noqa: E402
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

try:  # reportlab hyphenates through pyphen when a style names a language
    import pyphen  # noqa: F401

    HYPHENATION_LANG = "en_US"
except ImportError:  # pragma: no cover - the corpus extra installs pyphen
    HYPHENATION_LANG = ""

HERE = Path(__file__).resolve().parent
SRC_DIR = HERE / "src"
OUT_DIR = HERE / "manuals"

PAGE_W, PAGE_H = A4
MARGIN_L = MARGIN_R = 18 * mm
MARGIN_T = 22 * mm
MARGIN_B = 20 * mm
COL_GAP = 7 * mm
BODY_W = PAGE_W - MARGIN_L - MARGIN_R

ADMONITION_WORDS = ("DANGER", "WARNING", "CAUTION", "NOTE")
ADMONITION_COLOURS = {  # border, fill
    "DANGER": (colors.HexColor("#B00000"), colors.HexColor("#FBE3E3")),
    "WARNING": (colors.HexColor("#C55A00"), colors.HexColor("#FDEBD8")),
    "CAUTION": (colors.HexColor("#B08F00"), colors.HexColor("#FFF7D1")),
    "NOTE": (colors.HexColor("#4A6A8A"), colors.HexColor("#E8EEF4")),
}

# --------------------------------------------------------------------------- fonts

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")


def _needs_unicode_font(text: str) -> bool:
    """Core PDF fonts (WinAnsiEncoding) cover cp1252; anything else needs a TTF."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return True
    return False


def pick_fonts(text: str) -> tuple[str, str]:
    """Return (regular, bold) font names able to show every character of ``text``.

    Helvetica covers ``·``, ``°``, ``µ``, ``³``, ``±``, ``²``, ``×``, dashes and curly
    quotes. If a source uses characters outside WinAnsiEncoding (``≤``, ``Ω``, ...), the
    whole document is set in DejaVu Sans, embedded as a subset.
    """
    if not _needs_unicode_font(text):
        return "Helvetica", "Helvetica-Bold"
    regular, bold = DEJAVU_DIR / "DejaVuSans.ttf", DEJAVU_DIR / "DejaVuSans-Bold.ttf"
    if not (regular.exists() and bold.exists()):
        bad = sorted({c for c in text if not _is_cp1252(c)})
        raise SystemExit(
            f"characters {bad!r} need a Unicode font; install fonts-dejavu-core "
            f"(expected {regular})"
        )
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        pdfmetrics.registerFontFamily(
            "DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold",
            italic="DejaVuSans", boldItalic="DejaVuSans-Bold",
        )
    return "DejaVuSans", "DejaVuSans-Bold"


def _is_cp1252(ch: str) -> bool:
    try:
        ch.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


# --------------------------------------------------------------------------- parsing


@dataclass
class Block:
    kind: str  # heading | para | olist | ulist | table | admonition | page | columns
    level: int = 0
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    start: int = 1


FRONT_RE = re.compile(r"^(\w+)\s*:\s*(.*)$")
HEADING_RE = re.compile(r"^(#{1,3})\s+(.*?)\s*#*\s*$")
OL_RE = re.compile(r"^(\d+)[.)]\s+(.*)$")
UL_RE = re.compile(r"^[-*]\s+(.*)$")
PAGE_RE = re.compile(r"^<!--\s*page\s*-->$", re.I)
COLS_RE = re.compile(r"^<!--\s*columns\s*:\s*(\d)\s*-->$", re.I)
SEP_RE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
ADMON_RE = re.compile(r"^(DANGER|WARNING|CAUTION|NOTE)\s*:\s*(.*)$", re.S)
COMMENT_RE = re.compile(r"^<!--.*-->$")


def parse_front_matter(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    meta: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                for raw in lines[1:i]:
                    m = FRONT_RE.match(raw.strip())
                    if m:
                        meta[m.group(1).lower()] = m.group(2).strip().strip('"')
                return meta, lines[i + 1:]
    return meta, lines


def split_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [c.strip() for c in s.split("|")]


def parse_blocks(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    i, n = 0, len(lines)
    while i < n:
        raw = lines[i]
        s = raw.strip()
        if not s:
            i += 1
            continue
        if PAGE_RE.match(s):
            blocks.append(Block("page"))
            i += 1
            continue
        m = COLS_RE.match(s)
        if m:
            blocks.append(Block("columns", level=int(m.group(1))))
            i += 1
            continue
        if COMMENT_RE.match(s):  # any other HTML comment is an author's note
            i += 1
            continue
        m = HEADING_RE.match(s)
        if m:
            blocks.append(Block("heading", level=len(m.group(1)), text=m.group(2)))
            i += 1
            continue
        if s.startswith("|") and i + 1 < n and SEP_RE.match(lines[i + 1].strip()):
            rows = [split_row(s)]
            i += 2
            while i < n and lines[i].strip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            blocks.append(Block("table", rows=rows))
            continue
        for kind, rx in (("olist", OL_RE), ("ulist", UL_RE)):
            m = rx.match(s)
            if m:
                items: list[str] = []
                start = int(m.group(1)) if kind == "olist" else 1
                while i < n:
                    cur = lines[i].strip()
                    mm_ = rx.match(cur)
                    if mm_:
                        items.append(mm_.group(mm_.lastindex))
                        i += 1
                    elif cur and lines[i][:1] in " \t" and items:  # continuation line
                        items[-1] += " " + cur
                        i += 1
                    else:
                        break
                blocks.append(Block(kind, items=items, start=start))
                break
        else:
            para = [s]
            i += 1
            while i < n:
                cur = lines[i].strip()
                if (not cur or HEADING_RE.match(cur) or OL_RE.match(cur) or UL_RE.match(cur)
                        or cur.startswith("|") or cur.startswith("<!--")
                        or ADMON_RE.match(cur)):
                    break
                para.append(cur)
                i += 1
            text = " ".join(para)
            m = ADMON_RE.match(text)
            if m:
                blocks.append(Block("admonition", level=0, text=m.group(2), items=[m.group(1)]))
            else:
                blocks.append(Block("para", text=text))
            continue
    return blocks


# --------------------------------------------------------------------------- inline

BOLD_RE = re.compile(r"\*\*(.+?)\*\*")
CODE_RE = re.compile(r"`([^`]+)`")


def inline(text: str) -> str:
    """Markdown inline subset -> reportlab paragraph markup."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = BOLD_RE.sub(r"<b>\1</b>", text)
    text = CODE_RE.sub(r"\1", text)
    return text


# --------------------------------------------------------------------------- styles


def make_styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    hy = dict(hyphenationLang=HYPHENATION_LANG, embeddedHyphenation=0, uriWasteReduce=0.3)
    body = ParagraphStyle(
        "body", fontName=regular, fontSize=9.2, leading=11.6, alignment=TA_JUSTIFY,
        spaceAfter=4.5, **hy,
    )
    return {
        "body": body,
        "body1": ParagraphStyle("body1", parent=body, alignment=TA_LEFT),
        "title": ParagraphStyle(
            "title", fontName=bold, fontSize=20, leading=25, spaceAfter=10, alignment=TA_LEFT,
        ),
        "subtitle": ParagraphStyle(
            "subtitle", fontName=regular, fontSize=12, leading=15, spaceAfter=6,
        ),
        "h1": ParagraphStyle(
            "h1", fontName=bold, fontSize=14, leading=17, spaceBefore=8, spaceAfter=6,
            keepWithNext=1, textColor=colors.HexColor("#1F3A5F"),
        ),
        "h2": ParagraphStyle(
            "h2", fontName=bold, fontSize=11, leading=13.5, spaceBefore=7, spaceAfter=4,
            keepWithNext=1,
        ),
        "h3": ParagraphStyle(
            "h3", fontName=bold, fontSize=9.6, leading=12, spaceBefore=5, spaceAfter=3,
            keepWithNext=1,
        ),
        "item": ParagraphStyle(
            "item", parent=body, alignment=TA_LEFT, leftIndent=14, bulletIndent=2,
            bulletFontName=regular, bulletFontSize=9.2,
            spaceAfter=2.2,
        ),
        "cell": ParagraphStyle(
            "cell", fontName=regular, fontSize=8.2, leading=10, alignment=TA_LEFT,
        ),
        "cellhead": ParagraphStyle(
            "cellhead", fontName=bold, fontSize=8.2, leading=10, alignment=TA_LEFT,
        ),
        "signal": ParagraphStyle(
            "signal", fontName=bold, fontSize=10, leading=12.5, alignment=TA_LEFT, spaceAfter=2,
        ),
        "admon": ParagraphStyle(
            "admon", fontName=regular, fontSize=8.8, leading=11, alignment=TA_LEFT, **hy,
        ),
    }


# --------------------------------------------------------------------------- flowables



class TwoColumns(Flowable):
    """Running text in two balanced columns inside the full-width page frame.

    Unlike switching page templates, this lets the layout change from one to two
    columns (and back) in the middle of a page, as real manuals do. Content that does
    not fit on the page is split: the first part fills both columns to the bottom of
    the frame, the rest continues in a new ``TwoColumns`` on the next page. On the last
    page the columns are balanced (binary search on the column height).
    """

    def __init__(self, content: list[Flowable], gap: float = COL_GAP, fixed=None):
        super().__init__()
        self.content = list(content)
        self.gap = gap
        self._fixed = fixed  # (height, [col1 placements], [col2 placements])
        self._layout = None
        self.spaceBefore = 2
        self.spaceAfter = 4

    # -- layout helpers
    def _fill(self, items: list[Flowable], cw: float, h: float):
        """Fill one column of height ``h``; return (placements, remaining, used)."""
        placed: list[tuple[Flowable, float, float]] = []  # (flowable, y_offset, height)
        y = 0.0
        items = list(items)
        while items:
            f = items[0]
            sb = 0.0 if not placed else f.getSpaceBefore()
            avail = h - y - sb
            if avail <= 1:
                break
            _, fh = f.wrap(cw, avail)
            if fh <= avail + 1e-6:
                placed.append((f, y + sb, fh))
                y += sb + fh + f.getSpaceAfter()
                items.pop(0)
                continue
            parts = [] if (getattr(f, "_nosplit", False) and placed) else f.split(cw, avail)
            if parts:
                first = parts[0]
                _, fh = first.wrap(cw, avail)
                if fh <= avail + 1e-6:
                    placed.append((first, y + sb, fh))
                    items[0:1] = parts[1:]
            break
        # keep headings with what follows them
        while placed and items and getattr(getattr(placed[-1][0], "style", None),
                                           "keepWithNext", 0):
            items.insert(0, placed.pop()[0])
        if not placed and items and h >= self._full_height - 1:
            # nothing fits even in an empty full-height column: place it anyway
            # (overflowing) rather than loop forever pushing it to the next page
            f = items.pop(0)
            _, fh = f.wrap(cw, h)
            placed.append((f, 0.0, min(fh, h)))
        used = max((p[1] + p[2] for p in placed), default=0.0)
        return placed, items, used

    def _two(self, cw: float, h: float):
        c1, rest, u1 = self._fill(self.content, cw, h)
        c2, rest, u2 = self._fill(rest, cw, h)
        return c1, c2, rest, max(u1, u2)

    _full_height = PAGE_H - MARGIN_T - MARGIN_B

    def wrap(self, aW, aH):
        self._aW = aW
        if self._fixed is not None:
            return aW, self._fixed[0]
        cw = (aW - self.gap) / 2
        c1, c2, rest, used = self._two(cw, aH)
        if rest:
            return aW, aH + 1  # does not fit: the frame will call split()
        lo, hi = 0.0, used
        best = (c1, c2, used)
        while hi - lo > 1.5:  # smallest column height that still holds everything
            mid = (lo + hi) / 2
            m1, m2, mrest, mused = self._two(cw, mid)
            if mrest:
                lo = mid
            else:
                hi, best = mid, (m1, m2, mused)
        # Re-run at the chosen height: failed trials may have reset the line breaks of
        # flowables that the best layout placed (Paragraph.split drops blPara).
        m1, m2, mrest, mused = self._two(cw, hi)
        if mrest:  # cannot happen for hi >= a height that worked; be safe anyway
            m1, m2, mrest, mused = self._two(cw, used)
        best = (m1, m2, mused)
        self._layout = best
        return aW, best[2]

    def split(self, aW, aH):
        if self._fixed is not None:
            return []
        cw = (aW - self.gap) / 2
        c1, c2, rest, _ = self._two(cw, aH)
        if not c1:
            return []
        first = TwoColumns([], self.gap, fixed=(aH - 0.01, c1, c2))
        first.spaceBefore = self.spaceBefore
        first.spaceAfter = 0
        out: list[Flowable] = [first]
        if rest:
            nxt = TwoColumns(rest, self.gap)
            nxt.spaceBefore = 0
            out.append(nxt)
        return out

    def draw(self):
        if self._fixed is not None:
            height, c1, c2 = self._fixed
        else:
            c1, c2, height = self._layout
        cw = (self._aW - self.gap) / 2
        for x, col in ((0, c1), (cw + self.gap, c2)):
            for f, yoff, fh in col:
                f.drawOn(self.canv, x, height - yoff - fh)


def build_table(rows: list[list[str]], width: float, st: dict[str, ParagraphStyle]) -> Table:
    ncols = max(len(r) for r in rows)
    rows = [r + [""] * (ncols - len(r)) for r in rows]
    # column widths from content length (longest word keeps a floor, long text gets more)
    weights = []
    for c in range(ncols):
        cells = [r[c] for r in rows]
        longest = max(len(x) for x in cells)
        word = max((len(w) for x in cells for w in x.split()), default=1)
        weights.append(max(min(longest, 48), word * 1.15, 4))
    total = sum(weights)
    widths = [width * w / total for w in weights]
    data = [[Paragraph(inline(x), st["cellhead"]) for x in rows[0]]]
    data += [[Paragraph(inline(x), st["cell"]) for x in r] for r in rows[1:]]
    t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BOX", (0, 0), (-1, -1), 0.9, colors.black),
        ("LINEBELOW", (0, 0), (-1, 0), 0.9, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#D9DEE5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.6),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    t.spaceBefore, t.spaceAfter = 3, 7
    return t


def build_admonition(word: str, text: str, width: float, st: dict[str, ParagraphStyle]) -> Table:
    border, fill = ADMONITION_COLOURS[word]
    cell = [Paragraph(word, st["signal"]), Paragraph(inline(text), st["admon"])]
    t = Table([[cell]], colWidths=[width], hAlign="LEFT")
    t.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 1.4 if word != "NOTE" else 0.7, border),
        ("BACKGROUND", (0, 0), (-1, -1), fill),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 6),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    t.spaceBefore, t.spaceAfter = 3, 7
    return t


def build_list(block: Block, st: dict[str, ParagraphStyle], justify: bool) -> list[Flowable]:
    style = st["item"]
    if justify:
        style = ParagraphStyle("itemj", parent=style, alignment=TA_JUSTIFY)
    out: list[Flowable] = []
    for k, item in enumerate(block.items):
        bullet = f"{block.start + k}." if block.kind == "olist" else "\u2013"
        out.append(Paragraph(inline(item), style, bulletText=bullet))
    out[-1].style = ParagraphStyle("itemlast", parent=style, spaceAfter=6)
    return out


def blocks_to_story(blocks: list[Block], meta: dict[str, str], st) -> list[Flowable]:
    """Turn blocks into a story; two-column runs become TwoColumns flowables."""
    col_w = (BODY_W - COL_GAP) / 2
    story: list[Flowable] = []
    run: list[Flowable] = []  # flowables of the current two-column run
    ncols = 1
    first_h1 = True

    def flush():
        nonlocal run
        if run:
            # A heading directly above a two-column run must not be glued to the whole
            # run (that would push the run to the next page); keep it off the page foot
            # with a conditional page break instead.
            k = len(story)
            while k and getattr(story[k - 1], "_heading", False):
                k -= 1
            if k < len(story):
                for f in story[k:]:
                    f.keepWithNext = 0
                story.insert(k, CondPageBreak(45 * mm))
            story.append(TwoColumns(run))
            run = []

    def emit(items: list[Flowable]):
        (run if ncols == 2 else story).extend(items)

    def lead_in() -> list[Flowable]:
        """Pop the heading (and intro paragraph/safety boxes) that introduce a table or
        procedure, so they stay on the same page as it."""
        j = len(story)
        while j and len(story) - j < 5:
            f = story[j - 1]
            if getattr(f, "_heading", False):
                j -= 1
                while j and getattr(story[j - 1], "_heading", False):
                    j -= 1
                lead = story[j:]
                del story[j:]
                return lead
            if not (getattr(f, "_admon", False) or getattr(f, "_para", False)):
                break
            j -= 1
        return []

    for b in blocks:
        width = col_w if ncols == 2 else BODY_W
        if b.kind == "page":
            flush()
            story.append(PageBreak())
        elif b.kind == "columns":
            flush()
            ncols = 2 if b.level >= 2 else 1
        elif b.kind == "heading":
            style = st[f"h{b.level}"]
            if b.level == 1 and first_h1 and not story and not run:
                style = st["title"]
            first_h1 = False
            if b.level == 1 and ncols == 1:
                story.append(CondPageBreak(60 * mm))
            h = Paragraph(inline(b.text), style)
            h._heading = True
            emit([h])
        elif b.kind == "para":
            p = Paragraph(inline(b.text), st["body"] if ncols == 2 else st["body1"])
            p._para = True
            emit([p])
        elif b.kind in ("olist", "ulist"):
            items = build_list(b, st, justify=(ncols == 2))
            if b.kind == "olist" and len(items) <= 14 and ncols == 1:
                emit([KeepTogether(lead_in() + items)])
            else:
                emit(items)
        elif b.kind == "table":
            t = build_table(b.rows, width, st)
            t._nosplit = len(b.rows) <= 30  # short tables stay in one piece
            if t._nosplit and ncols == 1:
                emit([KeepTogether([*lead_in(), t])])
            else:
                emit([t])
        elif b.kind == "admonition":
            a = build_admonition(b.items[0], b.text, width, st)
            a._admon = True
            emit([a])
    flush()
    return story


# --------------------------------------------------------------------------- page furniture


class NumberedCanvas(rl_canvas.Canvas):
    """Canvas that knows the page count, for "Page N of M" footers."""

    furniture: ClassVar[dict] = {}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("invariant", 1)
        super().__init__(*args, **kwargs)
        self._saved = []

    def showPage(self):
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._draw_furniture(total)
            super().showPage()
        super().save()

    def _draw_furniture(self, total: int):
        f = self.furniture
        page = self._pageNumber
        self.saveState()
        self.setStrokeColor(colors.HexColor("#1F3A5F"))
        self.setLineWidth(0.8)
        y_h = PAGE_H - MARGIN_T + 8 * mm
        self.setFont(f["bold"], 8.5)
        self.drawString(MARGIN_L, y_h + 1.6 * mm, f.get("header", ""))
        self.setFont(f["regular"], 8)
        if f.get("header_right"):
            self.drawRightString(PAGE_W - MARGIN_R, y_h + 1.6 * mm, f["header_right"])
        self.line(MARGIN_L, y_h, PAGE_W - MARGIN_R, y_h)
        y_f = MARGIN_B - 8 * mm
        self.line(MARGIN_L, y_f + 4 * mm, PAGE_W - MARGIN_R, y_f + 4 * mm)
        self.setFont(f["regular"], 8)
        self.drawString(MARGIN_L, y_f, f.get("footer", ""))
        self.drawRightString(PAGE_W - MARGIN_R, y_f, f"Page {page} of {total}")
        self.restoreState()


def render(src: Path, out_dir: Path = OUT_DIR) -> Path:
    raw = src.read_text(encoding="utf-8")
    lines = raw.splitlines()
    meta, body = parse_front_matter(lines)
    regular, bold = pick_fonts("\n".join(body) + "".join(meta.values()))
    st = make_styles(regular, bold)
    blocks = parse_blocks(body)
    story = blocks_to_story(blocks, meta, st)

    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{src.stem}.pdf"
    title = meta.get("title") or src.stem
    doc = BaseDocTemplate(
        str(out), pagesize=A4, leftMargin=MARGIN_L, rightMargin=MARGIN_R,
        topMargin=MARGIN_T, bottomMargin=MARGIN_B, title=title,
        author=meta.get("author", ""), subject=meta.get("subject", title),
        creator="maint sample corpus (data/samples/render_pdfs.py)",
        producer="ReportLab PDF Library", invariant=1,
    )
    frame = Frame(MARGIN_L, MARGIN_B, BODY_W, PAGE_H - MARGIN_T - MARGIN_B, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])

    class _Canvas(NumberedCanvas):
        furniture: ClassVar[dict] = {
            "regular": regular, "bold": bold,
            "header": meta.get("header", title), "footer": meta.get("footer", ""),
            "header_right": meta.get("header_right", ""),
        }

    doc.build(story, canvasmaker=_Canvas)
    return out


def main(argv: list[str]) -> int:
    stems = set(argv)
    sources = sorted(SRC_DIR.glob("*.md"))
    if stems:
        sources = [s for s in sources if s.stem in stems]
    if not sources:
        print("no sources to render", file=sys.stderr)
        return 1
    for src in sources:
        out = render(src)
        print(f"{src.relative_to(HERE)} -> {out.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
