"""The part-number and value guard: nothing a technician might order or set is shown as fact
unless the retrieved sources say it.

After generation, every part number, NSN-like identifier and value with a unit in an answer
is looked up in the sources (chunk texts and graph facts as text). Spacing, dashes, case and
unit spellings do not matter ('wp2207a' is WP-2207-A, '70 ft-lb' is 70 lbf·ft); anything
else does. Matching rules, strictest first, because a wrong torque or part number that is
shown as verified does more harm than a right one that is marked unconfirmed:

- Identifiers match on the whole normalised identifier: WP-2207 is not WP-2207-A, and
  WP-2270-A is not WP-2207-A. No prefixes, no fuzzy matching.
- A value in the unit the source uses must be the same number (0.3 mm is 0.30 mm; 111 N·m is
  not 110 N·m). A value in another unit (the model's own conversion) must be what the source
  value rounds to at the precision the answer writes: 95 N·m supports 70 lbf·ft, 110 N·m
  does not support 109 or 111 N·m even though the manual's 81 lbf·ft is 109.8 N·m.
- A range is supported when both its ends are; a single value may be one end of a range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from ingestion.extract import norm_part_number
from ingestion.units import BARE_NUMBER, find_quantities, normalise, unit_of_header

ClaimKind = Literal["part_number", "value"]


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    text: str  # as written in the answer
    start: int
    end: int
    norm: str  # "WP2207A" for part numbers, "95 N·m" (canonical unit spelling) for values


@dataclass
class GuardResult:
    verified: bool  # every claim is supported (also when there are none)
    claims: list[Claim]
    unsupported: list[Claim]

    def to_dict(self) -> dict:
        def one(c: Claim) -> dict:
            return {"kind": c.kind, "text": c.text, "norm": c.norm}

        return {
            "verified": self.verified,
            "claims": [one(c) for c in self.claims],
            "unsupported": [one(c) for c in self.unsupported],
        }


# -- units ---------------------------------------------------------------------------------
@lru_cache(maxsize=512)
def _affine(unit: str) -> tuple[str, float, float]:
    """(unit_si, offset, scale) with si = offset + scale * value; read off ``normalise`` so
    the unit table in ingestion.units stays the one place that knows the factors."""
    zero = normalise("0", unit).value_si or 0.0
    thousand = normalise("1000", unit)
    return thousand.unit_si, zero, ((thousand.value_si or 0.0) - zero) / 1000


def _unit_key(unit: str) -> tuple[str, float, float]:
    si, offset, scale = _affine(unit)
    return si, round(offset, 3), float(f"{scale:.6g}")


# The spelling a family of written units is shown in; units whose factor is 1 show as their
# SI-style unit ('Nm' -> 'N·m'), the rest as listed here ('ft-lb' -> 'lbf·ft').
_PREFERRED = (
    "lbf·ft",
    "lbf·in",
    "kN·m",
    "kgf·m",
    "kgf·cm",
    "in",
    "ft",
    "µm",
    "cm",
    "bar",
    "psi",
    "MPa",
    "mbar",
    "Pa",
    "kgf/cm²",
    "m³/min",
    "cfm",
    "gpm",
    "US gal",
    "imp gal",
    "qt",
    "mL",
    "°F",
    "hp",
    "lb",
    "g",
    "kV",
    "mV",
    "mA",
    "kΩ",
    "MΩ",
    "min",
    "seconds",
)


@lru_cache(maxsize=1)
def _preferred() -> dict[tuple[str, float, float], str]:
    return {_unit_key(u): u for u in reversed(_PREFERRED)}


def canonical_unit(unit: str) -> str:
    """One spelling per unit: 'Nm', 'N m', 'N-m' -> 'N·m'; 'ft-lb', 'lb-ft' -> 'lbf·ft'."""
    key = _unit_key(unit)
    if key in _preferred():
        return _preferred()[key]
    si, offset, scale = key
    return si if offset == 0 and scale == 1 else unit


_NUM = r"-?[\d,]+(?:\.\d+)?"
_RANGE = re.compile(rf"^(?P<a>{_NUM})(?:\s?(?:–|-|to)\s?(?P<b>{_NUM}))?$")
# A value claim's text split again into number(s) and unit ('0.016 in' has lost the ')' that
# VALUE_WITH_UNIT wants after 'in', so the claim is not searched with it a second time).
_WRITTEN_VALUE = re.compile(rf"^(?P<value>{_NUM}(?:\s?(?:–|-|to)\s?{_NUM})?)\s?(?P<unit>\S.*)$")
# '2,000 operating hours': an interval as manuals write it, read as '2,000 h' (the unit table
# has no room for a qualifier between number and unit).
_QUALIFIED = re.compile(
    r"(?<![\w.,/-])(?P<value>\d{1,3}(?:,\d{3})+|\d+)\s(?:operating|running|service|engine)"
    r"\s(?P<unit>hours?|h)\b"
)


def _unqualified(unit: str) -> str:
    """'operating hours' -> 'hours'."""
    return re.sub(r"^(?:operating|running|service|engine)\s+", "", unit)


def _ends(value: str) -> list[str]:
    """'3.5–5.0' -> ['3.5', '5.0']; '2,000' -> ['2000']."""
    m = _RANGE.match(value.strip().replace("−", "-"))
    if not m:
        return []
    return [e.replace(",", "") for e in (m.group("a"), m.group("b")) if e is not None]


def value_norm(value: str, unit: str) -> str:
    """'3.5 to 5.0', 'bar' -> '3.5–5.0 bar'; '95', 'Nm' -> '95 N·m'."""
    return f"{'–'.join(_ends(value)) or value} {canonical_unit(unit)}"


def _half_ulp(number: str) -> float:
    """Half a unit in the last written digit: what '70' or '0.012' can stand for."""
    decimals = len(number.split(".")[1]) if "." in number else 0
    return 0.5 * 10.0**-decimals


@dataclass(frozen=True)
class _Amount:
    key: tuple[str, float, float]  # the written unit's family and factor
    value: float  # as written
    si: float


def _amount(number: str, unit: str) -> _Amount:
    _, offset, scale = _affine(unit)
    value = float(number)
    return _Amount(_unit_key(unit), value, offset + scale * value)


# -- identifiers ---------------------------------------------------------------------------
_HYPHENS = "\u2010\u2011\u2012\u2212"  # hyphen, non-breaking hyphen, figure dash, minus
_SEP = rf"[-/.{_HYPHENS}]"
_TOKEN = re.compile(rf"(?<![\w/.\-{_HYPHENS}])[A-Za-z0-9]+(?:{_SEP}[A-Za-z0-9]+)*")
# A code typeset with en dashes ('WP–2207–A'): only where it starts with letters, so that
# number ranges ('10–12', '3.5–5.0') stay numbers.
_EN_TOKEN = re.compile(
    rf"(?<![\w/.\-\u2013{_HYPHENS}])[A-Za-z]+[A-Za-z0-9]*(?:[-/.\u2013{_HYPHENS}][A-Za-z0-9]+)+"
)
# After a cue ('NSN', 'P/N') a code may be typeset with en dashes ('2910–12–345–6613').
_CUED_TOKEN = re.compile(rf"[A-Za-z0-9]+(?:[-/.\u2013{_HYPHENS}][A-Za-z0-9]+)*")
_CUE = re.compile(
    r"(?:\bP/N|\bPN\b|\bNSN\b|\bS/N|\bkit\b"
    r"|\b(?:part|stock|order|catalog(?:ue)?|serial)\s*(?:no\.?|number|#))\s*[:#]?\s*",
    re.I,
)
# 'FS 1280.2', 'GS 7721.04', 'BAT 12-180': a short uppercase prefix, a space, a number with
# a dot or dash ('ISO 5199' and 'VG 68' have none, so standards and grades stay words).
_SPACED = re.compile(
    r"(?<![\w/.\-])(?P<prefix>[A-Z]{2,4}) (?P<number>\d{2,}(?:[./-]\d+)+)(?![\w\-]|[./]\d)"
)
_NOT_PREFIX = {
    *("NSN", "PN", "NO", "SN", "REF", "ITEM", "STEP", "KIT", "SEE", "FIG", "PAGE", "TAB"),
    *("AND", "OR", "TO", "FOR", "AT", "IN", "ON", "BY", "OF", "THE", "UP", "FROM", "WITH"),
}
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$", re.I)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# After a cue, a short first piece may go on with spaces: 'FS 1280.2', '2906 0564 00',
# 'WP 2207 A' (a last letter piece only after a number piece).
_CONTINUE = re.compile(r" \d[A-Za-z0-9]*(?:[-/.][A-Za-z0-9]+)*")
_LAST_LETTERS = re.compile(r" [A-Z]{1,2}(?![\w\-/])")


def _is_identifier(token: str, cued: bool = False) -> bool:
    """Does an unspaced token read as a part number, NSN, model or serial (not a number,
    a value, an ordinal, a date or a word)?"""
    n = norm_part_number(token)
    if len(n) < 4 or not any(c.isdigit() for c in n):
        return False
    if cued:
        return True
    if _ORDINAL.match(token):
        return False
    letters = [c for c in token if c.isalpha()]
    if not letters:  # '3-8821-04', '80-1122-00', NSN '4320-01-123-4567'; not '3.5', '1/2'
        groups = re.split(rf"[-{_HYPHENS}]", token)
        return len(groups) >= 3 and all(g.isdigit() for g in groups) and not _ISO_DATE.match(token)
    if all(c.isupper() for c in letters):  # 'WP-2207-A', 'P-200', 'HP24-1500', 'IP55'
        return True
    # Lower or mixed case ('wp-2207-a') only in a code's shape, so that '2-stage',
    # '4-stroke' and 'covid-19' stay words.
    return (
        token[0].isalpha()
        and re.search(r"\d{3}", token) is not None
        and all(len(run) <= 4 for run in re.findall(r"[A-Za-z]+", token))
    )


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in taken)


def find_claims(text: str) -> list[Claim]:
    """Every value with a unit and every identifier in ``text``, in reading order."""
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []

    def add(kind: ClaimKind, start: int, end: int, norm: str) -> None:
        claims.append(Claim(kind, text[start:end], start, end, norm))
        taken.append((start, end))

    # A cue says what follows is a code, so cued codes come first ('P/N WP 2207 A' is no
    # 2207 amperes); then values; then codes known by their shape alone.
    quantities = find_quantities(text)
    value_starts = {m.start() for m, _ in quantities}
    for cue in _CUE.finditer(text):
        m = _CUED_TOKEN.match(text, cue.end())
        if not m:
            continue
        end = m.end()
        if re.fullmatch(r"[A-Za-z0-9]{1,4}", m.group(0)):
            # A letter prefix ('WP', 'FS') needs the number after it even where that reads as
            # a value ('WP 2207 A'); further pieces stop where a value starts.
            grew = False
            while (more := _CONTINUE.match(text, end)) and (
                end + 1 not in value_starts or (not grew and m.group(0).isalpha())
            ):
                end, grew = more.end(), True
            if grew and (last := _LAST_LETTERS.match(text, end)):
                end = last.end()
        if _is_identifier(text[m.start() : end], cued=True):
            add("part_number", m.start(), end, norm_part_number(text[m.start() : end]))
    for m, _ in quantities:
        if not _overlaps(m.start(), m.end(), taken):
            add("value", m.start(), m.end(), value_norm(m.group("value"), m.group("unit")))
    for m in _QUALIFIED.finditer(text):
        if not _overlaps(m.start(), m.end(), taken):
            add("value", m.start(), m.end(), value_norm(m.group("value"), m.group("unit")))
    for m in _SPACED.finditer(text):
        digits = sum(c.isdigit() for c in m.group("number"))
        wanted = m.group("prefix") not in _NOT_PREFIX and digits >= 4
        if wanted and not _overlaps(m.start(), m.end(), taken):
            add("part_number", m.start(), m.end(), norm_part_number(m.group(0)))
    for rx in (_EN_TOKEN, _TOKEN):
        for m in rx.finditer(text):
            if _is_identifier(m.group(0)) and not _overlaps(m.start(), m.end(), taken):
                add("part_number", m.start(), m.end(), norm_part_number(m.group(0)))
    return sorted(claims, key=lambda c: c.start)


# -- sources -------------------------------------------------------------------------------
_RUN = re.compile(rf"[A-Za-z0-9]+(?:{_SEP}[A-Za-z0-9]+)*")
_MAX_JOIN = 4  # 'WP 2207 A', '2906 0564 00', '4320 01 523 8841'
_TABLE_ROW = " | "  # how ingestion.chunker renders table rows


class SourceIndex:
    """The normalised identifiers and quantities of many texts: built once (per answer, or
    once for a whole corpus) and asked about each claim."""

    def __init__(self, texts: Iterable[str] = ()):
        self.ids: set[str] = set()
        self.quantities: dict[str, list[_Amount]] = {}
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        self._add_ids(text)
        for _, q in find_quantities(text):
            self._add_quantity(q.value, q.unit)
        for m in _QUALIFIED.finditer(text):
            self._add_quantity(m.group("value"), m.group("unit"))
        self._add_table_cells(text)

    def _add_ids(self, text: str) -> None:
        # Identifiers are added whole and, where a source spells one with spaces, as runs of
        # up to four space-separated pieces; never cut, so WP-2207-A never yields WP-2207.
        for m in _EN_TOKEN.finditer(text):
            self._add_id(norm_part_number(m.group(0)))
        runs = list(_RUN.finditer(text))
        for i, m in enumerate(runs):
            joined = norm_part_number(m.group(0))
            self._add_id(joined)
            for nxt_i in range(i + 1, min(i + _MAX_JOIN, len(runs))):
                gap = text[runs[nxt_i - 1].end() : runs[nxt_i].start()]
                if gap not in (" ", "\u00a0", "\u202f"):
                    break
                joined += norm_part_number(runs[nxt_i].group(0))
                self._add_id(joined)

    def _add_id(self, norm: str) -> None:
        if len(norm) >= 4 and any(c.isdigit() for c in norm):
            self.ids.add(norm)

    def _add_quantity(self, value: str, unit: str) -> None:
        for end in _ends(value):
            amount = _amount(end, unit)
            self.quantities.setdefault(amount.key[0], []).append(amount)

    def _add_table_cells(self, text: str) -> None:
        """Bare numbers in rendered tables take their unit from a Unit column or the header
        ('Torque, N·m'), as the extractor reads them."""
        header: list[str] | None = None
        for line in text.split("\n"):
            if _TABLE_ROW not in line:
                header = None
                continue
            cells = [c.strip() for c in line.split("|")]
            if header is None:
                header = cells
                continue
            unit_col = next(
                (i for i, h in enumerate(header) if re.fullmatch(r"units?", h, re.I)), None
            )
            for i, cell in enumerate(cells):
                m = BARE_NUMBER.match(cell)
                if not m or i == unit_col:
                    continue
                unit = cells[unit_col] if unit_col is not None and unit_col < len(cells) else ""
                unit = unit or (unit_of_header(header[i]) if i < len(header) else None) or ""
                for _, q in find_quantities(f"{m.group('value')} {unit}"):
                    self._add_quantity(q.value, q.unit)

    def supports(self, claim: Claim) -> bool:
        if claim.kind == "part_number":
            return claim.norm in self.ids
        m = _WRITTEN_VALUE.match(claim.text)
        if not m:
            return False
        ends, unit = _ends(m.group("value")), _unqualified(m.group("unit"))
        return bool(ends) and all(self._has(end, unit) for end in ends)

    def _has(self, number: str, unit: str) -> bool:
        claim = _amount(number, unit)
        _, offset, scale = _affine(unit)
        tolerance = _half_ulp(number) + 0.001 * abs(claim.value)
        for source in self.quantities.get(claim.key[0], ()):
            if source.key == claim.key:
                if math.isclose(source.value, claim.value, rel_tol=1e-9, abs_tol=1e-12):
                    return True
            elif scale and abs((source.si - offset) / scale - claim.value) <= tolerance:
                return True
        return False


def check(answer: str, sources: Iterable[str]) -> GuardResult:
    """Which claims of ``answer`` the sources support. ``sources`` are everything the model
    was shown: chunk texts, graph facts rendered as text, and the document titles and section
    headings of the context (most chunks never name their model, so a 'P-200' the model read
    in a title is unsupported unless the title is among the sources)."""
    return check_against(answer, SourceIndex(sources))


def check_against(answer: str, index: SourceIndex) -> GuardResult:
    claims = find_claims(answer)
    unsupported = [c for c in claims if not index.supports(c)]
    return GuardResult(verified=not unsupported, claims=claims, unsupported=unsupported)


def mark_unsupported(answer: str, result: GuardResult) -> str:
    """'use WP-9999-Z' -> 'use [unverified: WP-9999-Z]': the technician sees at the item itself
    that the manual does not confirm it."""
    out = answer
    for c in sorted(result.unsupported, key=lambda c: c.start, reverse=True):
        if out[c.start : c.end] == c.text:
            out = f"{out[: c.start]}[unverified: {c.text}]{out[c.end :]}"
    return out


_MARKER = re.compile(r"\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n")


def check_citations(answer: str, result: GuardResult, cited: dict[int, SourceIndex]) -> GuardResult:
    """A claim followed in its sentence by ``[n]`` markers must be in one of those sources.

    A value that exists somewhere in the context but not in the excerpt the model cites for
    it is how a small model answers the wrong question with a real number (the '9.3 bar' of
    one machine given as another's spec); presence alone would pass it."""
    unsupported = list(result.unsupported)
    for claim in result.claims:
        if claim in unsupported:
            continue
        end = _SENTENCE_END.search(answer, claim.end)
        sentence_tail = answer[claim.end : end.start() if end else len(answer)]
        numbers = [int(n) for n in _MARKER.findall(sentence_tail)]
        known = [n for n in numbers if n in cited]
        if known and not any(cited[n].supports(claim) for n in known):
            unsupported.append(claim)
    return GuardResult(verified=not unsupported, claims=result.claims, unsupported=unsupported)
