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
from typing import Literal

from maint.identifiers import (
    code_tokens,
    cued_codes,
    identifier_keys,
    norm_part_number,
    spaced_codes,
)
from maint.units import (
    BARE_NUMBER,
    QUALIFIED_HOURS,
    WRITTEN_VALUE,
    UnitFamily,
    affine,
    family,
    find_quantities,
    range_ends,
    unit_of_header,
    unqualified,
    value_norm,
)

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


# -- values --------------------------------------------------------------------------------
def _half_ulp(number: str) -> float:
    """Half a unit in the last written digit: what '70' or '0.012' can stand for."""
    decimals = len(number.split(".")[1]) if "." in number else 0
    return 0.5 * 10.0**-decimals


@dataclass(frozen=True)
class _Amount:
    key: UnitFamily  # the written unit's family and factor
    value: float  # as written
    si: float


def _amount(number: str, unit: str) -> _Amount:
    _, offset, scale = affine(unit)
    value = float(number)
    return _Amount(family(unit), value, offset + scale * value)


# -- claims --------------------------------------------------------------------------------
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
    for cue, end in cued_codes(text, {m.start() for m, _ in quantities}):
        add("part_number", cue.end(), end, norm_part_number(text[cue.end() : end]))
    for m, _ in quantities:
        if not _overlaps(m.start(), m.end(), taken):
            add("value", m.start(), m.end(), value_norm(m.group("value"), m.group("unit")))
    for m in QUALIFIED_HOURS.finditer(text):
        if not _overlaps(m.start(), m.end(), taken):
            add("value", m.start(), m.end(), value_norm(m.group("value"), m.group("unit")))
    for m in spaced_codes(text):
        if not _overlaps(m.start(), m.end(), taken):
            add("part_number", m.start(), m.end(), norm_part_number(m.group(0)))
    for m in code_tokens(text):
        if not _overlaps(m.start(), m.end(), taken):
            add("part_number", m.start(), m.end(), norm_part_number(m.group(0)))
    return sorted(claims, key=lambda c: c.start)


# -- sources -------------------------------------------------------------------------------
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
        self.ids |= identifier_keys(text)
        for _, q in find_quantities(text):
            self._add_quantity(q.value, q.unit)
        for m in QUALIFIED_HOURS.finditer(text):
            self._add_quantity(m.group("value"), m.group("unit"))
        self._add_table_cells(text)

    def _add_quantity(self, value: str, unit: str) -> None:
        for end in range_ends(value):
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
        m = WRITTEN_VALUE.match(claim.text)
        if not m:
            return False
        ends, unit = range_ends(m.group("value")), unqualified(m.group("unit"))
        return bool(ends) and all(self._has(end, unit) for end in ends)

    def _has(self, number: str, unit: str) -> bool:
        claim = _amount(number, unit)
        _, offset, scale = affine(unit)
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
