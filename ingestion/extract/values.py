"""Values with units and what they apply to, from steps, prose and spec tables:
'Tighten screws to 16 lb-ft (22 N•m)', 'Spring length must be 7/8 inch', a torque table's
row 'Impeller nut | 95 | N·m'.

A value printed with its conversion ('110 lb-ft (149 N•m)') is one printed value and two
Spec nodes, one per unit, each with its SI value, so a search by either unit finds it.
"""

from __future__ import annotations

import re

from ingestion.extract.builder import FactBuilder, digest
from ingestion.extract.records import Value
from ingestion.extract.tables import column
from maint.domain import Block, Chunk, Node
from maint.units import (
    BARE_NUMBER,
    find_printed_values,
    find_quantities,
    normalise,
    unit_of_header,
)

# A size that names a tool or fastener, not a measurement: '9/16 inch socket', '3/8 in. drive'.
_TOOL_SIZE = re.compile(r"^\s*(?:drive|socket|wrench|open[- ]end|box[- ]end|allen|hex\b)", re.I)
# '25A', '0-25A', '100A LOAD': a number glued to A is a switch or fuse label.
_GLUED_AMPS = re.compile(r"^[\d-]+A$")
# '12469512 L.H. hose': a part number and an abbreviation, not litres.
_ABBREVIATION = re.compile(r"^\.[A-Z]")
_CODE_NUMBER = re.compile(r"^\d{6,}")
_LEAD_VERBS = re.compile(
    r"^(?:and\s+)?(?:then\s+)?(?:tighten|torque|set|adjust|check|fill|heat|measure|refill|"
    r"top up|apply|turn|ensure|make sure)\b\s*(?:that\s+)?(?:the\s+)?",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")


def find_values(text: str) -> list[tuple[int, int, str, tuple]]:
    """(start, end, printed text, quantities) of every value with a unit in ``text``: the
    prose forms of maint.units first, then the unit table's spellings they do not cover."""
    found = []
    for v in find_printed_values(text):
        if not _TOOL_SIZE.match(text[v.end :]):
            found.append((v.start, v.end, v.text, v.quantities))
    taken = [(s, e) for s, e, _, _ in found]
    for m, q in find_quantities(text):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        if (
            _GLUED_AMPS.match(m.group(0))
            or _TOOL_SIZE.match(text[m.end() :])
            or _ABBREVIATION.match(text[m.end() :])
            or _CODE_NUMBER.match(m.group(0))
        ):
            continue
        found.append((m.start(), m.end(), m.group(0), (q,)))
    return sorted(found, key=lambda f: f[0])


def parameter_from_text(sentence: str, value: str) -> str:
    """'Tighten the impeller nut to 95 N·m' -> 'impeller nut torque'."""
    before = sentence.split(value, 1)[0]
    clause = re.split(r"[.;:,]\s", before)[-1].strip()
    verb = re.match(r"^(\w+)", clause)
    clause = re.sub(
        r"\s+(?:to|at|of|is|be|must be|by|with|up to|within|for|reads?|approximately|about|"
        r"least|at least)\s*$",
        "",
        clause,
    )
    clause = re.sub(r"\s+(?:must|should|will)(?: be)?$", "", clause)
    subject = _LEAD_VERBS.sub("", clause).strip() or clause
    subject = " ".join(subject.split()[-8:])
    if verb and verb.group(1).lower() in ("tighten", "torque"):
        return f"{subject} torque"
    return subject or sentence[:60]


def _text_values(chunk: Chunk, text: str, page: int | None) -> list[Value]:
    out = []
    for sentence in _SENTENCE.split(text):
        for _, _, printed, quantities in find_values(sentence):
            out.append(
                Value(
                    page=page,
                    chunk_id=chunk.id,
                    text=printed,
                    applies_to=parameter_from_text(sentence, printed),
                    context=sentence.strip()[:300],
                    quantities=quantities,
                )
            )
    return out


_BARE_NUMBERS = re.compile(r"^\s*[-−]?\d+(?:\.\d+)?(?:\s+\d+(?:\.\d+)?)*\s*$")
_HEADER_UNIT = re.compile(r"\((?P<unit>[A-Za-z][A-Za-z. -]*)\)\s*$")


def header_unit(header: str) -> str | None:
    """The unit a column's bare numbers carry: 'Torque, N·m', 'DIMENSIONS (INCHES)'."""
    if unit := unit_of_header(header):
        return unit
    m = _HEADER_UNIT.search(header.strip())
    if m and find_printed_values(f"1 {m.group('unit').lower()}"):
        return m.group("unit").lower()
    return None


def _table_values(chunk: Chunk, blk: Block) -> list[Value]:
    header = blk.rows[0]
    c_unit = column(header, r"^units?$")
    c_cond = column(header, r"condition|remark|note")
    out = []
    # A table of 'name | value' rows has no header: its first row is data ('Height | 70 in').
    first = 0 if any(find_values(h) for h in header[1:]) else 1
    for row in blk.rows[first:]:
        if not row or not row[0].strip():
            label = next((c.strip() for c in row if c.strip()), "")
        else:
            label = row[0].strip()
        condition = row[c_cond].strip() if c_cond is not None and c_cond < len(row) else None
        context = " | ".join(c for c in row if c.strip())
        for i, text in enumerate(row):
            if i in (c_unit, c_cond) or not text.strip():
                continue
            found = [(p, q) for _, _, p, q in find_values(text)]
            if not found and i > 0 and _BARE_NUMBERS.match(text):
                unit = (
                    row[c_unit].strip() if c_unit is not None and c_unit < len(row) else None
                ) or header_unit(header[i] if i < len(header) else "")
                if unit and (m := BARE_NUMBER.match(text)):
                    found = [(text.strip(), (normalise(m.group("value"), unit),))]
                elif unit:  # 'HEIGHT | 62.5 63.5' under 'DIMENSIONS (INCHES)'
                    found = [(n, (normalise(n, unit),)) for n in text.split()]
            for printed, quantities in found:
                out.append(
                    Value(
                        page=blk.page_start,
                        chunk_id=chunk.id,
                        text=printed,
                        applies_to=label,
                        context=context[:300],
                        quantities=quantities,
                        condition=condition or None,
                    )
                )
    return out


def description_values(chunk: Chunk, blk: Block) -> list[Value]:
    """Values in a parts list's description column ('Mat, Fiberglass, … (2 ft x 3 ft)');
    its quantity column counts parts, not a measure."""
    c_desc = column(blk.rows[0], r"description|nomenclature") if blk.rows else None
    if c_desc is None:
        return []
    out = []
    for row in blk.rows[1:]:
        if c_desc < len(row):
            for v in _text_values(chunk, row[c_desc], blk.page_start):
                v.applies_to = row[c_desc].split(",")[0].strip()
                out.append(v)
    return out


def read_values(chunk: Chunk, blk: Block) -> list[Value]:
    """Values of one block; parts lists hold quantities, not values, and are skipped."""
    if blk.kind == "table":
        return _table_values(chunk, blk) if blk.rows else []
    if blk.kind == "procedure" and blk.line_pages:
        out = []
        for line, page in zip(blk.text.split("\n"), blk.line_pages, strict=False):
            out += _text_values(chunk, re.sub(r"^\d+\.\s+", "", line), page)
        return out
    return _text_values(chunk, blk.text, blk.page_start)


def write_values(
    b: FactBuilder, equipment: list[Node], components: list[Node], values: list[Value]
) -> None:
    for v in values:
        for q in v.quantities:
            key = f"{b.doc_id}/spec/{digest(f'{v.applies_to}|{q.value}|{q.unit}|{v.condition}')}"
            spec = b.node(
                "Spec",
                key,
                v.chunk_id,
                parameter=v.applies_to,
                value=q.value,
                unit=q.unit,
                value_si=q.value_si,
                unit_si=q.unit_si,
                condition=v.condition,
                text=v.context[:500],
                printed=v.text,
                page=v.page,
            )
            name = v.applies_to.lower()
            target = next((c for c in components if c.props["name"] in name), None)
            for eq in equipment:
                b.edge("HAS_SPEC", eq, spec)
            b.edge("APPLIES_TO", spec, target or equipment[0])
