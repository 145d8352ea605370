"""Headings from a manual's own numbering, and what can never be a heading.

Technical manuals number their structure: ``CHAPTER 2``, ``APPENDIX B``, ``Section III``,
work packages (``WP 0025 00``), paragraphs (``2-41. ENGINE ASSEMBLY``, often run into their
text: ``1-4. PAINTING. Refer to…``), lettered subparagraphs (``a. Removal.``), and titled
tables and figures (``Table 2-1. Standard Torque Values``). Those patterns give the level;
font size only promotes unnumbered lines (bold or larger type). A line that is mostly
digits or symbols (``250 [34.5750] 660 [91.2780]``, ``w > I > I``), a table-of-contents
entry (dot leaders) or a parts-list row is never a heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHAPTER, SECTION, PARAGRAPH, SUBPARAGRAPH, CAPTION = 1, 2, 3, 4, 5
UNNUMBERED = 4  # a bold or large line in a manual that numbers its headings

_CHAPTER = re.compile(
    r"^(?:CHAPTER|Chapter|APPENDIX|Appendix)\s+([A-Z]|\d{1,2}|[IVX]{1,5})\b\.?(?:\s+(.*))?$"
)
_SECTION = re.compile(r"^(?:SECTION|Section)\s+([IVX]{1,5}|[1l]{1,3}|\d{1,2})\b\.?(?:\s+(.*))?$")
_PARAGRAPH = re.compile(r"^([A-Z]?\d{1,2}\s?-\s?\d{1,3}[a-z]?)\.\s+(.+)$")
_NUMBERED = re.compile(r"^(\d{1,2})\.\s+(.+)$")
_LETTERED = re.compile(r"^([a-z])\.\s+(.+)$")
_CAPTION = re.compile(
    r"^(?:TABLE|Table)\s+((?:[A-Z]-)?\d{1,4}(?:\s\d{2})?(?:[-.]\d{1,3})*[A-Z]?)"
    r"(?:\s*[.:]\s*|\s+[-–—]\s+|\s+|$)(.*)$"
)
_FIGURE = re.compile(r"^(?:FIGURE|Figure|FIG\.|Fig\.)\s+[A-Z]?-?\d")
_CONTINUED = re.compile(r"\s*[-–—]?\s*\((?:cont|cont'd|contd|continued)\.?\)\s*\.?$", re.I)
_PAGE_REF = re.compile(r"\s(?:\d{1,3}|[A-Z]?-?\d{1,3}-\d{1,3})$")  # a contents entry's page
_SIGNAL = re.compile(r"^(?:DANGER|WARNING|CAUTION|NOTE)S?\b")
_LONG_NUMBER = re.compile(r"\d{6,}|\d{4}-\d{2,3}-\d{3}-\d{4}")
SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the"}
    | {"to", "with", "without", "is", "are", "be", "not"}
)


@dataclass
class Heading:
    level: int
    text: str  # the heading as printed, numbering included
    rest: str = ""  # text run in after the heading on the same line
    strong: bool = True  # a numbering only headings use; weak: "1. Scope." could be a step


def is_heading_text(text: str) -> bool:
    """Words, not numbers and symbols: at least three letters, letters the bulk of it."""
    chars = [c for c in text if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    words = [w for w in re.findall(r"[A-Za-z]{3,}", text)]
    return (
        bool(chars)
        and letters >= 3
        and letters >= 0.55 * len(chars)
        and bool(words)
        and not _LONG_NUMBER.search(text)
        and "=" not in text
        and ". . ." not in text
        and "..." not in text
    )


def is_title(text: str, max_words: int = 12) -> bool:
    """A name, not a sentence: few words, each significant one capitalised."""
    words = text.split()
    if not words or len(words) > max_words or not words[0][:1].isupper():
        return False
    significant = [w for w in words if w.lower().strip("(),.:;") not in SMALL_WORDS]
    capitalised = sum(1 for w in significant if w[:1].isupper() or not w[:1].isalpha())
    return capitalised >= 0.75 * max(1, len(significant))


def _run_in(body: str) -> tuple[str, str] | None:
    """``PAINTING. Refer to TM 43-0139…`` -> (``PAINTING``, ``Refer to…``); None if no title."""
    m = re.match(r"^(.{2,80}?)\s?\.(?:\s+(\S.*))?$", body)
    rest = (m.group(2) or "") if m else ""
    if m and rest[:1].islower():
        m = None  # "Drill a .490 in. diameter hole": an abbreviation, not the title's end
    if m and is_title(m.group(1), 10) and is_heading_text(m.group(1)):
        return m.group(1).strip(), (m.group(2) or "").strip()
    if body.upper() == body and is_heading_text(body) and len(body.split()) <= 12:
        return body.rstrip(". "), ""
    return None


def numbered_heading(text: str) -> Heading | None:
    """The heading a line's numbering makes of it, if any."""
    text = text.strip()
    if not text or ". . ." in text or "..." in text:
        return None
    if _PAGE_REF.search(text) and not bare_number(text):
        return None
    if m := _CHAPTER.match(text):
        title = _CONTINUED.sub("", m.group(2) or "")
        if not title or is_title(title) or title.isupper():
            return Heading(CHAPTER, text if not title else f"{text[: m.start(2)]}{title}".strip())
        return None
    if m := _SECTION.match(text):
        title = _CONTINUED.sub("", m.group(2) or "")
        if not title or ((is_title(title) or title.isupper()) and is_heading_text(title)):
            return Heading(SECTION, f"{text[: m.start(2)]}{title}".strip() if title else text)
        return None
    if m := _CAPTION.match(text):
        title = m.group(2).strip()
        separated = text[m.end(1) : m.start(2)].strip() != "" or not title
        if separated or is_title(title, 20) or title[:1].isupper():
            # "Table 4-1 Installation data" needs bold type to be told from a sentence
            strong = separated or is_title(title, 20)
            return Heading(CAPTION, _CONTINUED.sub("", text).rstrip(" ."), strong=strong)
        return None
    for pattern, level in (
        (_PARAGRAPH, PARAGRAPH),
        (_NUMBERED, PARAGRAPH),
        (_LETTERED, SUBPARAGRAPH),
    ):
        if m := pattern.match(text):
            body = _CONTINUED.sub("", m.group(2)).strip()
            if level != PARAGRAPH or pattern is _NUMBERED:
                split = _run_in(body)
                if split is None and pattern is _NUMBERED and is_title(body, 8):
                    split = (body, "")  # "3. Explanation of Columns"
                if split is None:
                    return None
            else:
                split = _run_in(body) or ((body, "") if is_title(body) or body.isupper() else None)
                if split is None or not is_heading_text(split[0]):
                    return None
            number = re.sub(r"\s", "", m.group(1))
            strong = pattern is _PARAGRAPH or split[0].isupper()
            return Heading(level, f"{number}. {split[0]}", split[1], strong)
    return None


def figure_caption(text: str) -> bool:
    """``Figure 3-2. Securing Shelter on Truck.``: it follows its figure, so it heads nothing."""
    return bool(_FIGURE.match(text.strip()))


def bare_number(text: str) -> bool:
    """``CHAPTER 2``, ``Section III.``: the number without its title."""
    return bool(
        re.fullmatch(
            r"(?:CHAPTER|Chapter|APPENDIX|Appendix|SECTION|Section)\s+\S+\.?", text.strip()
        )
    )


def continued(text: str) -> str:
    """A heading repeated on the next page with ``(cont)``: the heading itself."""
    return _CONTINUED.sub("", text).strip()


def signal(text: str) -> bool:
    return bool(_SIGNAL.match(text.strip()))
