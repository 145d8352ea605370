"""The title page: what the publication is, its number, and the equipment it covers.

PDF metadata of real manuals is rarely a title (``018445``, ``koeb212.tmp``,
``01TB Cover.pmd``). The title page says it plainly, in a fixed order: the publication
number, a label (``TECHNICAL MANUAL``), the kind of manual (``OPERATOR'S, UNIT, AND DIRECT
SUPPORT MAINTENANCE MANUAL``), often ``FOR``, the equipment's name, then its models and
stock numbers, then boilerplate (distribution statement, headquarters, date). The title
is ``<kind>: <equipment>``; each model or stock number becomes an equipment entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingestion.parsers.furniture import is_publication_number
from ingestion.parsers.pdf_layout import Row
from ingestion.parsers.sections import SMALL_WORDS
from maint.domain import TitleEquipment

_LABELS = re.compile(
    r"^(?:TECHNICAL (?:MANUAL|ORDER|BULLETIN)|MODIFICATION WORK ORDER|SUPPLY BULLETIN|"
    r"LUBRICATION ORDER|FIELD MANUAL|SUPPLY CATALOG)S?$"
)
_KIND_WORDS = frozenset(
    {"MANUAL", "MANUALS", "MAINTENANCE", "OPERATOR", "OPERATOR'S", "OPERATORS", "SUPPORT"}
    | {"LIST", "LISTS", "PARTS", "TOOLS", "INCLUDING", "DEPOT", "ORGANIZATIONAL", "INSTRUCTIONS"}
    | {"INSTALLATION", "OVERHAUL", "DIRECT", "GENERAL", "FIELD", "UNIT", "SUSTAINMENT", "LEVEL"}
    | {"AVIATION", "INTERMEDIATE", "REPAIR", "SPECIAL", "RPSTL"}
)
_BOILERPLATE = re.compile(
    r"DISTRIBUTION|APPROVED FOR|HEADQUARTERS|DEPARTMENTS? OF THE|WASHINGTON|SUPERSEDE|"
    r"REPORTING OF ERRORS|BY ORDER|^NO\.|^CHANGE\b|EFFECTIVE DATE|^(?:ROUTINE|URGENT|"
    r"EMERGENCY|NORMAL)$|\b(?:19|20)\d\d\b",
    re.IGNORECASE,
)
_STOCK_NUMBER = re.compile(
    r"\(?\b(?:NSN|FSN|NIIN)?:?\s*(\d{4}-\d{2}-\d{3}-\d{4}|\d{4}-\d{3}-\d{4})\b\)?,?"
)
_MODEL = re.compile(
    r"\b(?=[A-Z0-9/-]*[A-Z])(?=[A-Z0-9/-]*\d)[A-Z]{0,4}-?\d[A-Z0-9]*(?:[-/][A-Z0-9]+)*\b"
)
_KEEP_UPPER = re.compile(r"^\(?[^aeiouyAEIOUY]*\)?[,.:;]?$|\d|^\(?[IVX]{1,4}\)?[,.]?$")


@dataclass
class FrontMatter:
    title: str | None = None
    publication: str | None = None
    equipment: list[TitleEquipment] = field(default_factory=list)


def _human(text: str) -> str:
    """Capitals to title case; acronyms, model numbers and roman numerals kept."""
    if text != text.upper():
        return text
    words = []
    for k, w in enumerate(text.split()):
        if _KEEP_UPPER.search(w):
            words.append(w)
        elif k and w.lower() in SMALL_WORDS:
            words.append(w.lower())
        else:
            lead = len(w) - len(w.lstrip("(\"'“"))
            words.append(w[:lead] + w[lead : lead + 1] + w[lead + 1 :].lower())
    return " ".join(words)


def _models(text: str) -> list[str]:
    text = _STOCK_NUMBER.sub(" ", text)
    return [m for m in _MODEL.findall(text) if len(m) >= 4]


def _equipment(rows: list[str], name: str) -> list[TitleEquipment]:
    """Models and stock numbers, each stock number with the models printed with or above it."""
    found: list[TitleEquipment] = []
    pending: list[tuple[str, str]] = []  # (model, line) waiting for their stock number
    for text in rows:
        numbers = _STOCK_NUMBER.findall(text)
        line = _STOCK_NUMBER.sub(" ", text).strip(" ,")
        models = [(m, line) for m in _models(text)]
        if not numbers:
            pending.extend(models)
            continue
        for nsn in numbers:
            owners = models or pending
            if owners:
                found.extend(TitleEquipment(name=ln, model=m, nsn=nsn) for m, ln in owners)
            else:
                found.append(TitleEquipment(name=f"{name} {line}".strip(), nsn=nsn))
        pending = []
    found.extend(TitleEquipment(name=ln, model=m) for m, ln in pending)
    return found


def _main(row: Row) -> str:
    """The row's text up to a wide gap (title pages put indexes or dates off to the side)."""
    kept = [row.segments[0]]
    for s in row.segments[1:]:
        if s.x0 - kept[-1].x1 > 4 * row.height:
            break
        kept.append(s)
    return " ".join(s.text for s in kept)


def _title_page(pages: list[list[Row]]) -> list[Row]:
    for rows in pages:
        if len(rows) >= 3:
            return rows
    return pages[0] if pages else []


def read_title_page(pages: list[list[Row]]) -> FrontMatter:
    """Title, publication number and equipment from the first pages' rows."""
    rows = _title_page(pages)
    front = FrontMatter()
    front.publication = next(
        (t.lstrip("*‘'`").strip() for page in pages for row in page
         for t in [_main(row), *(s.text for s in row.segments)] if is_publication_number(t)),
        None,
    )  # fmt: skip
    label, kind, name, rest = None, [], [], []
    stage = "kind"
    for row in rows:
        text = _main(row)
        upper = text.upper() == text
        if is_publication_number(text):
            continue
        if not _STOCK_NUMBER.search(text) and sum(c.isalpha() for c in text) < 2:
            continue
        if _BOILERPLATE.search(text) and not _STOCK_NUMBER.search(text):
            if name or kind:
                break
            continue
        if _LABELS.match(text):
            label = label or text
            continue
        if stage == "kind":
            if text.strip().upper() == "FOR":
                stage = "name"
            elif upper and set(re.findall(r"[A-Z']+", text)) & _KIND_WORDS and not _models(text):
                kind.append(text)
            elif upper and (kind or label):
                stage = "name"
        if stage == "name":
            if text.strip().upper() == "FOR":
                continue
            if _STOCK_NUMBER.search(text) or re.search(r"\bMODELS?\b", text):
                stage = "items"
            elif upper:
                name.append(text)
                continue
        if stage == "items":
            rest.append(text)
    kind_text = " ".join(kind) or label or ""
    name_text = " ".join(name)
    parts = [_human(p) for p in (kind_text, name_text) if p]
    if parts:
        front.title = ": ".join(parts)[:240]
    front.equipment = _equipment(name + rest, name_text)
    return front
